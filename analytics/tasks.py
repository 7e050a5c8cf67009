"""Celery interfaces of the analytics app (periodic ones declared in analytics/schedule.py).
Each is idempotent: a rerun finds nothing new (refresh, import), or writes the same
figures again (rebuilds, predictions), so ``acks_late`` is safe. The summaries cover
every merchant at once; imports and predictions take ids and re-fetch."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from analytics import imports, predictions, summaries
from analytics.models import ImportJob
from merchants.models import Merchant

logger = logging.getLogger(__name__)

TASK_OPTIONS = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
}


@shared_task(name="analytics.tasks.refresh_summaries_task", soft_time_limit=4 * 60, time_limit=5 * 60, **TASK_OPTIONS)
def refresh_summaries_task() -> dict[str, int]:
    result = summaries.refresh()
    return {"purchases": result.purchases, "refunds": result.refunds, "entries": result.entries, "cards": result.cards}


@shared_task(name="analytics.tasks.nightly_summaries_task", soft_time_limit=40 * 60, time_limit=45 * 60, **TASK_OPTIONS)
def nightly_summaries_task() -> None:
    summaries.rebuild()
    summaries.rebuild_cohorts()


@shared_task(name="analytics.tasks.import_customers_task", soft_time_limit=55 * 60, time_limit=60 * 60, **TASK_OPTIONS)
def import_customers_task(job_id: int) -> None:
    job = ImportJob.objects.select_related("merchant", "created_by").filter(pk=job_id).first()
    if job is None:
        logger.info("import %s is gone; nothing to do", job_id)
        return
    # A retry after a crash finds the job RUNNING: carry on from its last chunk.
    if job.status == ImportJob.Status.RUNNING:
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
        job.status = ImportJob.Status.QUEUED
    try:
        imports.run(job=job)
    except imports.ImportFileError:
        # The stored file cannot be read (it was checked at upload, so this is a lost or
        # corrupted file): retrying will not help; say so on the page.
        logger.exception("import %s: the stored file cannot be read", job_id)
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED, finished_at=timezone.now())


# --- predicted customer value (nightly) --------------------------------------------------------

# Local hour (merchant time zone) of the nightly fit: a quiet hour for the merchant.
PREDICTION_LOCAL_HOUR = 4


@shared_task(name="analytics.tasks.fit_predictions_dispatch_task", **TASK_OPTIONS)
def fit_predictions_dispatch_task(now_iso: str | None = None) -> None:
    """Hourly: queue the fit of every active merchant whose local clock shows PREDICTION_LOCAL_HOUR."""
    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    for merchant in Merchant.objects.filter(is_active=True).only("pk", "time_zone"):
        if timezone.localtime(now, merchant.tzinfo).hour == PREDICTION_LOCAL_HOUR:
            fit_predictions_task.delay(merchant.pk)


@shared_task(name="analytics.tasks.fit_predictions_task", soft_time_limit=25 * 60, time_limit=30 * 60, **TASK_OPTIONS)
def fit_predictions_task(merchant_id: int) -> None:
    merchant = Merchant.objects.filter(pk=merchant_id, is_active=True).first()
    if merchant is None:
        logger.info("merchant %s is gone or inactive; nothing to fit", merchant_id)
        return
    predictions.fit_merchant(merchant=merchant)
