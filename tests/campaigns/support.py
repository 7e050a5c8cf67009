"""Helpers for the sending tests: a campaign, and running a send to the end the way the tasks do
(fan-out chunk by chunk, then each chunk's pending rows), in this process."""

from __future__ import annotations

from datetime import datetime

from campaigns import sending
from campaigns.models import Campaign, Send


def campaign_for(merchant, **fields) -> Campaign:
    defaults = {
        "name": "Осенние новости",
        "kind": "broadcast",
        "subject": "Новости «Зерна»",
        "body": "{first_name}, у вас {balance} баллов.",
        "channels": ["telegram", "email", "sms"],
        "holdout_percent": 0,
    }
    return Campaign.objects.create(merchant=merchant, **{**defaults, **fields})


def run_send(campaign: Campaign, *, occurrence: str = "once", now: datetime | None = None) -> Send:
    send, _ = sending.start_send(campaign=campaign, occurrence=occurrence, now=now)
    finished = False
    while not finished:
        pending, finished = sending.fan_out_chunk(send_id=send.pk, now=now)
        if pending:
            sending.send_deliveries(send_id=send.pk, delivery_ids=pending, now=now)
    sending.finish_if_done(send_id=send.pk, now=now or send.created_at)
    send.refresh_from_db()
    return send


def run_due(*, now: datetime) -> None:
    """What the dispatcher does with deferred rows whose time has come."""
    for send_id, ids in sending.due_deferred(now=now):
        sending.send_deliveries(send_id=send_id, delivery_ids=ids, now=now)
