"""A merchant's public address: the ``<slug>`` of ``/join/<slug>/``, printed in every
QR code and on every poster.

Made from the business name in any script with python-slugify (Unidecode-style
transliteration: "Кофейня Ромашка" → ``kofeinia-romashka``), kept unique among
merchants and the old addresses they still answer to, and open to the owner's
choice within the rules below. A changed slug is kept as a ``MerchantSlugAlias``
so that printed QR codes keep working (``/join/<old>/`` redirects permanently).
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from slugify import slugify

from .models import Merchant, MerchantSlugAlias

MIN_LENGTH = 3
MAX_LENGTH = 48
PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Words that read as the platform's own pages, not a business.
RESERVED = frozenset(
    {
        "admin", "api", "app", "card", "cards", "dashboard", "demo", "help", "join", "login", "logout", "media",
        "merchant", "merchants", "new", "pass", "passes", "platform", "qr", "settings", "signup", "static",
        "support", "test", "wallet", "www",
    }
)  # fmt: skip


def from_name(name: str) -> str:
    """The readable slug for ``name`` (may be empty for a name without letters or digits)."""
    return slugify(name, max_length=MAX_LENGTH, word_boundary=True, lowercase=True)


def is_taken(slug: str, *, merchant: Merchant | None = None) -> bool:
    """Used by another merchant, now or as an old address it still answers to."""
    others = Merchant.objects.all()
    aliases = MerchantSlugAlias.objects.all()
    if merchant is not None and merchant.pk is not None:
        others = others.exclude(pk=merchant.pk)
        aliases = aliases.exclude(merchant=merchant)
    return others.filter(slug=slug).exists() or aliases.filter(slug=slug).exists()


def unique_from_name(name: str) -> str:
    """A free slug for a new merchant: the name's, then ``-2``, ``-3``… when taken."""
    base = from_name(name)
    if len(base) < MIN_LENGTH or base in RESERVED:
        base = f"{base}-shop".strip("-") if base else "shop"
    base = base[: MAX_LENGTH - 4].strip("-")
    slug, number = base, 1
    while is_taken(slug):
        number += 1
        slug = f"{base}-{number}"
    return slug


def validate(slug: str, *, merchant: Merchant | None = None) -> str:
    """The owner's choice, or a ValidationError that says what is wrong with it."""
    slug = slug.strip().lower()
    if not MIN_LENGTH <= len(slug) <= MAX_LENGTH:
        raise ValidationError(
            _("The address must be %(min)d to %(max)d characters long."),
            params={"min": MIN_LENGTH, "max": MAX_LENGTH},
            code="length",
        )
    if not PATTERN.match(slug):
        raise ValidationError(
            _(
                "Use only Latin lowercase letters, digits and single hyphens between them, "
                "for example kofeinia-romashka."
            ),
            code="invalid",
        )
    if slug in RESERVED:
        raise ValidationError(
            _("“%(slug)s” is reserved. Choose another address."), params={"slug": slug}, code="reserved"
        )
    if is_taken(slug, merchant=merchant):
        raise ValidationError(
            _("The address “%(slug)s” is taken by another business. Try adding your city or street."),
            params={"slug": slug},
            code="taken",
        )
    return slug
