"""Support reissues a pass from the card page (issue 13), through admin's own
views: new serial, authentication token and web link; the old pass stops
updating (registrations gone, 401 for the old serial and token, old web link
404); the customer gets the new link; recorded with the reason."""

# ruff: noqa: F811  (fixtures imported from support modules)

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from loyalty.enrollment.services import enroll_customer
from loyalty.ledger.verification import verify_ledger
from loyalty.models import AppleRegistration, WalletPass
from loyalty.program.services import program_for
from loyalty.wallet import passes
from merchants.models import AuditEvent
from merchants.platform_roles import SUPPORT_AGENT
from tests import factories
from tests.wallet.pipeline_support import IPhone, apple_merchant, unzip, wallet_settings  # noqa: F401

pytestmark = pytest.mark.django_db

TYPE = "pass.com.example.loyalty"
WEB_SERVICE = "https://loyalty.test/wallet/passkit/"


@pytest.fixture
def agent_client(db):
    user = factories.UserFactory(email="agent@platform.test", merchant=None, is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_AGENT))
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    client.user = user
    return client


def test_reissue_gives_a_new_pass_and_the_old_one_stops_updating(apple_merchant, location, agent_client):
    program_for(merchant=apple_merchant)
    card = enroll_customer(merchant=apple_merchant, phone="+79161230001", email="ann@example.test", location=location)
    old = passes.wallet_pass_for(card=card)
    assert Client().get(reverse("wallet_apple_pass", args=[old.web_token])).status_code == 200
    old.refresh_from_db()
    phone = IPhone(WEB_SERVICE, old.authentication_token)
    phone.client = Client(enforce_csrf_checks=True)
    assert phone.register(TYPE, old.serial_number).status_code == 201
    assert phone.latest(TYPE, old.serial_number).status_code == 200
    cache.clear()
    mail.outbox.clear()

    url = reverse("admin:loyalty_card_reissue", args=[card.pk])
    assert agent_client.get(url).status_code == 200
    refused = agent_client.post(url, {"reason": "  "})
    assert refused.status_code == 200 and WalletPass.objects.get(pk=old.pk).serial_number == old.serial_number

    response = agent_client.post(url, {"reason": "Phone lost, customer asked for a new pass"})
    assert response.status_code == 302

    new = WalletPass.objects.get(pk=old.pk)
    assert new.serial_number != old.serial_number
    assert new.authentication_token != old.authentication_token
    assert new.web_token != old.web_token
    # The old pass stops updating: no registration left to push to, and the web service refuses it.
    assert not AppleRegistration.objects.filter(wallet_pass=new).exists()
    assert phone.latest(TYPE, old.serial_number).status_code == 401
    assert phone.register(TYPE, old.serial_number).status_code == 401
    assert Client().get(reverse("webcard", args=[old.web_token])).status_code == 404
    # The new one works.
    assert Client().get(reverse("webcard", args=[new.web_token])).status_code == 200
    fresh = IPhone(WEB_SERVICE, new.authentication_token)
    fresh.client = Client(enforce_csrf_checks=True)
    assert Client().get(reverse("wallet_apple_pass", args=[new.web_token])).status_code == 200
    assert fresh.latest(TYPE, new.serial_number).status_code == 200
    # The customer got the new link.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ann@example.test"]
    assert new.web_token in mail.outbox[0].body and old.web_token not in mail.outbox[0].body
    event = AuditEvent.objects.get(action="card.pass_reissued")
    assert event.actor_id == agent_client.user.pk and event.merchant_id == apple_merchant.pk
    assert event.reason == "Phone lost, customer asked for a new pass"
    assert event.before == {"serial_number": old.serial_number}
    assert event.after == {"serial_number": new.serial_number}
    assert verify_ledger().ok


def test_without_an_email_staff_see_the_new_link(apple_merchant, location, agent_client):
    program_for(merchant=apple_merchant)
    card = enroll_customer(merchant=apple_merchant, phone="+79161230002", location=location)
    response = agent_client.post(
        reverse("admin:loyalty_card_reissue", args=[card.pk]), {"reason": "Asked at the till"}, follow=True
    )
    new = WalletPass.objects.get(card=card)
    assert new.web_token in response.content.decode()
    assert not mail.outbox


def test_block_and_unblock_from_the_customer_page_and_the_pass_and_web_card_say_so(
    apple_merchant, location, agent_client
):
    program_for(merchant=apple_merchant)
    card = enroll_customer(merchant=apple_merchant, phone="+79161230003", location=location)
    wallet_pass = passes.wallet_pass_for(card=card)
    assert Client().get(reverse("wallet_apple_pass", args=[wallet_pass.web_token])).status_code == 200
    wallet_pass.refresh_from_db()
    phone = IPhone(WEB_SERVICE, wallet_pass.authentication_token)
    phone.client = Client(enforce_csrf_checks=True)

    def pass_json() -> dict:
        return json.loads(unzip(phone.latest(TYPE, wallet_pass.serial_number).content)["pass.json"])

    def back_values() -> list[str]:
        return [f["value"] for f in pass_json()["storeCard"].get("backFields", [])]

    blocked_text = "This card is blocked. Please ask at the counter."
    assert "voided" not in pass_json() and blocked_text not in back_values()

    page = agent_client.get(reverse("admin:loyalty_customer_support", args=[card.customer_id])).content.decode()
    block_url = reverse("admin:loyalty_card_block", args=[card.pk])
    assert block_url in page
    assert agent_client.post(block_url, {"reason": ""}).status_code == 200  # a reason is required
    card.refresh_from_db()
    assert not card.is_blocked

    assert agent_client.post(block_url, {"reason": "Fraud suspected"}).status_code == 302
    card.refresh_from_db()
    assert card.is_blocked
    assert pass_json()["voided"] is True and blocked_text in back_values()
    russian = unzip(phone.latest(TYPE, wallet_pass.serial_number).content)["ru.lproj/pass.strings"].decode()
    assert "Карта заблокирована" in russian
    web = Client().get(reverse("webcard", args=[wallet_pass.web_token])).content.decode()
    assert "This card is blocked" in web
    event = AuditEvent.objects.get(action="card.blocked")
    assert event.reason == "Fraud suspected" and event.actor_id == agent_client.user.pk
    assert verify_ledger().ok

    assert agent_client.post(block_url, {"reason": "Checked with the owner"}).status_code == 302
    card.refresh_from_db()
    assert not card.is_blocked
    assert "voided" not in pass_json() and blocked_text not in back_values()
    assert "This card is blocked" not in Client().get(reverse("webcard", args=[wallet_pass.web_token])).content.decode()
    assert AuditEvent.objects.get(action="card.unblocked").reason == "Checked with the owner"
    assert verify_ledger().ok
