"""Reads for the segment pages: a segment's size with a few matching
customers, and the saved segments with their sizes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, QuerySet, Window

from campaigns import dialect
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
    """How many customers match, and the newest few of them: one statement, the count taken
    over the whole match by a window before the LIMIT (a second query for the sample would
    evaluate every condition again). Raises ``SegmentDefinitionError`` for an invalid definition."""
    customers = customers_in_segment(merchant=merchant, definition=definition)
    with transaction.atomic(), connection.cursor() as cursor:
        if dialect.is_postgresql():  # SQLite has neither setting (nor SET)
            # PostgreSQL's JIT compiles a plan this size in longer than the query
            # then saves: off for this statement only.
            cursor.execute("SET LOCAL jit = off")
            # A parallel plan builds each hashed subquery (the Apple passes, a period's purchases) once
            # per process and only splits the scans: on a few shared cores it costs more CPU than it
            # saves in wall time. One process for the live count.
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        if not sample_size:
            return SegmentSize(count=customers.count(), sample=[])
        if not any(group.get("conditions") for group in definition.get("groups") or []):
            # Everyone: an index-only count and the newest few by index beat a window over all.
            count = customers.count()
            newest = customers.order_by("-created_at", "-pk").values("cards__id", "name", "phone", "created_at")
            return SegmentSize(count=count, sample=[_sample(row) for row in newest[:sample_size]])
        rows = list(
            customers.annotate(total=Window(Count("*")))
            .order_by("-created_at", "-pk")
            .values("total", "cards__id", "name", "phone", "created_at")[:sample_size]
        )
    return SegmentSize(count=rows[0]["total"] if rows else 0, sample=[_sample(row) for row in rows])


def _sample(row: Mapping[str, Any]) -> SampleCustomer:
    return SampleCustomer(card_id=row["cards__id"], name=row["name"], phone=row["phone"], joined_at=row["created_at"])


def segments_for(*, merchant: Merchant) -> QuerySet[Segment]:
    return Segment.objects.for_merchant(merchant).select_related("created_by").order_by("name", "pk")
