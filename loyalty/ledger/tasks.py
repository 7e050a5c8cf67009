"""Celery tasks: interfaces that take ids, re-fetch, and call one service.

The periodic ones are dispatchers (declared in ``loyalty/schedule.py``): they
run every hour in UTC and fan out one task per merchant. "Nightly" and
"birthday" are decided in each merchant's own time zone: a merchant is picked
when its local clock shows the configured hour. Every task is idempotent
(a rerun writes nothing new), so ``acks_late`` is safe.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.db.models import Q
from django.utils import timezone

from loyalty.ledger import jobs
from loyalty.models import Lot, Program
from merchants.models import Merchant

logger = logging.getLogger(__name__)

# Local hours (merchant time zone) at which the daily jobs run.
NIGHTLY_LOCAL_HOUR = 3
BIRTHDAY_LOCAL_HOUR = 9

# Task names are kept from before the ledger became a package (they were in
# ``loyalty/tasks.py``): stored beat schedules and queued messages refer to them.
TASK_OPTIONS = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
    "soft_time_limit": 20 * 60,
    "time_limit": 25 * 60,
}


def _merchant(merchant_id: int) -> Merchant | None:
    merchant = Merchant.objects.filter(pk=merchant_id, is_active=True).first()
    if merchant is None:
        logger.info("merchant %s is gone or inactive; nothing to do", merchant_id)
    return merchant


def _now(now_iso: str | None) -> datetime:
    return datetime.fromisoformat(now_iso) if now_iso else timezone.now()


def merchants_at_local_hour(hour: int, now: datetime) -> list[int]:
    return [m.pk for m in Merchant.objects.filter(is_active=True) if timezone.localtime(now, m.tzinfo).hour == hour]


# --- dispatchers (beat) ----------------------------------------------------------------------


@shared_task(name="loyalty.tasks.expire_points_task", **TASK_OPTIONS)
def expire_points_task() -> int:
    """Hourly: every merchant with an expired or due-for-activation lot, or with stamps that can expire."""
    now = timezone.now()
    due = Q(expires_at__lte=now) | Q(activated_at__isnull=True, available_at__lte=now)
    ids = set(Lot.objects.filter(due, remaining__gt=0).values_list("merchant_id", flat=True).distinct())
    ids |= set(Program.objects.filter(stamp_expiry_days__isnull=False).values_list("merchant_id", flat=True))
    for merchant_id in sorted(ids):
        settle_merchant_cards_task.delay(merchant_id)
    return len(ids)


@shared_task(name="loyalty.tasks.activate_pending_points_task", **TASK_OPTIONS)
def activate_pending_points_task() -> int:
    """Every few minutes: merchants with pending points whose delay has passed."""
    now = timezone.now()
    ids = sorted(
        set(
            Lot.objects.filter(activated_at__isnull=True, available_at__lte=now, remaining__gt=0)
            .values_list("merchant_id", flat=True)
            .distinct()
        )
    )
    for merchant_id in ids:
        settle_merchant_cards_task.delay(merchant_id, pending_only=True)
    return len(ids)


@shared_task(name="loyalty.tasks.birthday_bonuses_task", **TASK_OPTIONS)
def birthday_bonuses_task() -> int:
    ids = merchants_at_local_hour(BIRTHDAY_LOCAL_HOUR, timezone.now())
    for merchant_id in ids:
        grant_birthday_bonuses_task.delay(merchant_id)
    return len(ids)


@shared_task(name="loyalty.tasks.nightly_tier_demotion_task", **TASK_OPTIONS)
def nightly_tier_demotion_task() -> int:
    ids = merchants_at_local_hour(NIGHTLY_LOCAL_HOUR, timezone.now())
    for merchant_id in ids:
        demote_tiers_task.delay(merchant_id)
    return len(ids)


# --- per merchant ----------------------------------------------------------------------------


@shared_task(name="loyalty.tasks.settle_merchant_cards_task", **TASK_OPTIONS)
def settle_merchant_cards_task(merchant_id: int, pending_only: bool = False, now_iso: str | None = None) -> int:
    merchant = _merchant(merchant_id)
    if merchant is None:
        return 0
    return jobs.settle_due_cards(merchant=merchant, now=_now(now_iso), pending_only=pending_only)


@shared_task(name="loyalty.tasks.grant_birthday_bonuses_task", **TASK_OPTIONS)
def grant_birthday_bonuses_task(merchant_id: int, now_iso: str | None = None) -> int:
    merchant = _merchant(merchant_id)
    if merchant is None:
        return 0
    return jobs.grant_birthday_bonuses(merchant=merchant, now=_now(now_iso))


@shared_task(name="loyalty.tasks.demote_tiers_task", **TASK_OPTIONS)
def demote_tiers_task(merchant_id: int, now_iso: str | None = None) -> int:
    merchant = _merchant(merchant_id)
    if merchant is None:
        return 0
    return jobs.demote_tiers(merchant=merchant, now=_now(now_iso))
