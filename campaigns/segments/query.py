"""Who is in a segment: the definition becomes one SQL query over the
merchant's customers (``WHERE`` built from the conditions in
``campaigns.segments.conditions``); nothing here loads customers into Python."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.utils import timezone

from campaigns.segments.conditions import (
    REGISTRY,
    BuildContext,
    PurchaseStat,
    condition_q,
    purchase_stats_q,
)
from campaigns.segments.definition import parse_definition
from loyalty.models import Customer

if TYPE_CHECKING:
    from campaigns.models import Segment
    from merchants.models import Merchant


def customers_in_segment(*, merchant: Merchant, definition: dict, now: datetime | None = None) -> QuerySet[Customer]:
    """The merchant's customers matching ``definition`` (validated first:
    raises ``SegmentDefinitionError`` with translated messages)."""
    parsed = parse_definition(definition, merchant=merchant)
    ctx = BuildContext(merchant=merchant, now=now or timezone.now())
    combined: Q | None = None
    for group in parsed["groups"]:
        group_q: Q | None = None
        conditions = group["conditions"]
        if group["match"] == "all":
            # The group's conditions on purchase aggregates share one scan of the purchases.
            stats: list[PurchaseStat] = []
            rest: list[dict] = []
            for condition in conditions:
                hook = REGISTRY[condition["field"]].purchase_stat
                stat = hook(ctx, condition) if hook else None
                if stat is None:
                    rest.append(condition)
                else:
                    stats.append(stat)
            conditions = rest
            if len(stats) > 1:
                group_q = purchase_stats_q(ctx, stats)
            elif stats:
                conditions = group["conditions"]
        for condition in conditions:
            q = condition_q(ctx, condition)
            group_q = q if group_q is None else (group_q & q if group["match"] == "all" else group_q | q)
        if group_q is None:
            continue
        combined = (
            group_q if combined is None else (combined & group_q if parsed["match"] == "all" else combined | group_q)
        )
    qs = Customer.objects.for_merchant(merchant)
    if ctx.aliases:
        qs = qs.alias(**ctx.aliases)
    if combined is not None:
        qs = qs.filter(combined)
    return qs


def audience_for(*, merchant: Merchant, segment: Segment | None, now: datetime | None = None) -> QuerySet[Customer]:
    """A campaign's audience before consent, caps and holdout: the segment's
    customers, or every customer of the merchant when ``segment`` is None."""
    if segment is None:
        return Customer.objects.for_merchant(merchant)
    if segment.merchant_id != merchant.pk:
        raise ValueError("segment belongs to another merchant")
    return customers_in_segment(merchant=merchant, definition=segment.definition, now=now)
