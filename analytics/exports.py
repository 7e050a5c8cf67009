"""Streaming CSV: the response that writes rows as they are read, and the
customer rows every customer export shares (all customers on the export page,
a saved segment's customers on the segment pages). Read through a server-side
cursor in primary-key order, so memory stays flat whatever the size."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from loyalty.models import Card

EXPORT_CHUNK = 2000

CUSTOMER_HEADERS = [
    "phone", "name", "email", "birthday", "card_number", "balance", "purchases", "last_purchase_at",
    "joined_at", "source", "marketing_consent",
]  # fmt: skip


class _Echo:
    def write(self, value: str) -> str:
        return value


def stream_csv(filename: str, header: list[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"  # Excel reads UTF-8 with a BOM
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def local_iso(value: datetime | None, tz: tzinfo) -> str:
    return "" if value is None else timezone.localtime(value, tz).isoformat()


def customer_rows(cards: QuerySet[Card], *, tz: tzinfo) -> Iterator[list]:
    """One row per card (``CUSTOMER_HEADERS``), in card order; ``cards`` is
    already scoped to one merchant by the caller."""
    qs = cards.order_by("pk").values_list(
        "customer__phone",
        "customer__name",
        "customer__email",
        "customer__birthday",
        "number",
        "balance",
        "purchase_count",
        "last_purchase_at",
        "customer__created_at",
        "customer__source",
        "customer__marketing_consent",
    )
    for r in qs.iterator(chunk_size=EXPORT_CHUNK):
        yield [*r[:7], local_iso(r[7], tz), local_iso(r[8], tz), r[9], int(r[10])]
