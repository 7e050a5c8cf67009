"""Writes for segments: create, update, delete. The definition is validated
(``parse_definition``) and stored normalised. And the export of a segment's
customers, which leaves a mark in the audit log."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.exports import customer_rows
from campaigns.exceptions import SegmentDefinitionError
from campaigns.models import Segment
from campaigns.segments.definition import parse_definition
from campaigns.segments.query import customers_in_segment
from loyalty.models import Card
from merchants import audit
from merchants.models import Merchant, User

MAX_NAME_LENGTH = Segment._meta.get_field("name").max_length or 120


def _clean_name(name: str) -> str:
    # Control characters (a NUL would not even reach PostgreSQL) become spaces.
    name = " ".join("".join(ch if ch.isprintable() else " " for ch in (name or "")).split())
    if not name:
        raise SegmentDefinitionError([_("Give the segment a name.")])
    if len(name) > MAX_NAME_LENGTH:
        raise SegmentDefinitionError([_("The name is too long: at most %(n)d characters.") % {"n": MAX_NAME_LENGTH}])
    return name


def _save(segment: Segment) -> Segment:
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError as exc:
        raise SegmentDefinitionError([_("A segment with this name already exists.")]) from exc
    return segment


def segment_create(*, merchant: Merchant, name: str, definition: dict, actor: User | None) -> Segment:
    clean_name = _clean_name(name)
    clean = parse_definition(definition, merchant=merchant)
    now = timezone.now()
    return _save(
        Segment(merchant=merchant, name=clean_name, definition=clean, created_by=actor, created_at=now, updated_at=now)
    )


def segment_update(*, segment: Segment, name: str, definition: dict, actor: User | None) -> Segment:
    segment.name = _clean_name(name)
    segment.definition = parse_definition(definition, merchant=segment.merchant)
    segment.updated_at = timezone.now()
    return _save(segment)


def segment_delete(*, segment: Segment, actor: User | None) -> None:
    segment.delete()


def segment_export(*, segment: Segment, actor: User | None) -> Iterator[list]:
    """The rows of the segment's customers as of now (``analytics.exports.CUSTOMER_HEADERS``),
    read lazily as the response streams. The export is recorded before the first row is read;
    an invalid definition (a tier or location deleted since) raises ``SegmentDefinitionError``
    and records nothing."""
    merchant = segment.merchant
    customers = customers_in_segment(merchant=merchant, definition=segment.definition)
    cards = Card.objects.for_merchant(merchant).filter(customer_id__in=customers.values("pk"))
    audit.record(
        action="segment.exported",
        merchant=merchant,
        actor=actor,
        target=segment,
        after={"format": "csv", "definition": segment.definition},
    )
    return customer_rows(cards, tz=merchant.tzinfo)
