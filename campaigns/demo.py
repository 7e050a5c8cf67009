"""Demo campaigns with history, so the campaign pages and reports have something to show on the
first start: a broadcast sent a month ago and a win-back automation that has been running for a
few weeks. Registered as a step of the demo loader (``loyalty.demo.register_demo_step``) from
``CampaignsConfig.ready``; loyalty never imports campaigns.

The history is the sending side's own rows (a send, one delivery per customer with the
deterministic holdout); returns, revenue and redemptions in the reports come from the demo's real
purchases after each message, so the uplift shown is whatever the demo history holds (honestly
close to none: the demo customers did not read these messages). No ledger rows are written in
the past (the offers carry no points), so ``verify_ledger`` is unaffected. Idempotent."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max

from loyalty.models import Customer

from .models import Campaign, Delivery, DeliveryStatus, Kind, Send, SendStatus, Status, Trigger
from .sending import in_holdout

BROADCAST = "Осеннее меню: тыквенный латте"
WIN_BACK = "Скучаем по вам"
MAX_AUDIENCE = 1500


def seed_demo_campaigns(merchant, *, now: datetime) -> str | None:
    if Campaign.objects.for_merchant(merchant).filter(name__in=(BROADCAST, WIN_BACK)).exists():
        return None
    customers = Customer.objects.for_merchant(merchant)
    if not customers.exists():
        return None
    with transaction.atomic():
        sent_at = now - timedelta(days=30)
        broadcast = Campaign.objects.create(
            merchant=merchant,
            name=BROADCAST,
            kind=Kind.BROADCAST,
            channels=["wallet", "email"],
            subject="Тыквенный латте вернулся",
            body="{first_name}, осеннее меню уже в «Зерне»: тыквенный латте и пироги. У вас {balance} баллов.",
            holdout_percent=10,
            attribution_days=14,
            status=Status.DONE,
            send_at=sent_at,
            created_at=sent_at - timedelta(hours=2),
            updated_at=sent_at,
        )
        audience = list(
            customers.filter(marketing_consent=True, created_at__lt=sent_at)
            .order_by("pk")
            .values_list("pk", "email")[:MAX_AUDIENCE]
        )
        _history(broadcast, "once", [(pk, email, sent_at) for pk, email in audience])

        # Win-back: customers whose last purchase was 60+ days before the day the message went.
        started = now - timedelta(days=28)
        win_back = Campaign.objects.create(
            merchant=merchant,
            name=WIN_BACK,
            kind=Kind.AUTOMATION,
            trigger=Trigger.WIN_BACK,
            trigger_days=60,
            channels=["wallet", "email"],
            subject="Давно не виделись",
            body="{first_name}, мы скучаем! Заходите на кофе — на карте {balance} баллов.",
            holdout_percent=10,
            attribution_days=14,
            status=Status.ACTIVE,
            created_at=started,
            updated_at=started,
        )
        lapsed = (
            customers.filter(marketing_consent=True)
            .annotate(last=Max("cards__last_purchase_at"))
            .filter(last__lt=started - timedelta(days=60))
            .order_by("pk")
            .values_list("pk", "email", "last")[:MAX_AUDIENCE]
        )
        rows = [(pk, email, max(started, last + timedelta(days=60))) for pk, email, last in lapsed]
        _history(win_back, "win_back", rows)
    return f"Demo campaigns: “{BROADCAST}” and “{WIN_BACK}” with their history"


def _history(campaign: Campaign, occurrence: str, rows: list[tuple[int, str, datetime]]) -> None:
    if not rows:
        return
    first = min(at for _pk, _email, at in rows)
    send = Send.objects.create(
        merchant=campaign.merchant,
        campaign=campaign,
        occurrence=occurrence,
        status=SendStatus.DONE,
        created_at=first,
        heartbeat_at=first,
        finished_at=max(at for _pk, _email, at in rows),
    )
    deliveries = []
    for n, (pk, email, at) in enumerate(rows):
        held = in_holdout(campaign_id=campaign.pk, customer_id=pk, percent=campaign.holdout_percent)
        channel = "email" if email and n % 3 == 0 else "wallet"
        # A few e-mails bounce, as they do.
        failed = channel == "email" and n % 41 == 0
        status = DeliveryStatus.HOLDOUT if held else (DeliveryStatus.FAILED if failed else DeliveryStatus.SENT)
        deliveries.append(
            Delivery(
                merchant=campaign.merchant,
                campaign=campaign,
                send=send,
                customer_id=pk,
                occurrence=occurrence if occurrence == "once" else f"win_back:{at.date()}",
                channel=channel,  # held-out rows keep the channel they would have had (the report needs it)
                status=status,
                reason="550 5.1.1 mailbox unavailable" if status == DeliveryStatus.FAILED else "",
                capped=True,
                attempts=0 if held else 1,
                claimed_at=None if held else at,
                sent_at=at if status == DeliveryStatus.SENT else None,
                created_at=at,
            )
        )
    Delivery.objects.bulk_create(deliveries, batch_size=500)
