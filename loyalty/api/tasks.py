"""POS API housekeeping tasks (declared in ``loyalty/schedule.py``)."""

from __future__ import annotations

from celery import shared_task

from loyalty.idempotency import purge_idempotent_requests
from loyalty.ledger.tasks import TASK_OPTIONS


# The name is kept from before the move (stored beat schedules refer to it).
@shared_task(name="loyalty.tasks.purge_idempotent_requests_task", **TASK_OPTIONS)
def purge_idempotent_requests_task() -> int:
    """Forget POS API responses stored for Idempotency-Key replays after 30 days."""
    return purge_idempotent_requests()
