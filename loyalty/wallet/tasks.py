"""Wallet pipeline tasks.

Interfaces only: they take ids, re-fetch, and call ``loyalty.wallet.passes``.
The sync is debounced by its countdown (WALLET_SYNC_DEBOUNCE_SECONDS) and
made once-only by the claim in ``passes.sync_pass``; every task is idempotent.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from loyalty.models import AppleRegistration, WalletPass
from loyalty.wallet import credentials as wallet_credentials
from loyalty.wallet import debounce, google, passes

logger = logging.getLogger(__name__)

DB_ERRORS = (OperationalError, InterfaceError)
TASK_OPTIONS = {
    "autoretry_for": DB_ERRORS,
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
    "soft_time_limit": 60,
    "time_limit": 90,
}
BULK_BATCH = 500
# A marked pass whose task is older than this was lost (worker killed): the sweep re-queues it.
LOST_AFTER = timedelta(minutes=3)


def _backoff(retries: int, base: float = 5.0, cap: float = 600.0) -> float:
    return min(cap, base * 2**retries) * (0.5 + random.random() / 2)


def _follow_up(pass_id: int, outcome) -> None:
    if outcome.push_retry_ids:
        apple_push_task.apply_async((pass_id, outcome.push_retry_ids), countdown=_backoff(0))
    if outcome.google == "retry":
        google_sync_task.apply_async((pass_id,), countdown=_backoff(0))


@shared_task(**TASK_OPTIONS)
def sync_pass_task(pass_id: int) -> str:
    """Send a changed card to every wallet it is in (once per burst of changes)."""

    outcome = passes.sync_pass(pass_id=pass_id)
    # What failed transiently is retried on its own: Apple went out to the
    # other devices already, and Google may fail while Apple succeeded.
    _follow_up(pass_id, outcome)
    return outcome.status


@shared_task(bind=True, **{**TASK_OPTIONS, "max_retries": 6})
def apple_push_task(self, pass_id: int, registration_ids: list[int]) -> str:
    """Pushes that APNs throttled (429) or failed (5xx, network) after the
    client's own quick retries: again, later, for those devices only."""

    wallet_pass = WalletPass.objects.filter(pk=pass_id).first()
    if wallet_pass is None:
        return "gone"
    outcome = passes.push_apple(wallet_pass=wallet_pass, registration_ids=registration_ids)
    if outcome.retry_ids:
        if self.request.retries >= self.max_retries:
            logger.warning("APNs: giving up on %d pushes of pass %s", len(outcome.retry_ids), pass_id)
            return "gave up"
        raise self.retry(args=(pass_id, outcome.retry_ids), countdown=_backoff(self.request.retries + 1))
    return f"delivered {outcome.delivered}"


@shared_task(
    **{**TASK_OPTIONS, "autoretry_for": (*DB_ERRORS, google.RetryableError), "retry_backoff": 10, "max_retries": 6}
)
def google_sync_task(pass_id: int) -> str:

    wallet_pass = WalletPass.objects.filter(pk=pass_id).first()
    if wallet_pass is None:
        return "gone"
    return passes.sync_google(wallet_pass=wallet_pass) or "not in Google Wallet"


@shared_task(**{**TASK_OPTIONS, "soft_time_limit": 25 * 60, "time_limit": 30 * 60})
def sync_merchant_passes_task(merchant_id: int) -> int:
    """Many marked passes of one merchant (a design published to every card):
    claimed in batches; each batch's pushes go out in one APNs fan-out, and
    each Google object gets its own task."""

    total = 0
    while True:
        claimed = passes.claim_marked_passes(merchant_id=merchant_id, limit=BULK_BATCH)
        if not claimed:
            return total
        total += len(claimed)
        outcome = passes.push_many(
            wallet_passes=[wp for wp, _ in claimed],
            new_message_pass_ids={wp.pk for wp, new in claimed if new},
        )
        if outcome.retry_ids:
            by_pass: dict[int, list[int]] = {}
            for reg_id, pass_id in AppleRegistration.objects.filter(pk__in=outcome.retry_ids).values_list(
                "pk", "wallet_pass_id"
            ):
                by_pass.setdefault(pass_id, []).append(reg_id)
            for pass_id, ids in by_pass.items():
                apple_push_task.apply_async((pass_id, ids), countdown=_backoff(0))
        for wallet_pass, _new in claimed:
            if wallet_pass.google_object_id:
                google_sync_task.delay(wallet_pass.pk)


@shared_task(**TASK_OPTIONS)
def drain_due_syncs_task(token: str) -> int:
    """Queue the syncs of the passes whose debounce window has closed (the due
    set, ``debounce``), then run again when the next one is due, while any are."""

    pass_ids, next_due = debounce.drain(token)
    for pass_id in pass_ids:
        sync_pass_task.delay(pass_id)
    if next_due is not None:
        drain_due_syncs_task.apply_async((token,), countdown=max(0.0, next_due - time.time()))
    return len(pass_ids)


# --- beat jobs (declared in loyalty/schedule.py) ------------------------------------------------


@shared_task(**TASK_OPTIONS)
def sweep_lost_wallet_syncs_task() -> int:
    """Every few minutes: passes marked long ago whose sync task never ran."""

    ids = passes.stale_marked_passes(older_than=LOST_AFTER)
    for pass_id in ids:
        sync_pass_task.delay(pass_id)
    return len(ids)


@shared_task(**{**TASK_OPTIONS, "soft_time_limit": 10 * 60, "time_limit": 12 * 60})
def cleanup_wallet_registrations_task() -> dict:

    return passes.cleanup_stale_registrations()


@shared_task(**TASK_OPTIONS)
def warn_wallet_certificate_expiry_task() -> int:
    return wallet_credentials.warn_expiring_certificates(now=timezone.now())
