"""Where people see the pipeline: the dashboard's card page (owner and
marketer; 404 for other merchants) and the support admin."""

# ruff: noqa: F811  (fixtures imported from support modules)

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from loyalty.models import Delivery, WalletPass
from loyalty.wallet import passes
from merchants.models import User
from tests.loyalty.api_support import pos_card, pos_program  # noqa: F401
from tests.wallet.pipeline_support import IPhone, apple_merchant, eager_celery, unzip, wallet_settings  # noqa: F401

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def card_in_wallet(apple_merchant, pos_card, apns_server, eager_celery, django_capture_on_commit_callbacks):
    """A card whose pass is on one iPhone, pushed once, and fetched."""
    wallet_pass = passes.wallet_pass_for(card=pos_card)
    download = Client().get(reverse("wallet_apple_pass", args=[wallet_pass.web_token]))
    pass_json = json.loads(unzip(download.content)["pass.json"])
    phone = IPhone(pass_json["webServiceURL"], pass_json["authenticationToken"])
    assert phone.register(pass_json["passTypeIdentifier"], pass_json["serialNumber"]).status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        passes.mark_cards_changed(merchant=apple_merchant, card_ids=[pos_card.pk])
    assert phone.latest(pass_json["passTypeIdentifier"], pass_json["serialNumber"]).status_code == 200
    return pos_card


@pytest.mark.parametrize("role", ["owner", "marketer"])
def test_card_page_shows_the_wallets(request, role, card_in_wallet):
    user = request.getfixturevalue(role)
    response = logged_in(user).get(reverse("card_detail", args=[card_in_wallet.pk]))
    assert response.status_code == 200
    wallet = response.context["wallet"]
    assert wallet.in_apple_wallet and len(wallet.devices) == 1
    assert not wallet.in_google_wallet
    assert wallet.last_apple_push.status == Delivery.Status.OK
    assert wallet.devices[0].last_push == wallet.last_apple_push
    assert wallet.wallet_pass.last_fetched_at is not None
    text = response.content.decode()
    assert card_in_wallet.number in text
    assert 'data-testid="devices"' in text
    assert "Delivered" in text


def test_card_page_for_a_card_never_opened_in_a_wallet(owner, pos_card, wallet_settings):
    response = logged_in(owner).get(reverse("card_detail", args=[pos_card.pk]))
    assert response.status_code == 200
    assert "has not opened their wallet card yet" in response.content.decode()
    assert not WalletPass.objects.exists()  # looking doesn't create one


def test_card_page_is_not_for_cashiers_nor_other_merchants(cashier, other_owner, pos_card, wallet_settings):
    assert logged_in(cashier).get(reverse("card_detail", args=[pos_card.pk])).status_code == 403
    assert logged_in(other_owner).get(reverse("card_detail", args=[pos_card.pk])).status_code == 404
    assert logged_in(other_owner).get(reverse("card_detail", args=[999999])).status_code == 404


def test_tenancy_walker_covers_the_card_page():
    from tests.test_tenancy import ROUTES

    assert "card_detail" in {route.name for route in ROUTES}
    public = {"wallet_apple_pass", "wallet_google_save", "wallet_passkit_registration", "wallet_passkit_pass"}
    assert not public & {route.name for route in ROUTES}


@pytest.fixture
def support():
    user = User.objects.create_superuser("support@platform.test", "correct-horse-battery")
    return logged_in(user)


def test_admin_shows_devices_pushes_and_fetches_without_secrets(support, card_in_wallet, apple_merchant):
    wallet_pass = WalletPass.objects.get(card=card_in_wallet)
    listing = support.get(reverse("admin:loyalty_walletpass_changelist"), {"q": card_in_wallet.number})
    assert listing.status_code == 200
    assert card_in_wallet.number in listing.content.decode()

    page = support.get(reverse("admin:loyalty_walletpass_change", args=[wallet_pass.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "registered devices" in text.lower()
    assert wallet_pass.authentication_token not in text and wallet_pass.web_token not in text

    assert support.get(reverse("admin:loyalty_delivery_changelist")).status_code == 200
    assert support.get(reverse("admin:loyalty_appledevice_changelist")).status_code == 200
    assert support.get(reverse("admin:loyalty_devicelog_changelist")).status_code == 200
    creds = support.get(reverse("admin:loyalty_walletcredentials_changelist"))
    assert creds.status_code == 200 and "pass.com.example.loyalty" in creds.content.decode()
    detail = support.get(reverse("admin:loyalty_walletcredentials_change", args=[apple_merchant.wallet_credentials.pk]))
    assert detail.status_code == 200 and "PRIVATE KEY" not in detail.content.decode()


def test_admin_resend_action_marks_the_pass(support, card_in_wallet, apns_server, django_capture_on_commit_callbacks):
    wallet_pass = WalletPass.objects.get(card=card_in_wallet)
    apns_server.reset()
    with django_capture_on_commit_callbacks(execute=True):
        response = support.post(
            reverse("admin:loyalty_walletpass_changelist"),
            {"action": "resend_update", "_selected_action": [wallet_pass.pk]},
        )
    assert response.status_code == 302
    assert len(apns_server.requests) == 1


def test_wallet_settings_page_shows_sync_progress(owner, apple_merchant, pos_card):
    wallet_pass = passes.wallet_pass_for(card=pos_card)
    passes.mark_cards_changed(merchant=apple_merchant)
    text = logged_in(owner).get(reverse("wallet_settings")).content.decode()
    assert "1 of 1 still waiting" in text
    WalletPass.objects.filter(pk=wallet_pass.pk).update(needs_sync_since=None)
    assert "up to date" in logged_in(owner).get(reverse("wallet_settings")).content.decode()
