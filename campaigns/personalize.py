"""Placeholders in a campaign's message, filled per customer from a few queries per chunk of
customers (never one query per customer).

{first_name}, {balance}, {expiring_points}, {expiry_date}, {tier}, {points_to_next_tier},
{stamps_left}. Unknown braces are left as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Min, Sum
from django.utils import formats, timezone

from loyalty.models import Card, Customer, Lot, Program, Tier

PLACEHOLDERS = (
    "first_name",
    "balance",
    "expiring_points",
    "expiry_date",
    "tier",
    "points_to_next_tier",
    "stamps_left",
)
_PATTERN = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
# The placeholders a template uses: ``set(PLACEHOLDER_PATTERN.findall(text))``.
PLACEHOLDER_PATTERN = _PATTERN
EXPIRY_HORIZON_DAYS = 30


@dataclass
class Recipient:
    customer_id: int
    name: str
    email: str
    phone: str
    marketing_consent: bool
    card_id: int | None = None
    values: dict[str, str] | None = None


def render(template: str, values: dict[str, str]) -> str:
    return _PATTERN.sub(lambda m: values.get(m.group(1), ""), template)


def recipients(
    *,
    merchant,
    customer_ids: list[int],
    now: datetime | None = None,
    expiry_days: int | None = None,
    fields: set[str] | None = None,
) -> dict[int, Recipient]:
    """The customers with their placeholder values. ``fields``: the placeholders the message
    uses (None: all); the lots and the program's tiers are read only when needed."""
    now = now or timezone.now()
    wanted = set(PLACEHOLDERS) if fields is None else fields
    tz = merchant.tzinfo
    horizon = now + timedelta(days=expiry_days or EXPIRY_HORIZON_DAYS)
    customers = Customer.objects.for_merchant(merchant).filter(pk__in=customer_ids)
    result = {
        c.pk: Recipient(c.pk, c.name, c.email, c.phone, c.marketing_consent)
        for c in customers.only("pk", "name", "email", "phone", "marketing_consent")
    }
    cards = list(
        Card.objects.for_merchant(merchant)
        .filter(customer_id__in=customer_ids)
        .select_related("tier")
        .only("pk", "customer_id", "balance", "stamps", "lifetime_spend", "tier__name", "tier__threshold")
    )
    expiring = (
        {
            row["card_id"]: row
            for row in Lot.objects.filter(
                merchant=merchant,
                card_id__in=[c.pk for c in cards],
                remaining__gt=0,
                expires_at__gt=now,
                expires_at__lte=horizon,
            )
            .values("card_id")
            .annotate(points=Sum("remaining"), first=Min("expires_at"))
        }
        if wanted & {"expiring_points", "expiry_date"}
        else {}
    )
    program = (
        Program.objects.filter(merchant=merchant).first() if wanted & {"stamps_left", "points_to_next_tier"} else None
    )
    stamps_per_reward = getattr(program, "stamps_per_reward", 0) or 0
    thresholds = (
        sorted(Tier.objects.filter(merchant=merchant, program=program).values_list("threshold", flat=True))
        if program
        else []
    )
    for card in cards:
        recipient = result.get(card.customer_id)
        if recipient is None:
            continue
        recipient.card_id = card.pk
        exp = expiring.get(card.pk)
        spend = card.lifetime_spend or Decimal(0)
        next_threshold = next((t for t in thresholds if t > spend), None)
        recipient.values = {
            "balance": str(card.balance),
            "expiring_points": str(exp["points"]) if exp else "0",
            "expiry_date": formats.date_format(timezone.localtime(exp["first"], tz).date(), "SHORT_DATE_FORMAT")
            if exp
            else "",
            "tier": card.tier.name if card.tier else "",
            "points_to_next_tier": str((next_threshold - spend).quantize(Decimal("1"))) if next_threshold else "0",
            "stamps_left": str(max(stamps_per_reward - card.stamps, 0)) if stamps_per_reward else "0",
        }
    for recipient in result.values():
        values = recipient.values or {key: "" for key in PLACEHOLDERS}
        values["first_name"] = (recipient.name.split() or [""])[0]
        recipient.values = values
    return result
