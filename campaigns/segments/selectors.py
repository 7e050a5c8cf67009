"""Reads for the segment pages: a segment's size with a few matching
customers, and the saved segments with their sizes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import QuerySet

from campaigns.models import Segment
from campaigns.segments.query import customers_in_segment
from merchants.models import Merchant

SAMPLE_SIZE = 8


@dataclass(frozen=True)
class SampleCustomer:
    card_id: int | None
    name: str
    phone: str
    joined_at: datetime


@dataclass(frozen=True)
class SegmentSize:
    count: int
    sample: list[SampleCustomer]


def segment_size(*, merchant: Merchant, definition: dict, sample_size: int = SAMPLE_SIZE) -> SegmentSize:
    """How many customers match, and the newest few of them (two queries).
    Raises ``SegmentDefinitionError`` for an invalid definition."""
    customers = customers_in_segment(merchant=merchant, definition=definition)
    with transaction.atomic(), connection.cursor() as cursor:
        # PostgreSQL's JIT compiles a plan this size in longer than the query
        # then saves: off for these two statements only.
        cursor.execute("SET LOCAL jit = off")
        count = customers.count()
        rows = list(
            customers.order_by("-created_at", "-pk").values("cards__id", "name", "phone", "created_at")[:sample_size]
            if count and sample_size
            else []
        )
    sample = [
        SampleCustomer(card_id=row["cards__id"], name=row["name"], phone=row["phone"], joined_at=row["created_at"])
        for row in rows
    ]
    return SegmentSize(count=count, sample=sample)


def segments_for(*, merchant: Merchant) -> QuerySet[Segment]:
    return Segment.objects.for_merchant(merchant).select_related("created_by").order_by("name", "pk")
