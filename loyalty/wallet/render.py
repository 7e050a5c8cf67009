"""A card as the wallets show it: the Apple ``PassContent`` and images, the
Google loyalty class and object. Reads only; the current published design (or
the defaults, for a merchant who never designed a card) and the card's live
numbers.

Published designs never change, so their images are cached per process by
design id; the defaults are cached by what they are drawn from; the prepared
set a pass is built from (``pass_images``) by all of that together.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from loyalty.display import free_visit_text
from loyalty.models import Card, CardDesign, Mechanic, Program, WalletPass
from loyalty.wallet import designs, google, images
from loyalty.wallet.apple import PassContent, PassImages, PassLocation

logger = logging.getLogger(__name__)

PASSKIT_PATH = "/wallet/passkit/"
DEFAULT_DESIGN = CardDesign()  # unsaved: the model's defaults
# Prepared image sets kept per process: one per design version, default icon,
# and stamp count (a stamp card has goal + 1 strips). About 60 KB each, shared
# with the per-image caches below.
PASS_IMAGE_SETS = 512


class WebServiceNotSecure(RuntimeError):
    """PUBLIC_BASE_URL is not HTTPS and DEBUG is off: devices would refuse the pass's web service."""


@dataclass(frozen=True)
class CardView:
    """Everything rendering needs, loaded once."""

    card: Card
    wallet_pass: WalletPass
    design: CardDesign  # designs.default_design (unsaved) when none is published
    program: Program | None

    @property
    def design_version(self) -> int:
        return self.design.version or 0

    @property
    def is_stamps(self) -> bool:
        return self.program is not None and self.program.mechanic == Mechanic.STAMPS

    @property
    def shows_points(self) -> bool:
        return self.program is None or self.program.mechanic in Mechanic.with_points()

    @property
    def stamps_goal(self) -> int:
        goal = self.program.stamps_per_reward if self.program is not None else 0
        return max(1, min(int(goal or 1), images.MAX_STAMPS))


def published_design(merchant_id: int) -> CardDesign | None:
    return (
        CardDesign.objects.for_merchant(merchant_id)
        .filter(published_at__isnull=False)
        .prefetch_related("locations")
        .order_by("-version")
        .first()
    )


def card_view(wallet_pass: WalletPass) -> CardView:
    card = Card.objects.select_related("customer", "tier", "merchant").get(pk=wallet_pass.card_id)
    program = Program.objects.filter(merchant_id=card.merchant_id).first()
    design = published_design(card.merchant_id) or designs.default_design(merchant=card.merchant)
    return CardView(card, wallet_pass, design, program)


def web_service_url() -> str:
    """Where devices reach the PassKit web service; the device appends /v1/… itself."""
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    if urlsplit(base).scheme != "https" and not settings.DEBUG:
        raise WebServiceNotSecure("PUBLIC_BASE_URL must be https:// for Apple Wallet updates")
    return base + PASSKIT_PATH


def web_service_is_secure() -> bool:
    try:
        web_service_url()
    except WebServiceNotSecure:
        return False
    return True


def _change_message(design: CardDesign) -> str:
    # The merchant's own message as written; empty gives the standard one,
    # which pass.strings carries in every language (apple.STRINGS).
    message = (design.change_message or "").strip()
    return message if "%@" in message else ""


def _pretty_number(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def _locations(design: CardDesign) -> tuple[PassLocation, ...]:
    # Without a published design: the default design's locations (all geocoded ones).
    if design.pk is not None:
        chosen = list(design.locations.all())
    else:
        chosen = designs.default_locations(merchant=design.merchant_id)
    found = []
    for location in chosen:
        if location.latitude is None or location.longitude is None or not location.is_active:
            continue
        found.append(PassLocation(location.latitude, location.longitude, design.relevant_text))
    return tuple(found[:10])


def pass_content(view: CardView) -> PassContent:
    card, design, wp = view.card, view.design, view.wallet_pass
    merchant = card.merchant
    stamps = points = None
    if view.is_stamps:
        stamps = card.stamps
    elif view.shows_points:
        points = card.balance
    # Labels of our own are the English keys of pass.strings (apple.STRINGS):
    # the phone shows them in its language, like the front's labels.
    back: list[tuple[str, str] | tuple[str, str, str]] = []
    if card.is_blocked:
        # Besides "voided" (greyed out), the pass says why in words; both are pass.strings keys.
        back.append(("Card status", "This card is blocked. Please ask at the counter."))
    if view.is_stamps and card.rewards_available:
        back.append(("Rewards available", str(card.rewards_available)))
    if view.is_stamps and view.program is not None:
        # "Every N-th visit is free", in words: the strip's last place is the free visit.
        # A sentence with a number is no pass.strings key, so it is in the platform's language.
        with translation.override(settings.LANGUAGE_CODE):
            back.append(("Stamps", free_visit_text(view.program.stamps_per_reward)))
    if wp.message_key and wp.message_body:
        label = wp.message_header or "Message"
        # "%@" alone: the lock screen shows the message itself when it is new.
        back.append((label, wp.message_body, "%@") if wp.message_notify else (label, wp.message_body))
    with translation.override(settings.LANGUAGE_CODE):
        description = _("Loyalty card of %(name)s") % {"name": merchant.name}
    return PassContent(
        serial_number=wp.serial_number,
        authentication_token=wp.authentication_token,
        organization_name=merchant.name,
        description=description,
        barcode_message=card.barcode,
        barcode_alt_text=_pretty_number(card.number),
        background_color=design.background_color,
        foreground_color=design.foreground_color,
        label_color=design.label_color,
        logo_text="" if design.logo else (design.program_name or merchant.name)[:40],
        points=points if design.show_balance or design.pk is None else None,
        stamps=stamps if design.show_balance or design.pk is None else None,
        stamps_goal=view.stamps_goal if view.is_stamps else None,
        tier=card.tier.name if (card.tier_id and design.show_tier) else "",
        customer_name=card.customer.name if design.show_name else "",
        terms=design.terms,
        contacts=design.contacts,
        website=design.website,
        phone=design.phone,
        barcode_format=design.barcode_format,
        locations=_locations(design),
        web_service_url=web_service_url(),
        balance_change_message=_change_message(design),
        voided=card.is_blocked,
        extra_back_fields=tuple(back),
    )


# --- images ------------------------------------------------------------------------------------


def _read(field) -> bytes | None:
    if not field:
        return None
    try:
        with field.open("rb") as handle:
            return handle.read()
    except (OSError, ValueError) as exc:
        logger.warning("design image %s unreadable: %s", field.name, exc)
        return None


@functools.lru_cache(maxsize=256)
def _design_images(design_id: int) -> dict[str, bytes]:
    design = CardDesign.objects.get(pk=design_id)
    files: dict[str, bytes] = {}
    for kind in ("icon", "logo", "strip"):
        data = _read(getattr(design, kind))
        if data is None:
            continue
        try:
            files.update(images.apple_image_set(kind, data, background=design.background_color))
        except images.ImageError as exc:
            logger.warning("design %s %s unusable: %s", design_id, kind, exc.message)
    return files


@functools.lru_cache(maxsize=256)
def _default_icons(name: str, background: str, foreground: str) -> dict[str, bytes]:
    return images.default_icon_set(name, background=background, foreground=foreground)


@functools.lru_cache(maxsize=512)
def _stamp_strip(filled: int, total: int, background: str, foreground: str) -> dict[str, bytes]:
    return images.stamp_strip_set(filled=filled, total=total, background=background, foreground=foreground)


def pass_images(view: CardView) -> PassImages:
    """The card's Apple images, prepared for the archive (bytes, SHA-1, ZIP
    records). Cached per process by everything an image depends on: the
    published design version, the default icon's name and colours, and for
    stamp cards the stamp count drawn on the strip."""
    design = view.design
    published = design.pk is not None and design.published_at is not None
    stamps = (min(view.card.stamps, view.stamps_goal), view.stamps_goal) if view.is_stamps else None
    return _pass_images(
        (design.pk, design.version, design.published_at) if published else None,
        view.card.merchant.name,
        design.background_color,
        design.foreground_color,
        stamps,
    )


@functools.lru_cache(maxsize=PASS_IMAGE_SETS)
def _pass_images(
    design_key: tuple | None, name: str, background: str, foreground: str, stamps: tuple[int, int] | None
) -> PassImages:
    files: dict[str, bytes] = {}
    if design_key is not None:
        files.update(_design_images(design_key[0]))
    if "icon.png" not in files:
        files.update(_default_icons(name, background, foreground))
    if stamps is not None:
        # The strip shows the stamps, replacing any uploaded strip image.
        for image in [n for n in files if n.startswith("strip")]:
            del files[image]
        files.update(_stamp_strip(*stamps, background, foreground))
    return PassImages(files)


@functools.lru_cache(maxsize=128)
def google_logo_png(merchant_name: str, design_id: int | None, background: str, foreground: str) -> bytes:
    if design_id is not None:
        design = CardDesign.objects.get(pk=design_id)
        data = _read(design.logo) or _read(design.icon)
        if data is not None:
            try:
                return images.google_logo(data, background=background)
            except images.ImageError:
                pass
    return images.default_google_logo(merchant_name, background=background, foreground=foreground)


@functools.lru_cache(maxsize=256)
def google_stamps_png(filled: int, total: int, background: str, foreground: str) -> bytes:
    # Google's hero image is 1032×336: the Apple strip at 3x (1125×369) fits it, cropped.
    strip = images.stamp_strip(filled=filled, total=total, background=background, foreground=foreground, scale=3)
    return images.google_hero(strip)


# --- Google ------------------------------------------------------------------------------------


def google_class_id(issuer_id: str, merchant_id: int, design_version: int) -> str:
    """The id a program's class gets when its first object is inserted. The
    class then stays the program's one class: a publish patches it, since
    Google's reference gives no way to move an object to another class (an
    object's classId names a class that "must already exist, and must be
    approved"; nothing says a patch may change it)."""
    return google.resource_id(issuer_id, f"m{merchant_id}-v{design_version}")


def google_object_id(issuer_id: str, wallet_pass: WalletPass) -> str:
    return google.resource_id(issuer_id, wallet_pass.serial_number)


def _absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def google_class(view: CardView, issuer_id: str, class_id: str | None = None) -> google.LoyaltyClassContent:
    """The program's class as the current design shows it (``class_id``: the class to write, see google_class_id)."""
    design, merchant = view.design, view.card.merchant
    with translation.override(settings.LANGUAGE_CODE):
        return google.LoyaltyClassContent(
            class_id=class_id or google_class_id(issuer_id, merchant.pk, view.design_version),
            issuer_name=merchant.name,
            program_name=(design.program_name or merchant.name)[:40],
            logo_url=_absolute(reverse("wallet_google_logo", args=[merchant.pk, view.design_version])),
            background_color=design.background_color,
            language=settings.LANGUAGE_CODE,
            account_name_label=_("Member") if design.show_name else "",
            account_id_label=_("Card number"),
            rewards_tier_label=_("Tier") if design.show_tier else "",
            terms=design.terms,
            website=design.website,
            phone=design.phone,
        )


def google_object(view: CardView, issuer_id: str, class_id: str | None = None) -> google.LoyaltyObjectContent:
    card, design = view.card, view.design
    shows_value = design.show_balance or design.pk is None
    hero = ""
    if view.is_stamps:
        filled = min(card.stamps, view.stamps_goal)
        hero = _absolute(
            reverse("wallet_google_stamps", args=[card.merchant_id, view.design_version, filled, view.stamps_goal])
        )
    with translation.override(settings.LANGUAGE_CODE):
        return google.LoyaltyObjectContent(
            object_id=google_object_id(issuer_id, view.wallet_pass),
            class_id=class_id or google_class_id(issuer_id, card.merchant_id, view.design_version),
            barcode_value=card.barcode,
            barcode_alt_text=_pretty_number(card.number),
            account_id=_pretty_number(card.number),
            account_name=(card.customer.name if design.show_name else "")[:40],
            points=card.balance if (view.shows_points and not view.is_stamps and shows_value) else None,
            points_label=_("Points"),
            stamps=card.stamps if (view.is_stamps and shows_value) else None,
            stamps_goal=view.stamps_goal if view.is_stamps else None,
            stamps_label=_("Stamps"),
            tier=card.tier.name if (card.tier_id and design.show_tier) else "",
            tier_label=_("Tier"),
            barcode_type=design.barcode_format,
            hero_url=hero,
            active=not card.is_blocked,
            language=settings.LANGUAGE_CODE,
        )
