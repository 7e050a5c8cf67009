"""Celery tasks of the campaigns app (interfaces: take ids, call a service, enqueue the next step).

``dispatch_campaigns_task`` runs every minute from beat (declared in ``campaigns/schedule.py``):
it starts due broadcasts, takes over stalled sends, re-queues deferred deliveries (quiet hours,
retry backoff) and evaluates the automations' triggers. The sending tasks are idempotent (each
delivery is claimed before it is sent), so they are acknowledged late and may run twice.
"""

from __future__ import annotations

import logging
from functools import partial

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from . import feedback, sending
from .models import Campaign, Send

logger = logging.getLogger(__name__)

TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "time_limit": 10 * 60, "soft_time_limit": 9 * 60}


@shared_task(**TASK_OPTIONS)
def fan_out_task(send_id: int) -> int:
    """Add delivery rows chunk by chunk (progress stored on the send); each chunk's pending rows
    are queued for sending as soon as the chunk commits."""
    chunks = 0
    while True:
        with transaction.atomic():
            pending, finished = sending.fan_out_chunk(send_id=send_id)
            if pending:
                transaction.on_commit(partial(send_deliveries_task.delay, send_id, pending))
        if finished:
            sending.finish_if_done(send_id=send_id, now=timezone.now())
            return chunks
        chunks += 1


@shared_task(**TASK_OPTIONS)
def send_deliveries_task(send_id: int, delivery_ids: list[int]) -> dict:
    outcome = sending.send_deliveries(send_id=send_id, delivery_ids=delivery_ids)
    return {"sent": outcome.sent, "failed": outcome.failed, "skipped": outcome.skipped, "retry": len(outcome.retry)}


@shared_task(**TASK_OPTIONS)
def run_recurring_campaign_task(campaign_id: int) -> int | None:
    """Fired by the campaign's own django-celery-beat entry."""
    campaign = Campaign.objects.select_related("merchant").filter(pk=campaign_id).first()
    if campaign is None or campaign.status not in ("active", "scheduled"):
        return None
    now = timezone.now()
    send, created = sending.start_send(
        campaign=campaign, occurrence=sending.recurring_occurrence(campaign=campaign, now=now), now=now
    )
    if created:
        fan_out_task.delay(send.pk)
    return send.pk


@shared_task(time_limit=5 * 60, soft_time_limit=4 * 60)
def dispatch_campaigns_task() -> dict:
    now = timezone.now()
    started = sending.claim_due_broadcasts(now=now)
    for send_id in started:
        fan_out_task.delay(send_id)
    takeover = sending.resume_stalled(now=now)
    for send_id in takeover.fan_out:
        fan_out_task.delay(send_id)
    chunks = takeover.chunks + sending.due_deferred(now=now)
    for send_id, ids in chunks:
        send_deliveries_task.delay(send_id, ids)
    fired = _fire_triggers(now)
    return {
        "started": len(started),
        "taken_over": len(takeover.fan_out) + len(takeover.chunks),
        "requeued": len(chunks),
        "triggered": fired,
    }


def _fire_triggers(now) -> int:
    try:
        from . import triggers
    except ImportError:  # the triggers module is optional while it is being built
        return 0
    fired = 0
    for send_id, ids in triggers.evaluate(now=now):
        send_deliveries_task.delay(send_id, ids)
        fired += len(ids)
    return fired


def enqueue_send(send: Send) -> None:
    transaction.on_commit(partial(fan_out_task.delay, send.pk))


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=5, **TASK_OPTIONS)
def alert_low_rating_task(feedback_id: int) -> bool:
    """E-mail a low rating from the feedback page to the owner (once; SMTP errors retry)."""
    return feedback.alert_low_rating(feedback_id=feedback_id)
