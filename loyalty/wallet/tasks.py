"""Wallet pipeline tasks (discovered through loyalty/tasks.py)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_sync(pass_ids: list[int]) -> None:
    """Queue the debounced sync of these passes once the transaction commits."""
    countdown = settings.WALLET_SYNC_DEBOUNCE_SECONDS
    for pass_id in pass_ids:
        transaction.on_commit(lambda pass_id=pass_id: sync_pass_task.apply_async((pass_id,), countdown=countdown))


@shared_task
def sync_pass_task(pass_id: int) -> str:
    return "todo"
