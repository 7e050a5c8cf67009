"""Support reissues a pass from the card page (issue 13), through admin's own
views: new serial, authentication token and web link; the old pass stops
updating (registrations gone, 401 for the old serial and token, old web link
404); the customer gets the new link; recorded with the reason."""

# ruff: noqa: F811  (fixtures imported from support modules)

from __future__ import annotations

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
from tests.wallet.pipeline_support import IPhone, apple_merchant, wallet_settings  # noqa: F401

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
