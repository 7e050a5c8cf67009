"""Writes for card designs. The merchant edits one draft; publishing freezes it
as the next version (never changed again) and marks every installed card, so
the update pipeline sends each wallet the new look."""

from __future__ import annotations

import io
from datetime import datetime
from functools import partial

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image, ImageOps

from loyalty.design import selectors
from loyalty.exceptions import LoyaltyError
from loyalty.models import CardDesign
from loyalty.wallet import images
from loyalty.wallet.contract import cards_changed

# Longest side kept of an upload: enough for Apple @3x (strip 1125 px) and
# Google (logo 660 px, hero 1032 px), small enough to serve quickly.
KEEP_LONGEST_SIDE = {"logo": 1200, "icon": 600, "strip": 1600}
COPIED_FIELDS = (
    "program_name",
    "background_color",
    "foreground_color",
    "label_color",
    "logo",
    "icon",
    "strip",
    "show_balance",
    "show_tier",
    "show_name",
    "terms",
    "contacts",
    "website",
    "phone",
    "barcode_format",
    "relevant_text",
    "change_message",
)


class NothingToPublish(LoyaltyError):
    default_code = "nothing_to_publish"
    default_message = gettext_lazy("There is no draft to publish: it was published a moment ago.")


def normalized_image(data: bytes, *, kind: str) -> ContentFile:
    """A checked upload (``images.open_upload``: type, size, dimensions) as a
    PNG no larger than needed, upright, without the file's metadata (EXIF
    may hold where a photo was taken). Raises ``images.ImageError``."""
    image = images.open_upload(data)
    longest = KEEP_LONGEST_SIDE[kind]
    if max(image.size) > longest:
        image = ImageOps.contain(image, (longest, longest), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return ContentFile(buffer.getvalue(), name=f"{kind}.png")


def draft_for(*, merchant, actor=None) -> CardDesign:
    """The merchant's draft, created on first use as a copy of the latest
    published version (or with the defaults customers see without one)."""
    draft = CardDesign.objects.for_merchant(merchant).filter(published_at__isnull=True).first()
    if draft is not None:
        return draft
    latest = CardDesign.objects.for_merchant(merchant).filter(published_at__isnull=False).order_by("-version").first()
    now = timezone.now()
    try:
        with transaction.atomic():
            if latest is None:
                # The defaults customers already see (selectors.default_design).
                draft = selectors.default_design(merchant=merchant)
                draft.created_by, draft.created_at, draft.updated_at = actor, now, now
                draft.save()
            else:
                draft = CardDesign(merchant=merchant, created_by=actor, created_at=now, updated_at=now)
                for name in COPIED_FIELDS:
                    setattr(draft, name, getattr(latest, name))
                draft.save()
                draft.locations.set(latest.locations.all())
    except IntegrityError:
        # Another request created the draft at the same moment (one draft per merchant).
        draft = CardDesign.objects.for_merchant(merchant).get(published_at__isnull=True)
    return draft


def save_draft(*, merchant, design: CardDesign, locations, actor, now: datetime | None = None) -> CardDesign:
    """Store the edited draft (built by the designer form, not yet saved)."""
    if design.merchant_id != merchant.pk or design.published_at is not None or design.pk is None:
        # Published versions are immutable; only the merchant's own draft is edited.
        raise LoyaltyError(_("Only the draft can be edited."), code="design_not_draft")
    design.updated_at = now or timezone.now()
    with transaction.atomic():
        design.save()
        design.locations.set(locations)
    return design


def publish(*, merchant, actor, now: datetime | None = None) -> CardDesign:
    """Freeze the draft as the next version. Once committed, every card with a
    wallet pass is marked changed (``cards_changed``) and updates to it."""
    now = now or timezone.now()
    with transaction.atomic():
        # Locking the draft orders two publishes: the second finds no draft.
        draft = CardDesign.objects.for_merchant(merchant).select_for_update().filter(published_at__isnull=True).first()
        if draft is None:
            raise NothingToPublish()
        last = CardDesign.objects.for_merchant(merchant).aggregate(n=Max("version"))["n"] or 0
        draft.version = last + 1
        draft.published_at = now
        draft.updated_at = now
        if actor is not None:
            draft.created_by = actor
        draft.save(update_fields=["version", "published_at", "updated_at", "created_by"])
        # Marking touches every pass of the merchant: do it after the version is
        # visible, outside this transaction, so a big merchant doesn't hold it open.
        transaction.on_commit(partial(cards_changed, merchant=merchant, now=now))
    return draft
