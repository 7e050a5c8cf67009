"""The post-purchase follow-up's feedback page: the follow-up (beat's dispatcher → send task →
SMTP fake) carries a signed link; the customer opens it (a real browser, over the live server),
rates the visit and comments; the bonus for answering is granted once through the ledger; a
rating of 2 or less is e-mailed to the owner once. Dates are relative to now (the link's
signature ages with the real clock); quiet hours are off so the send does not depend on it.
Screenshots: artifacts/feedback-*.png."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from celery import current_app
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from playwright.sync_api import expect

from campaigns import feedback as feedback_service
from campaigns.models import Campaign, CampaignSettings, Delivery, Feedback
from loyalty.enrollment.services import enroll_customer
from loyalty.ledger import purchase
from loyalty.models import Card, LedgerEntry
from loyalty.program.services import program_for
from tests.browser import PHONE, screenshot
from tests.wallet.pipeline_support import eager_celery  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("eager_celery")
LINK = re.compile(r"https?://\S+/f/[^/\s]+/")


def dispatch():
    entry = PeriodicTask.objects.get(name="campaigns: dispatcher")
    return current_app.tasks[entry.task].apply().get()


def follow_up_sent(merchant, smtp_server, *, bonus=50, n=1, body="{first_name}, как вам у нас?"):
    """A customer bought 3 days and an hour ago; the follow-up automation's e-mail has gone.
    Returns (card, link)."""
    call_command("setup_periodic_tasks", verbosity=0)
    CampaignSettings.objects.update_or_create(
        merchant=merchant, defaults={"quiet_start": "00:00", "quiet_end": "00:00"}
    )
    program_for(merchant=merchant)
    now = timezone.now()
    card = enroll_customer(
        merchant=merchant,
        phone=f"+7916{n:07d}",
        name="Анна",
        email=f"c{n}@example.test",
        marketing_consent=True,
        consent_channel="qr",
        consent_text_version="v1",
        now=now - timedelta(days=10),
    )
    purchase(
        merchant=merchant,
        card=card,
        location=None,
        bill_amount=Decimal("300"),
        redeem_points=0,
        redeem_rewards=0,
        receipt_id=f"R-{n}",
        idempotency_key=f"k-{n}",
        now=now - timedelta(days=3, hours=1),
    )
    Campaign.objects.get_or_create(
        merchant=merchant,
        name="Как вам у нас?",
        defaults={
            "kind": "automation",
            "trigger": "post_purchase",
            "trigger_days": 3,
            "status": "active",
            "holdout_percent": 0,
            "channels": ["email"],
            "body": body,
            "feedback_bonus": bonus,
            "offer_valid_days": 30,
        },
    )
    dispatch()
    [mail] = smtp_server.to(card.customer.email)
    text = mail.part("text/plain").replace("\r\n", "\n")
    match = LINK.search(text)
    assert match, text
    return card, match.group(0), text


@pytest.mark.browser
def test_a_customer_rates_the_visit_low_gets_the_bonus_once_and_the_owner_hears(
    live_server, transactional_db, browser, merchant, owner, smtp_server, settings
):
    settings.PUBLIC_BASE_URL = live_server.url
    card, link, text = follow_up_sent(merchant, smtp_server)
    assert text.startswith("Анна, как вам у нас?\n")
    balance_before = Card.objects.get(pk=card.pk).balance

    context = browser.new_context(viewport=PHONE, locale="ru-RU")
    page = context.new_page()
    page.goto(link)
    expect(page.locator("h1")).to_have_text(f"{merchant.name}: как вам у нас?")
    expect(page.get_by_test_id("feedback")).to_contain_text("50 баллов")
    screenshot(page, "feedback-01-form-phone-ru")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.locator(".rating-choices label").nth(1).click()  # 2 of 5
    page.locator("#feedback-comment").fill("Долго ждали заказ")
    page.get_by_test_id("feedback-send").click()
    expect(page.get_by_test_id("feedback-bonus")).to_have_text("50 баллов на вашей карте.")
    screenshot(page, "feedback-02-thanks-phone-ru")

    delivery = Delivery.objects.get(customer=card.customer)
    answer = Feedback.objects.get(delivery=delivery)
    assert (answer.rating, answer.comment, answer.bonus_points) == (2, "Долго ждали заказ", 50)
    assert Card.objects.get(pk=card.pk).balance == balance_before + 50
    bonus = LedgerEntry.objects.get(idempotency_key=f"feedback:{delivery.pk}")
    assert (bonus.kind, bonus.points) == ("bonus_campaign", 50)
    [alert] = smtp_server.to("owner@zerno.test")
    assert "2 из 5" in alert.message["Subject"]
    body = alert.message.get_content()
    assert "Долго ждали заказ" in body and card.customer.phone in body

    # The page again (reload, back button): answered already; nothing paid or sent twice.
    page.goto(link)
    expect(page.get_by_test_id("feedback-thanks")).to_have_text("Вы уже ответили. Спасибо!")
    response = requests.post(link, data={"rating": "1", "comment": "ещё раз"}, timeout=10)
    assert response.status_code == 403  # no CSRF token: refused before anything is read
    assert Feedback.objects.count() == 1
    assert LedgerEntry.objects.filter(idempotency_key__startswith="feedback:").count() == 1
    assert len(smtp_server.to("owner@zerno.test")) == 1


@pytest.mark.django_db(transaction=True)
def test_answers_are_kept_once_and_only_low_ratings_are_mailed(client, merchant, owner, smtp_server):
    card, link, _ = follow_up_sent(merchant, smtp_server, body="Оцените визит: {feedback_link}", bonus=0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    path = "/" + path
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "How was your visit to" in page.content.decode()
    assert "Answer and get" not in page.content.decode()  # no bonus for answering in this campaign

    # A rating outside 1–5 is explained, nothing stored.
    bad = client.post(path, {"rating": "6", "comment": "x"}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 400 and "Choose a rating from 1 to 5." in bad.content.decode()
    assert not Feedback.objects.exists()

    good = client.post(path, {"rating": "4", "comment": "Вкусно\x00"}, HTTP_ACCEPT_LANGUAGE="en")
    assert good.status_code == 200 and "Thank you!" in good.content.decode()
    again = client.post(path, {"rating": "1", "comment": "передумал"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "You have already answered." in again.content.decode()
    [answer] = Feedback.objects.all()
    assert (answer.rating, answer.comment, answer.bonus_points) == (4, "Вкусно", 0)
    assert not LedgerEntry.objects.filter(idempotency_key__startswith="feedback:").exists()
    assert smtp_server.to("owner@zerno.test") == []  # 4 of 5: no alert


@pytest.mark.django_db
def test_the_link_is_signed_and_only_for_follow_ups(client, merchant):
    assert client.get("/f/not-a-token/").status_code == 404
    other = Campaign.objects.create(merchant=merchant, name="x", body="x", channels=["email"], kind="broadcast")
    assert feedback_service.delivery_for_token(feedback_service.feedback_token(delivery_id=999999)) is None
    from campaigns.models import Send
    from tests.campaigns.conftest import make_customer

    customer = make_customer(merchant, 5)
    send = Send.objects.create(merchant=merchant, campaign=other, occurrence="once")
    delivery = Delivery.objects.create(
        merchant=merchant, campaign=other, send=send, customer=customer, occurrence="once"
    )
    token = feedback_service.feedback_token(delivery_id=delivery.pk)
    assert client.get(f"/f/{token}/").status_code == 404
    assert client.get(f"/f/{token[:-2]}xx/").status_code == 404


@pytest.mark.django_db
def test_the_owner_address_from_the_campaign_settings_wins(merchant, owner):
    CampaignSettings.objects.update_or_create(merchant=merchant, defaults={"owner_email": "boss@zerno.test"})
    assert feedback_service.owner_addresses(merchant=merchant) == ["boss@zerno.test"]
    CampaignSettings.objects.filter(merchant=merchant).update(owner_email="")
    assert feedback_service.owner_addresses(merchant=merchant) == ["owner@zerno.test"]
