"""Celery interfaces of the analytics summaries (declared in analytics/schedule.py).
Each is idempotent: a rerun finds nothing new (refresh) or writes the same
figures again (rebuilds), so ``acks_late`` is safe. They take no arguments:
the summaries cover every merchant at once."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from analytics import summaries

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
