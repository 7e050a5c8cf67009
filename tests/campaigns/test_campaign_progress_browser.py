"""A campaign's page follows a send in progress (static/js/campaign-progress.js polls the progress URL):
the figures change as deliveries are written, without reloading the page; when the send has finished,
the page shows its new status by itself."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from campaigns.models import Campaign, Delivery, DeliveryStatus, Send, Status
from tests.browser import logged_in_page, screenshot
from tests.campaigns.conftest import make_customer

pytestmark = pytest.mark.browser


def test_the_campaign_page_follows_a_send_in_progress(live_server, transactional_db, browser, marketer, merchant):
    customers = [make_customer(merchant, n) for n in (1, 2)]
    campaign = Campaign.objects.create(
        merchant=merchant, name="Новости", body="Привет", channels=["email"], kind="broadcast", status=Status.SENDING
    )
    send = Send.objects.create(merchant=merchant, campaign=campaign, occurrence="once")
    first, second = (
        Delivery.objects.create(merchant=merchant, campaign=campaign, send=send, customer=customer, occurrence="once")
        for customer in customers
    )
    page = logged_in_page(browser, live_server, marketer, viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("campaign_detail", args=[campaign.pk]))
    progress = page.get_by_test_id("progress")
    expect(progress.locator("[data-key=remaining]")).to_have_text("2")
    expect(progress.locator("[data-key=sent]")).to_have_text("0")

    Delivery.objects.filter(pk=first.pk).update(status=DeliveryStatus.SENT)
    expect(progress.locator("[data-key=sent]")).to_have_text("1", timeout=20_000)
    expect(progress.locator("[data-key=remaining]")).to_have_text("1")

    Delivery.objects.filter(pk=second.pk).update(status=DeliveryStatus.DELIVERED)
    expect(progress.locator("[data-key=delivered]")).to_have_text("1", timeout=20_000)
    expect(progress.locator("[data-key=sent]")).to_have_text("2")
    expect(progress.locator("[data-key=remaining]")).to_have_text("0")
    screenshot(page, "campaigns-progress-live", full_page=False)

    # The send finishes: the badge says so without the marketer reloading the page.
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.DONE)
    expect(page.get_by_test_id("campaign-status")).to_have_text("Отправлена", timeout=20_000)
    screenshot(page, "campaigns-progress-finished", full_page=False)
