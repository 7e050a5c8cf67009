"""Live progress during a real send: a marketer presses Send in Chromium, a real Celery worker
process on Redis (not eager) sends the wallet campaign in small chunks, and the page's counters
climb to the total without the page being reloaded; once the send has finished, the page reloads
itself once for its new status and report."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from campaigns.models import CampaignSettings, Delivery
from tests.browser import logged_in_page, screenshot
from tests.campaigns import test_killed_worker
from tests.campaigns.conftest import make_customer
from tests.campaigns.support import campaign_for
from tests.campaigns.test_sending import install_wallet

DESKTOP = {"width": 1280, "height": 900}
CUSTOMERS = 120

pytestmark = [pytest.mark.browser]

# Every value the "sent" counter shows, reported to the test as it changes (window.recordSent is a
# Playwright binding, so the values outlive the page's final reload).
WATCH = """() => {
  const el = document.querySelector('[data-testid="progress"] [data-key="sent"]');
  window.recordSent(el.textContent);
  new MutationObserver(() => window.recordSent(el.textContent))
    .observe(el, {childList: true, characterData: true, subtree: true});
}"""


@pytest.mark.django_db(transaction=True)
def test_the_counters_climb_while_a_real_worker_sends(live_server, browser, marketer, merchant, settings, monkeypatch):
    from config.celery import app

    customers = [make_customer(merchant, n, name=f"Гость{n}") for n in range(1, CUSTOMERS + 1)]
    for customer in customers:
        install_wallet(customer)
    campaign = campaign_for(merchant, channels=["wallet"], body="{first_name}, ждём вас!")
    CampaignSettings.objects.update_or_create(
        merchant=merchant, defaults={"quiet_start": "00:00", "quiet_end": "00:00"}
    )
    settings.CELERY_TASK_ALWAYS_EAGER = False
    queue = app.conf.task_default_queue
    app.control.purge()
    # Small chunks: many short tasks, so the send lasts long enough to be watched.
    monkeypatch.setattr(test_killed_worker, "CHUNK", 5)
    worker = test_killed_worker.start_worker(queue, f"progress-{os.getpid()}@test")
    try:
        page = logged_in_page(browser, live_server, marketer, viewport=DESKTOP, locale="ru-RU")
        page.goto(f"{live_server.url}/dashboard/campaigns/{campaign.pk}/")
        page.get_by_test_id("send").click()
        progress = page.get_by_test_id("progress")
        expect(progress).to_be_visible()
        page.wait_for_load_state("load")  # the page after Send has loaded before the reloads are counted
        seen: list[str] = []
        page.expose_function("recordSent", lambda value: seen.append(value))
        loads: list[str] = []
        page.on("load", lambda p: loads.append(p.url))
        page.evaluate(WATCH)
        # The counter climbs on the same page: it shows several values before the send ends.
        expect(page.get_by_test_id("campaign-status")).to_have_text("Отправлена", timeout=180_000)
        expect(progress.locator("[data-key=sent]")).to_have_text(str(CUSTOMERS))
        expect(progress.locator("[data-key=remaining]")).to_have_text("0")
        screenshot(page, "campaign-features-09-live-progress-done")
        assert len(set(seen)) >= 2 and seen[-1] == str(CUSTOMERS), seen
        # One reload, when the send had finished (the badge above comes from it), and no other.
        assert len(loads) == 1, loads
        assert Delivery.objects.filter(campaign=campaign, status="sent").count() == CUSTOMERS
    finally:
        worker.terminate()
        worker.wait(timeout=30)
