"""The scheduled work, one merchant at a time: expiry, activation, birthday
bonuses and nightly tier demotion. Each card is handled in its own short
transaction through the ledger service, so a job can be interrupted and rerun
at any point: every step is idempotent."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.db.models import F, Q, Sum
from django.utils import timezone

from loyalty import ledger
from loyalty.models import Card, CardStatus, Customer, EntryKind, LedgerEntry, Lot
from loyalty.program.services import current_rules

logger = logging.getLogger(__name__)


def settle_due_cards(*, merchant, now: datetime | None = None, pending_only: bool = False) -> int:
    """Expire expired lots (and stamps), activate due pending points. Returns
    the number of cards settled."""
    now = now or timezone.now()
    due = Q(activated_at__isnull=True, available_at__lte=now)
    if not pending_only:
        due |= Q(expires_at__lte=now)
    card_ids = set(
        Lot.objects.for_merchant(merchant).filter(due, remaining__gt=0).values_list("card_id", flat=True).distinct()
    )
    if not pending_only:
        rules = current_rules(merchant=merchant)
        if rules.stamp_expiry_days:
            card_ids |= set(
                Card.objects.for_merchant(merchant)
                .filter(stamps__gt=0, last_stamp_at__lte=now - timedelta(days=rules.stamp_expiry_days))
                .values_list("pk", flat=True)
            )
    for card_id in sorted(card_ids):
        ledger.settle_card(merchant=merchant, card=card_id, now=now)
    return len(card_ids)


def _birthday_on(day: date, year: int) -> date:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February in a common year: celebrate on the 28th
        return date(year, 2, 28)


def grant_birthday_bonuses(*, merchant, now: datetime | None = None) -> int:
    """Grant the birthday bonus to customers whose birthday (in the merchant's
    time zone) falls within the next ``birthday_days_before`` days, today
    included. Keyed per customer and birthday year, so a rerun, a missed day
    or an overlapping window never grants it twice. Returns how many were granted."""
    now = now or timezone.now()
    rules = current_rules(merchant=merchant)
    if not rules.uses_points or not rules.birthday_bonus:
        return 0
    today = timezone.localtime(now, merchant.tzinfo).date()
    days = [today + timedelta(days=n) for n in range(rules.birthday_days_before + 1)]
    # Month and day as the end of the ISO date ("…-05-17"): a plain LIKE on both databases
    # (PostgreSQL casts the date to text; SQLite stores it so), where __month/__day make
    # SQLite call a Python function for every customer's row, every day.
    match = Q()
    for day in days:
        match |= Q(birthday__endswith=f"-{day.month:02d}-{day.day:02d}")
        if day.month == 2 and day.day == 28 and not _is_leap(day.year):
            match |= Q(birthday__endswith="-02-29")
    customers = (
        Customer.objects.for_merchant(merchant)
        .filter(match, birthday__isnull=False, cards__status=CardStatus.ACTIVE)
        .values_list("pk", "birthday", "cards__pk")
    )
    due = []
    for customer_id, birthday, card_id in customers:
        # The occurrence inside the window decides the year of the key.
        occurrence = next(_birthday_on(birthday, d.year) for d in days if _birthday_on(birthday, d.year) == d)
        due.append((f"birthday:{customer_id}:{occurrence.year}", card_id, occurrence))
    # A customer stays in the window for ``birthday_days_before`` + 1 days: skip those already
    # granted in one query instead of a locked replay each (grant_bonus still checks under the lock).
    done = set(
        LedgerEntry.objects.for_merchant(merchant)
        .filter(idempotency_key__in=[key for key, _card, _day in due])
        .values_list("idempotency_key", flat=True)
    )
    granted = 0
    for key, card_id, occurrence in due:
        if key in done:
            continue
        entry = ledger.grant_bonus(
            merchant=merchant,
            card=card_id,
            kind=EntryKind.BONUS_BIRTHDAY,
            points=rules.birthday_bonus,
            idempotency_key=key,
            valid_days=rules.birthday_valid_days,
            reason=f"birthday {occurrence.isoformat()}",
            now=now,
        )
        if entry is not None and entry.created_at == now:
            granted += 1
    return granted


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def demote_tiers(*, merchant, now: datetime | None = None) -> int:
    """Nightly: demote cards whose spend in the window no longer reaches their
    tier (only if the program enables demotion). Returns how many moved."""
    now = now or timezone.now()
    rules = current_rules(merchant=merchant)
    if not rules.tier_demotion_enabled or len(rules.tiers) < 2:
        return 0
    lowest = rules.tiers[0]
    thresholds = {t.id: t.threshold for t in rules.tiers}
    cards = Card.objects.for_merchant(merchant).exclude(tier_id=lowest.id).exclude(tier__isnull=True)
    # Spend per card in one query; only cards below their tier are locked and moved.
    spend_filter = Q(purchases__created_at__lte=now)
    if rules.tier_window_months:
        from dateutil.relativedelta import relativedelta

        spend_filter &= Q(purchases__created_at__gt=now - relativedelta(months=rules.tier_window_months))
    rows = cards.annotate(
        spend=Sum(F("purchases__bill_amount") - F("purchases__refunded_amount"), filter=spend_filter)
    ).values_list("pk", "tier_id", "spend")
    moved = 0
    for card_id, tier_id, spend in rows:
        if tier_id in thresholds and (spend or 0) >= thresholds[tier_id]:
            continue
        if ledger.reevaluate_tier(merchant=merchant, card=card_id, now=now) is not None:
            moved += 1
    return moved
