"""The new campaign pages in Chromium, in Russian and English: the settings page (a bad value
refused in words, then saved), a recurring campaign's schedule (weekly on chosen days, switched
on), the reviews list filtered by rating, and the till showing a campaign's discount to the
cashier and applying it. Screenshots: artifacts/campaign-features-*.png."""

# The fixtures are imported from api_support, so pytest arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from playwright.sync_api import expect

from campaigns.models import Campaign, CampaignSettings, Delivery, Feedback, Send
from loyalty.ledger import grant_offer
from loyalty.models import CardOffer, Purchase
from tests.browser import PHONE, logged_in_page, screenshot
from tests.campaigns.conftest import make_customer
from tests.campaigns.support import campaign_for
from tests.loyalty.api_support import pos_card, pos_program  # noqa: F401 (fixtures)

DESKTOP = {"width": 1280, "height": 900}
LOCALES = ["ru-RU", "en-US"]

WORDS = {
    "ru-RU": {
        "cap_error": "От 1 до 20 сообщений.",
        "saved": "Настройки рассылок сохранены.",
        "schedule": "Каждую неделю: понедельник, четверг в 10:00 (Europe/Moscow)",
        "active": "Активна",
        "offer": "Скидка 10 % по рассылке «Вернитесь к нам»: действует на этот чек",
        "applied": "Скидка 10 % по рассылке «Вернитесь к нам»: применена",
        "till": "Касса",
    },
    "en-US": {
        "cap_error": "From 1 to 20 messages.",
        "saved": "Campaign settings saved.",
        "schedule": "Every week: Monday, Thursday at 10:00 (Europe/Moscow)",
        "active": "Active",
        "offer": "−10 % off from campaign «Вернитесь к нам»: applies to this bill",
        "applied": "−10 % off from campaign «Вернитесь к нам»: applied",
        "till": "Till",
    },
}

pytestmark = [pytest.mark.browser]


@pytest.mark.parametrize("locale", LOCALES)
def test_settings_page_refuses_in_words_then_saves(live_server, transactional_db, browser, marketer, merchant, locale):
    words, tag = WORDS[locale], locale[:2]
    page = logged_in_page(browser, live_server, marketer, viewport=DESKTOP, locale=locale)
    page.goto(f"{live_server.url}/dashboard/campaigns/settings/")
    form = page.get_by_test_id("campaign-settings")
    form.locator("[name=cap_messages]").fill("50")
    form.locator("[name=quiet_start]").fill("22:00")
    form.get_by_test_id("save").click()
    expect(page.locator(".field-errors")).to_contain_text(words["cap_error"])
    screenshot(page, f"campaign-features-01-settings-error-{tag}")
    assert not CampaignSettings.objects.filter(merchant=merchant, cap_messages=50).exists()
    form = page.get_by_test_id("campaign-settings")
    form.locator("[name=cap_messages]").fill("3")
    form.get_by_test_id("save").click()
    expect(page.locator("body")).to_contain_text(words["saved"])
    screenshot(page, f"campaign-features-02-settings-saved-{tag}")
    saved = CampaignSettings.objects.get(merchant=merchant)
    assert (saved.cap_messages, saved.quiet_start.hour) == (3, 22)


@pytest.mark.parametrize("locale", LOCALES)
def test_a_recurring_campaign_is_scheduled_weekly_and_switched_on(
    live_server, transactional_db, browser, marketer, merchant, locale
):
    words, tag = WORDS[locale], locale[:2]
    page = logged_in_page(browser, live_server, marketer, viewport=DESKTOP, locale=locale)
    page.goto(f"{live_server.url}/dashboard/campaigns/new/")
    form = page.get_by_test_id("campaign-form")
    schedule = page.get_by_test_id("recurrence")
    expect(schedule).to_be_hidden()
    form.locator("[name=name]").fill("Новинки недели")
    form.locator("[name=kind]").select_option("recurring")
    expect(schedule).to_be_visible()
    form.locator("[name=channel_1]").select_option("email")
    form.locator("[name=body]").fill("{first_name}, у нас новинки!")
    schedule.locator("[name=repeat]").select_option("weekly")
    schedule.locator("[name=repeat_time]").fill("10:00")
    schedule.locator("[name=repeat_weekdays][value='1']").check()
    schedule.locator("[name=repeat_weekdays][value='4']").check()
    schedule.scroll_into_view_if_needed()
    screenshot(page, f"campaign-features-03-recurring-form-{tag}")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("schedule")).to_have_text(words["schedule"])
    page.get_by_test_id("activate").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text(words["active"])
    screenshot(page, f"campaign-features-04-recurring-on-{tag}")
    campaign = Campaign.objects.get(merchant=merchant)
    task = PeriodicTask.objects.get(pk=campaign.periodic_task_id)
    assert task.enabled and (task.crontab.hour, task.crontab.day_of_week) == ("10", "1,4")


@pytest.mark.parametrize("locale", LOCALES)
def test_reviews_are_listed_and_filtered_by_rating(live_server, transactional_db, browser, owner, merchant, locale):
    tag = locale[:2]
    campaign = campaign_for(merchant, name="Как вам у нас?", kind="automation", trigger="post_purchase")
    send = Send.objects.create(merchant=merchant, campaign=campaign, occurrence="day:1")
    now = timezone.now()
    for n, (rating, comment) in enumerate([(5, "Отличный кофе"), (2, "Долго ждал"), (4, "")], start=1):
        customer = make_customer(merchant, n, name=f"Гость {n}")
        delivery = Delivery.objects.create(
            merchant=merchant, campaign=campaign, send=send, customer=customer, occurrence=f"p:{n}", status="sent"
        )
        Feedback.objects.create(
            merchant=merchant,
            delivery=delivery,
            customer=customer,
            rating=rating,
            comment=comment,
            created_at=now - timedelta(hours=n),
        )
    page = logged_in_page(browser, live_server, owner, viewport=DESKTOP, locale=locale)
    page.goto(f"{live_server.url}/dashboard/campaigns/reviews/")
    rows = page.get_by_test_id("reviews").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Отличный кофе")
    screenshot(page, f"campaign-features-05-reviews-{tag}")
    page.locator("#rating").select_option("2")
    page.get_by_test_id("rating-filter").locator("button").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Долго ждал")
    screenshot(page, f"campaign-features-06-reviews-low-{tag}")


@pytest.mark.parametrize("locale", LOCALES)
def test_the_till_shows_and_applies_a_campaign_discount(
    live_server, transactional_db, browser, cashier, merchant, location, pos_card, locale
):
    words, tag = WORDS[locale], locale[:2]
    campaign = campaign_for(merchant, name="Вернитесь к нам", channels=["wallet"], offer_discount_percent=10)
    grant_offer(
        merchant=merchant,
        card=pos_card.pk,
        kind="discount",
        discount_percent=Decimal(10),
        valid_days=7,
        source=campaign.offer_source,
        label=campaign.name,
        idempotency_key="browser-offer",
    )
    page = logged_in_page(browser, live_server, cashier, viewport=PHONE, locale=locale)
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/dashboard/till/")
    page.fill("#find-q", pos_card.number)
    page.keyboard.press("Enter")
    expect(page.locator("#customer")).to_be_visible()
    page.fill("#bill", "500")
    expect(page.get_by_test_id("till-offer")).to_have_text(words["offer"])
    screenshot(page, f"campaign-features-07-till-offer-{tag}")
    page.click("#confirm")
    expect(page.get_by_test_id("till-offer-applied")).to_have_text(words["applied"])
    screenshot(page, f"campaign-features-08-till-applied-{tag}")
    purchase = Purchase.objects.get(card=pos_card)
    assert (purchase.discount_amount, purchase.amount_paid) == (Decimal("50.00"), Decimal("450.00"))
    assert CardOffer.objects.get(card=pos_card).purchase_id == purchase.pk
