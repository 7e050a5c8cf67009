"""Celery interfaces of the analytics app: take ids, re-fetch, call one service.
Each is idempotent (a rerun writes nothing new), so ``acks_late`` is safe."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from analytics import imports
from analytics.models import ImportJob

logger = logging.getLogger(__name__)

TASK_OPTIONS = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
}


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
    imports.run(job=job)
