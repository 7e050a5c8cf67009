"""Automations: which customers a trigger fires for, evaluated by the dispatcher every few
minutes in each merchant's time zone.

Each trigger is a query over state, not over "what happened in the last five minutes": a
customer qualifies while they are inside the trigger's window (a birthday within N days, no
purchase for X days, points expiring within D days, a purchase N days ago within a look-back of a
week). So a trigger missed while beat was down fires late, at the next run, rather than never.
Each firing has an occurrence key (``birthday:2026``, ``purchase:2026-11-27``, ``winback:<date of
the last purchase>``); the delivery row's unique constraint (campaign, customer, occurrence) makes
a second evaluation a no-op.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.db.models import Min, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from loyalty.models import Card, CardStatus, Customer, Lot, Purchase, TierChange

from . import sending
from .models import Campaign, Kind, Status, Trigger

LOOKBACK = timedelta(days=7)
DEFAULT_DAYS: dict[str, int] = {
    Trigger.POST_PURCHASE: 3,
    Trigger.BIRTHDAY: 3,
    Trigger.POINTS_EXPIRY: 7,
}


def _birthday_on(day: date, year: int) -> date:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


def _local_date(moment: datetime, tz) -> str:
    return timezone.localtime(moment, tz).date().isoformat()


def _days(campaign: Campaign) -> int:
    return campaign.trigger_days if campaign.trigger_days is not None else DEFAULT_DAYS.get(campaign.trigger, 0)


def _active_cards(customers: QuerySet[Customer]) -> QuerySet[Card]:
    return Card.objects.filter(customer__in=customers.values("pk"), status=CardStatus.ACTIVE)


def welcome(campaign: Campaign, customers: QuerySet[Customer], now: datetime) -> dict[int, str]:
    # Enrolled since the automation was switched on (and within the look-back).
    since = max(campaign.created_at, now - LOOKBACK)
    ids = customers.filter(created_at__gte=since, created_at__lte=now).values_list("pk", flat=True)
    return {pk: "welcome" for pk in ids}


def post_purchase(campaign: Campaign, customers: QuerySet[Customer], now: datetime) -> dict[int, str]:
    days = _days(campaign)
    tz = campaign.merchant.tzinfo
    rows = (
        Purchase.objects.filter(
            merchant=campaign.merchant,
            card__customer__in=customers.values("pk"),
            created_at__lte=now - timedelta(days=days),
            created_at__gt=now - timedelta(days=days) - LOOKBACK,
        )
        .order_by("card__customer_id", "-created_at")
        .values_list("card__customer_id", "created_at", "pk")
    )
    found: dict[int, str] = {}
    for customer_id, created_at, purchase_id in rows:
        found.setdefault(customer_id, f"purchase:{_local_date(created_at, tz)}:{purchase_id}")
    return found


def birthday(campaign: Campaign, customers: QuerySet[Customer], now: datetime) -> dict[int, str]:
    tz = campaign.merchant.tzinfo
    today = timezone.localtime(now, tz).date()
    days = [today + timedelta(days=n) for n in range(_days(campaign) + 1)]
    match = Q()
    for day in days:
        match |= Q(birthday__month=day.month, birthday__day=day.day)
        if day.month == 2 and day.day == 28:
            match |= Q(birthday__month=2, birthday__day=29)
    found = {}
    for pk, born in customers.filter(match, birthday__isnull=False).values_list("pk", "birthday"):
        if born is None:
            continue
        year = next(d.year for d in days if _birthday_on(born, d.year) == d)
        found[pk] = f"birthday:{year}"
    return found


def median_gap_days(merchant) -> int:
    """The merchant's median days between a customer's consecutive purchases (30 with too little
    history). Computed on the latest 5,000 purchases."""
    rows = list(
        Purchase.objects.filter(merchant=merchant).order_by("-created_at").values_list("card_id", "created_at")[:5000]
    )
    last: dict[int, datetime] = {}
    gaps = []
    for card_id, created_at in sorted(rows, key=lambda r: (r[0], r[1])):
        if card_id in last:
            gaps.append((created_at - last[card_id]).total_seconds() / 86400)
        last[card_id] = created_at
    return max(int(round(statistics.median(gaps))), 1) if len(gaps) >= 10 else 30


def win_back(campaign: Campaign, customers: QuerySet[Customer], now: datetime) -> dict[int, str]:
    days = campaign.trigger_days or 2 * median_gap_days(campaign.merchant)
    tz = campaign.merchant.tzinfo
    rows = _active_cards(customers).filter(last_purchase_at__lte=now - timedelta(days=days))
    return {
        cid: f"winback:{_local_date(last, tz)}"
        for cid, last in rows.values_list("customer_id", "last_purchase_at")
        if last is not None
    }


def points_expiry(campaign: Campaign, customers: QuerySet[Customer], now: datetime) -> dict[int, str]:
    tz = campaign.merchant.tzinfo
    rows = (
        Lot.objects.filter(
            merchant=campaign.merchant,
            card__customer__in=customers.values("pk"),
            card__status=CardStatus.ACTIVE,
            remaining__gt=0,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=_days(campaign)),
        )
        .values("card__customer_id")
        .annotate(first=Min("expires_at"))
        .values_list("card__customer_id", "first")
    )
    return {cid: f"expiry:{_local_date(first, tz)}" for cid, first in rows}


def tier_reached(campaign: Campaign, customers: QuerySet[Customer], now: datetime) -> dict[int, str]:
    since = max(campaign.created_at, now - LOOKBACK)
    rows = TierChange.objects.filter(
        merchant=campaign.merchant,
        card__customer__in=customers.values("pk"),
        reason=TierChange.Reason.PROMOTION,
        created_at__gte=since,
        created_at__lte=now,
    ).values_list("card__customer_id", "pk")
    return {cid: f"tier:{pk}" for cid, pk in rows}


def tier_at_risk(campaign: Campaign, customers: QuerySet[Customer], now: datetime) -> dict[int, str]:
    # On a tier but without a purchase for N days (30 by default): the nightly demotion is near.
    days = campaign.trigger_days or 30
    tz = campaign.merchant.tzinfo
    rows = (
        _active_cards(customers)
        .filter(tier__isnull=False, tier__threshold__gt=0)
        .filter(last_purchase_at__lte=now - timedelta(days=days))
    )
    return {
        cid: f"tier-risk:{tier_id}:{_local_date(last, tz)}"
        for cid, tier_id, last in rows.values_list("customer_id", "tier_id", "last_purchase_at")
        if last is not None
    }


def stamps_complete(campaign: Campaign, customers: QuerySet[Customer], now: datetime) -> dict[int, str]:
    tz = campaign.merchant.tzinfo
    rows = _active_cards(customers).filter(rewards_available__gt=0, last_stamp_at__gte=now - LOOKBACK)
    return {
        cid: f"stamps:{_local_date(at, tz)}"
        for cid, at in rows.values_list("customer_id", "last_stamp_at")
        if at is not None
    }


def anniversary(campaign: Campaign, customers: QuerySet[Customer], now: datetime) -> dict[int, str]:
    tz = campaign.merchant.tzinfo
    today = timezone.localtime(now, tz).date()
    firsts = (
        Purchase.objects.filter(merchant=campaign.merchant, card__customer__in=customers.values("pk"))
        .values("card__customer_id")
        .annotate(first=Min(TruncDate("created_at", tzinfo=tz)))
        .values_list("card__customer_id", "first")
    )
    found = {}
    for customer_id, first in firsts:
        for back in range(LOOKBACK.days):
            day = today - timedelta(days=back)
            if first.year < day.year and _birthday_on(first, day.year) == day:
                found[customer_id] = f"anniversary:{day.year}"
                break
    return found


TRIGGERS: dict[str, Callable[[Campaign, QuerySet[Customer], datetime], dict[int, str]]] = {
    Trigger.WELCOME: welcome,
    Trigger.POST_PURCHASE: post_purchase,
    Trigger.BIRTHDAY: birthday,
    Trigger.WIN_BACK: win_back,
    Trigger.POINTS_EXPIRY: points_expiry,
    Trigger.TIER_REACHED: tier_reached,
    Trigger.TIER_AT_RISK: tier_at_risk,
    Trigger.STAMPS_COMPLETE: stamps_complete,
    Trigger.ANNIVERSARY: anniversary,
}


def fire(*, campaign: Campaign, now: datetime) -> tuple[int, list[int]]:
    """Rows for whoever the campaign's trigger selects now; returns (send id, new pending ids)."""
    from .segments.query import audience_for

    customers = audience_for(merchant=campaign.merchant, segment=campaign.segment, now=now)
    matches = TRIGGERS[campaign.trigger](campaign, customers, now)
    # One send per local day keeps progress readable; the occurrence is per customer.
    send, _ = sending.start_send(
        campaign=campaign,
        occurrence="day:" + timezone.localtime(now, campaign.merchant.tzinfo).date().isoformat(),
        now=now,
    )
    if send.status == "fanning_out":
        type(send).objects.filter(pk=send.pk).update(status="sending")
    if not matches:
        return send.pk, []
    return send.pk, sending.add_trigger_deliveries(campaign=campaign, send=send, occurrences=matches, now=now)


def evaluate(*, now: datetime | None = None) -> list[tuple[int, list[int]]]:
    now = now or timezone.now()
    chunks = []
    automations = Campaign.objects.filter(kind=Kind.AUTOMATION, status=Status.ACTIVE).exclude(trigger="")
    for campaign in automations.select_related("merchant", "segment").order_by("pk"):
        send_id, ids = fire(campaign=campaign, now=now)
        for start in range(0, len(ids), sending.CHUNK):
            chunks.append((send_id, ids[start : start + sending.CHUNK]))
    return chunks
