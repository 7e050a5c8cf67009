"""The campaign settings page (owner and marketer): bounds with errors in words, nothing saved on
a bad input, every change audited, defaults used by new campaigns and the cap used by the sender.
The reviews list: answers to the follow-up, newest first, times in the merchant's zone, by rating."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.models import CampaignSettings, Delivery, Feedback, Send
from merchants.models import AuditEvent
from tests.campaigns.conftest import make_customer
from tests.campaigns.support import campaign_for

pytestmark = pytest.mark.django_db

GOOD = {
    "cap_messages": "3",
    "cap_days": "10",
    "exempt_transactional": "on",
    "quiet_start": "22:00",
    "quiet_end": "08:30",
    "default_holdout_percent": "20",
    "default_attribution_days": "30",
    "sender_name": "Zerno",
    "owner_email": "owner@zerno.test",
}


def login(user, language="en") -> Client:
    client = Client(headers={"Accept-Language": language})
    client.force_login(user)
    return client


def test_a_marketer_changes_the_settings_and_the_change_is_audited(merchant, marketer):
    client = login(marketer)
    assert client.get(reverse("campaign_settings")).status_code == 200
    response = client.post(reverse("campaign_settings"), GOOD)
    assert response.status_code == 302
    saved = CampaignSettings.objects.get(merchant=merchant)
    assert (saved.cap_messages, saved.cap_days, saved.quiet_start, saved.quiet_end) == (3, 10, time(22), time(8, 30))
    assert (saved.default_holdout_percent, saved.default_attribution_days, saved.sender_name) == (20, 30, "Zerno")
    [event] = AuditEvent.objects.filter(action="campaigns.settings_changed")
    assert event.merchant_id == merchant.pk and event.actor_id == marketer.pk
    assert event.before["cap_messages"] == 2 and event.after["cap_messages"] == 3
    assert event.before["quiet_start"] == "21:00" and event.after["quiet_start"] == "22:00"
    assert "exempt_transactional" not in event.after  # unchanged fields are not listed

    # Saving the same values again records nothing new.
    client.post(reverse("campaign_settings"), GOOD)
    assert AuditEvent.objects.filter(action="campaigns.settings_changed").count() == 1

    # New campaigns start with the defaults.
    form = client.get(reverse("campaign_create")).context["form"]
    assert (form["holdout_percent"].value(), form["attribution_days"].value()) == (20, 30)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("cap_messages", "0", "From 1 to 20 messages."),
        ("cap_messages", "500", "From 1 to 20 messages."),
        ("cap_messages", "two", "Enter a whole number."),
        ("cap_days", "61", "From 1 to 60 days."),
        ("default_holdout_percent", "95", "From 0 to 90 %."),
        ("default_attribution_days", "0", "From 1 to 90 days."),
        ("quiet_start", "25:00", "Enter the time as HH:MM"),
        ("sender_name", "Зерно", "Latin letters"),
        ("sender_name", "Zerno Coffee Shop", "at most 11 characters"),
        ("owner_email", "not-an-address", "valid email"),
    ],
)
def test_a_bad_value_is_refused_in_words_and_nothing_changes(merchant, owner, field, value, words):
    response = login(owner).post(reverse("campaign_settings"), {**GOOD, field: value})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert any(words in e for e in errors[field]), errors
    current = CampaignSettings.objects.filter(merchant=merchant).first()
    assert current is None or (current.cap_messages, current.sender_name) == (2, "")
    assert not AuditEvent.objects.filter(action="campaigns.settings_changed").exists()


def test_settings_read_in_russian_and_are_closed_to_cashiers(merchant, owner, cashier):
    page = login(owner, "ru").get(reverse("campaign_settings")).content.decode()
    assert "Настройки рассылок" in page and "Тихие часы" in page
    response = login(owner, "ru").post(reverse("campaign_settings"), {**GOOD, "cap_days": "0"})
    assert "От 1 до 60 дней." in response.content.decode()
    assert login(cashier).get(reverse("campaign_settings")).status_code == 403
    assert login(cashier).get(reverse("campaign_feedback")).status_code == 403


def _answer(merchant, campaign, send, customer, rating, comment, when):
    delivery = Delivery.objects.create(
        merchant=merchant,
        campaign=campaign,
        send=send,
        customer=customer,
        occurrence=f"purchase:{customer.pk}",
        channel="email",
        status="sent",
    )
    return Feedback.objects.create(
        merchant=merchant, delivery=delivery, customer=customer, rating=rating, comment=comment, created_at=when
    )


def test_reviews_list_newest_first_in_the_merchants_zone_and_by_rating(merchant, marketer, other_merchant):
    campaign = campaign_for(merchant, name="Как вам у нас?", kind="automation", trigger="post_purchase")
    send = Send.objects.create(merchant=merchant, campaign=campaign, occurrence="day:1")
    anna = make_customer(merchant, 1, name="Анна Петрова")
    boris = make_customer(merchant, 2, name="Борис")
    _answer(merchant, campaign, send, anna, 5, "Отличный кофе", datetime(2026, 11, 29, 21, 30, tzinfo=UTC))
    _answer(merchant, campaign, send, boris, 2, "Долго ждал", datetime(2026, 11, 28, 8, 0, tzinfo=UTC))
    theirs = campaign_for(other_merchant, name="Чужая", kind="automation", trigger="post_purchase")
    their_send = Send.objects.create(merchant=other_merchant, campaign=theirs, occurrence="day:1")
    stranger = make_customer(other_merchant, 3, name="Чужой")
    _answer(other_merchant, theirs, their_send, stranger, 1, "Чужой отзыв", datetime(2026, 11, 29, 9, 0, tzinfo=UTC))

    page = login(marketer, "ru").get(reverse("campaign_feedback")).content.decode()
    assert page.index("Отличный кофе") < page.index("Долго ждал")
    assert "Чужой отзыв" not in page
    # 21:30 UTC on the 29th is 00:30 on the 30th in Moscow.
    assert "30.11.2026 00:30" in page and "5 / 5" in page and "Анна Петрова" in page
    client = login(marketer)
    low = client.get(reverse("campaign_feedback"), {"rating": "2"}).content.decode()
    assert "Долго ждал" in low and "Отличный кофе" not in low and "Борис" in low
    bad = client.get(reverse("campaign_feedback"), {"rating": "9"})
    assert bad.status_code == 400 and "Choose a rating from 1 to 5." in bad.content.decode()
    none = client.get(reverse("campaign_feedback"), {"rating": "3"}).content.decode()
    assert "No reviews with this rating yet." in none
