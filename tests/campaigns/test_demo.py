"""The demo loader's campaigns step: after the demo customers and their purchases, two campaigns
with history (a month-old broadcast, a running win-back automation) whose reports show real
figures from the demo purchases; a second run adds nothing; loyalty reaches the step only
through its registry (no import of campaigns)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.models import Campaign, Delivery, DeliveryStatus
from campaigns.reports import campaign_report
from campaigns.sending import in_holdout
from loyalty import demo

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_the_demo_gains_campaigns_with_history_once(merchant, marketer):
    demo.generate(merchant, customers=150, months=8, visit_rate=0.5, end=NOW)
    lines = demo.run_extra_steps(merchant, now=NOW)
    assert lines and "Demo campaigns" in lines[0]
    assert demo.run_extra_steps(merchant, now=NOW) == []  # idempotent

    broadcast = Campaign.objects.get(merchant=merchant, kind="broadcast")
    win_back = Campaign.objects.get(merchant=merchant, kind="automation", trigger="win_back")
    assert (broadcast.status, win_back.status) == ("done", "active")
    for campaign in (broadcast, win_back):
        rows = Delivery.objects.filter(campaign=campaign)
        assert rows.filter(status=DeliveryStatus.SENT).exists()
        assert not rows.filter(status=DeliveryStatus.SENT, sent_at__isnull=True).exists()
        # Held out exactly those the deterministic hash holds out (the win-back's audience is small
        # enough that, with these ids, it may hold out nobody).
        for customer_id, status in rows.values_list("customer_id", "status"):
            held = in_holdout(campaign_id=campaign.pk, customer_id=customer_id, percent=campaign.holdout_percent)
            assert (status == DeliveryStatus.HOLDOUT) is held
        assert campaign_report(campaign=campaign).treated.size > 0
    assert campaign_report(campaign=broadcast).holdout.size > 0
    # Held out ≈ 10 % of the broadcast's audience, deterministically.
    rows = Delivery.objects.filter(campaign=broadcast)
    assert 0.03 < rows.filter(status=DeliveryStatus.HOLDOUT).count() / rows.count() < 0.2
    # Somebody came back within the window after the broadcast: the demo has regulars.
    assert campaign_report(campaign=broadcast).treated.returned > 0
    # Win-back went only to customers away 60 days or more when it was sent.
    for delivery in Delivery.objects.filter(campaign=win_back).select_related("customer"):
        last = delivery.customer.cards.get().last_purchase_at
        assert last is not None and delivery.created_at - last >= timedelta(days=60)

    client = Client()
    client.force_login(marketer)
    page = client.get(reverse("campaign_detail", args=[broadcast.pk])).content.decode()
    assert 'data-testid="report"' in page
