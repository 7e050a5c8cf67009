"""Celery tasks of segments: the nightly RFM recompute.

The beat entry (``campaigns/schedule.py``) runs the dispatcher every hour; it
picks the merchants whose local clock shows ``RFM_LOCAL_HOUR`` and queues one
task per merchant. Recomputing is idempotent (same data, same scores), so
``acks_late`` and retries are safe.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from campaigns.segments.rfm import recompute_rfm
from merchants.models import Merchant

logger = logging.getLogger(__name__)

RFM_LOCAL_HOUR = 4

TASK_OPTIONS = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
    "soft_time_limit": 20 * 60,
    "time_limit": 25 * 60,
}


@shared_task(name="campaigns.tasks.recompute_rfm_task", **TASK_OPTIONS)
def recompute_rfm_task(now_iso: str | None = None) -> list[int]:
    """Hourly: queue the RFM recompute for merchants at their local night hour."""
    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    ids = [
        m.pk
        for m in Merchant.objects.filter(is_active=True).order_by("pk")
        if timezone.localtime(now, m.tzinfo).hour == RFM_LOCAL_HOUR
    ]
    for merchant_id in ids:
        recompute_rfm_for_merchant_task.delay(merchant_id)
    return ids


@shared_task(name="campaigns.tasks.recompute_rfm_for_merchant_task", **TASK_OPTIONS)
def recompute_rfm_for_merchant_task(merchant_id: int) -> int:
    merchant = Merchant.objects.filter(pk=merchant_id, is_active=True).first()
    if merchant is None:
        logger.info("merchant %s is gone or inactive; no RFM to compute", merchant_id)
        return 0
    return recompute_rfm(merchant=merchant)
