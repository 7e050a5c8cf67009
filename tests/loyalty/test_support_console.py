"""The support console's customer page and its actions (issue 13), through admin's
own views: search by a phone typed any way in any merchant's country, one page
with everything about the customer in the merchant's time zone, correcting the
phone or e-mail and sending the card link again, each with a reason and an audit
record."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from loyalty import ledger
from loyalty.enrollment.services import enroll_customer, record_consent
from loyalty.models import ConsentRecord, Customer
from loyalty.program.services import program_for
from merchants.models import AuditEvent
from merchants.platform_roles import SUPPORT_AGENT
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def agent(client, db):
    user = factories.UserFactory(email="agent@platform.test", merchant=None, role="", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_AGENT))
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return user


@pytest.fixture
def card(merchant, location):
    program_for(merchant=merchant)
    return enroll_customer(
        merchant=merchant, phone="+79165550303", name="Вера", email="vera@example.test", location=location
    )


def search(client, term: str) -> set[int]:
    response = client.get(reverse("admin:loyalty_customer_changelist"), {"q": term})
    assert response.status_code == 200
    return {customer.pk for customer in response.context["cl"].result_list}


@pytest.mark.parametrize("typed", ["8 916 555-03-03", "+7 (916) 555 03 03", "9165550303"])
def test_find_a_customer_by_a_phone_typed_any_way(client, agent, card, typed):
    assert search(client, typed) == {card.customer_id}


def test_a_number_without_country_code_is_read_in_every_merchants_country(client, agent, card):
    uk = factories.MerchantFactory(name="London Coffee", country="GB", currency="GBP", time_zone="Europe/London")
    program_for(merchant=uk)
    british = enroll_customer(merchant=uk, phone="+447911123456", location=factories.LocationFactory(merchant=uk))
    assert search(client, "07911 123456") == {british.customer_id}
    assert search(client, "8 916 555-03-03") == {card.customer_id}


def test_find_by_card_number_barcode_email_and_name(client, agent, card):
    for term in (card.number, card.barcode, "vera@example.test", "Вера"):
        assert search(client, term) == {card.customer_id}, term


def test_the_customer_page_shows_everything_newest_first_in_the_merchants_time_zone(
    client, agent, card, merchant, owner
):
    merchant.time_zone = "Asia/Vladivostok"  # UTC+10
    merchant.save()
    when = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)  # 19:00 in Vladivostok
    ledger.adjust(merchant=merchant, card=card, points=30, reason="Первая", actor=owner, now=when)
    later = when + dt.timedelta(hours=1)
    ledger.adjust(merchant=merchant, card=card, points=40, reason="Вторая", actor=owner, now=later)
    page = client.get(reverse("admin:loyalty_customer_support", args=[card.customer_id]))
    assert page.status_code == 200
    html = page.content.decode()
    ledger_html = html[html.index('id="customer-ledger"') :]
    assert ledger_html.index("Вторая") < ledger_html.index("Первая")
    assert "19:00" in ledger_html and "20:00" in ledger_html
    assert card.number in html and "vera@example.test" in html
    assert 'id="customer-consents"' in html and 'id="customer-audit"' in html
    # The page's audit trail lists what staff did to the card.
    audit_html = html[html.index('id="customer-audit"') :]
    assert "Баланс скорректирован" in audit_html and "owner@zerno.test" in audit_html


def test_correct_phone_and_email_with_a_reason(client, agent, card, merchant):
    consents_before = ConsentRecord.objects.filter(customer=card.customer).count()
    url = reverse("admin:loyalty_customer_contact", args=[card.customer_id])
    refused = client.post(url, {"phone": "8 916 555-04-04", "email": "new@example.test", "reason": ""})
    assert refused.status_code == 200 and refused.context["form"].errors["reason"]
    response = client.post(url, {"phone": "8 916 555-04-04", "email": "New@Example.test", "reason": "Сменила номер"})
    assert response.status_code == 302
    customer = Customer.objects.get(pk=card.customer_id)
    assert (customer.phone, customer.email) == ("+79165550404", "new@example.test")
    assert ConsentRecord.objects.filter(customer=customer).count() == consents_before
    event = AuditEvent.objects.get(action="customer.contact_corrected")
    assert event.before == {"email": "vera@example.test", "phone": "+79165550303"}
    assert event.after == {"email": "new@example.test", "phone": "+79165550404"}
    assert event.reason == "Сменила номер" and event.source == "admin" and event.actor_id == agent.pk


def test_a_phone_of_another_customer_is_refused(client, agent, card, merchant, location):
    other = enroll_customer(merchant=merchant, phone="+79165550505", location=location)
    url = reverse("admin:loyalty_customer_contact", args=[card.customer_id])
    response = client.post(url, {"phone": "+7 916 555 05 05", "email": "", "reason": "Ошибка"})
    assert response.status_code == 200
    assert "уже есть этот номер" in response.content.decode()
    assert Customer.objects.get(pk=card.customer_id).phone == "+79165550303"
    assert other.customer.phone == "+79165550505"
    assert not AuditEvent.objects.filter(action="customer.contact_corrected").exists()


def test_send_the_card_link_again(client, agent, card):
    url = reverse("admin:loyalty_customer_send_link", args=[card.customer_id])
    client.post(url, {"reason": "Клиент потерял ссылку"})
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["vera@example.test"]
    assert re.search(r"https?://\S+/card/\S+", mail.outbox[0].body), mail.outbox[0].body
    event = AuditEvent.objects.get(action="customer.card_link_sent")
    assert event.reason == "Клиент потерял ссылку" and event.target_id == str(card.customer_id)


def test_merchant_staff_and_anonymous_never_see_the_page(client, card, owner):
    url = reverse("admin:loyalty_customer_support", args=[card.customer_id])
    assert client.get(url)["Location"].startswith(reverse("admin:login"))
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(url)["Location"].startswith(reverse("admin:login"))


def test_withdrawn_consent_shows_in_the_history(client, agent, card, merchant):
    record_consent(merchant=merchant, customer=card.customer, granted=False, channel="support", actor=agent)
    html = client.get(reverse("admin:loyalty_customer_support", args=[card.customer_id])).content.decode()
    consents = html[html.index('id="customer-consents"') : html.index('id="customer-audit"')]
    assert "отозвано" in consents and "support" in consents


def test_export_the_customers_data_as_json_and_csv(client, agent, card, merchant, owner):
    ledger.adjust(merchant=merchant, card=card, points=70, reason="Подарок", actor=owner)
    record_consent(merchant=merchant, customer=card.customer, granted=True, channel="qr", text_version="v1")
    response = client.get(reverse("admin:loyalty_customer_export", args=[card.customer_id, "json"]))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    data = response.json()
    assert data["customer"]["phone"] == "+79165550303" and data["customer"]["email"] == "vera@example.test"
    assert [c["number"] for c in data["cards"]] == [card.number]
    assert any(e["reason"] == "Подарок" and e["points"] == 70 for e in data["ledger"])
    assert [(c["granted"], c["channel"], c["text_version"]) for c in data["consents"]] == [(True, "qr", "v1")]
    csv_text = client.get(reverse("admin:loyalty_customer_export", args=[card.customer_id, "csv"])).content.decode()
    assert "customer,1,phone,+79165550303" in csv_text and "Подарок" in csv_text
    events = AuditEvent.objects.filter(action="customer.exported", target_id=str(card.customer_id))
    assert sorted(e.after["format"] for e in events) == ["csv", "json"]
    assert all(e.actor_id == agent.pk for e in events)
    assert client.get(f"/admin/loyalty/customer/{card.customer_id}/export.xml").status_code == 404


def test_the_owner_exports_a_customers_data_from_the_dashboard(client, card, owner, marketer, other_owner):
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("card_detail", args=[card.pk])).content.decode()
    assert reverse("customer_export", args=[card.customer_id, "json"]) in page
    data = client.get(reverse("customer_export", args=[card.customer_id, "json"])).json()
    assert data["customer"]["phone"] == "+79165550303"
    event = AuditEvent.objects.get(action="customer.exported")
    assert (event.actor_id, event.source, event.merchant_id) == (owner.pk, "web", card.merchant_id)
    # A marketer cannot; another merchant's owner gets a 404, like for a missing customer.
    client.force_login(marketer, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("customer_export", args=[card.customer_id, "json"])).status_code == 403
    client.force_login(other_owner, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("customer_export", args=[card.customer_id, "csv"])).status_code == 404


def test_support_withdraws_marketing_consent_with_a_reason(client, agent, card, merchant):
    record_consent(merchant=merchant, customer=card.customer, granted=True, channel="qr", text_version="v1")
    url = reverse("admin:loyalty_customer_withdraw", args=[card.customer_id])
    client.post(url, {"reason": ""})
    assert Customer.objects.get(pk=card.customer_id).marketing_consent
    client.post(url, {"reason": "Позвонила и попросила не писать"})
    customer = Customer.objects.get(pk=card.customer_id)
    assert not customer.marketing_consent
    latest = ConsentRecord.objects.filter(customer=customer).latest("created_at", "pk")
    assert (latest.granted, latest.channel, latest.actor_id) == (False, "support", agent.pk)
    event = AuditEvent.objects.get(action="customer.consent_withdrawn")
    assert event.reason == "Позвонила и попросила не писать"
