"""The PassKit web service contract (wallet spec §2 and §6.4), endpoint by
endpoint, through Django's test client with CSRF checks on."""

# ruff: noqa: F811  (fixtures imported from support modules)

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from loyalty.enrollment.services import enroll_customer
from loyalty.models import AppleDevice, AppleRegistration, DeviceLog, WalletPass
from loyalty.program.services import program_for
from loyalty.wallet import passes
from tests.wallet.pipeline_support import IPhone, apple_merchant, unzip, wallet_settings  # noqa: F401

pytestmark = pytest.mark.django_db

TYPE = "pass.com.example.loyalty"
WEB_SERVICE = "https://loyalty.test/wallet/passkit/"


@pytest.fixture
def card_of(apple_merchant, location):
    program_for(merchant=apple_merchant)
    counter = iter(range(1000, 9999))

    def make():
        return enroll_customer(merchant=apple_merchant, phone=f"+7916123{next(counter):04d}", location=location)

    return make


@pytest.fixture
def issued(card_of):
    """A pass as issued by a download (its pass type recorded)."""

    def make() -> WalletPass:
        wallet_pass = passes.wallet_pass_for(card=card_of())
        response = Client().get(reverse("wallet_apple_pass", args=[wallet_pass.web_token]))
        assert response.status_code == 200
        wallet_pass.refresh_from_db()
        assert wallet_pass.pass_type_identifier == TYPE
        return wallet_pass

    return make


def phone_for(wallet_pass: WalletPass) -> IPhone:
    phone = IPhone(WEB_SERVICE, wallet_pass.authentication_token)
    phone.client = Client(enforce_csrf_checks=True)
    return phone


# --- register ------------------------------------------------------------------------------------


def test_register_201_then_200_and_renews_the_push_token(issued):
    wallet_pass = issued()
    phone = phone_for(wallet_pass)
    assert phone.register(TYPE, wallet_pass.serial_number).status_code == 201
    registration = AppleRegistration.objects.get(wallet_pass=wallet_pass)
    assert registration.merchant_id == wallet_pass.merchant_id
    phone.push_token = "ff" * 32
    assert phone.register(TYPE, wallet_pass.serial_number).status_code == 200
    assert AppleRegistration.objects.filter(wallet_pass=wallet_pass).count() == 1
    assert AppleDevice.objects.get(device_library_identifier=phone.device_id).push_token == "ff" * 32
    assert AppleRegistration.objects.get(pk=registration.pk).updated_at > registration.updated_at


@pytest.mark.parametrize(
    "token", [None, "", "wrong", "x" * 32], ids=["no header", "empty", "short wrong", "long wrong"]
)
def test_register_refuses_a_bad_token(issued, token):
    wallet_pass = issued()
    phone = phone_for(wallet_pass)
    if token is None:
        response = phone.client.post(
            f"/wallet/passkit/v1/devices/{phone.device_id}/registrations/{TYPE}/{wallet_pass.serial_number}",
            json.dumps({"pushToken": phone.push_token}),
            content_type="application/json",
        )
    else:
        response = phone.register(TYPE, wallet_pass.serial_number, token=token)
    assert response.status_code == 401
    assert not AppleRegistration.objects.exists() and not AppleDevice.objects.exists()


def test_register_refuses_an_unknown_serial_or_another_pass_type(issued):
    wallet_pass = issued()
    phone = phone_for(wallet_pass)
    assert phone.register(TYPE, "no-such-serial").status_code == 401
    assert phone.register("pass.com.example.other", wallet_pass.serial_number).status_code == 401
    # Another pass's token doesn't open this one.
    other = issued()
    assert phone.register(TYPE, wallet_pass.serial_number, token=other.authentication_token).status_code == 401
    assert not AppleRegistration.objects.exists()


@pytest.mark.parametrize("body", ["", "not json", "[]", '{"pushToken": ""}', '{"pushToken": "../etc"}', '{"x": 1}'])
def test_register_needs_a_push_token(issued, body):
    wallet_pass = issued()
    phone = phone_for(wallet_pass)
    response = phone.client.post(
        f"/wallet/passkit/v1/devices/{phone.device_id}/registrations/{TYPE}/{wallet_pass.serial_number}",
        body,
        content_type="application/json",
        headers={"Authorization": f"ApplePass {wallet_pass.authentication_token}"},
    )
    assert response.status_code == 400
    assert not AppleDevice.objects.exists()


# --- unregister ----------------------------------------------------------------------------------


def test_unregister_removes_the_registration_and_then_the_device(issued):
    first, second = issued(), issued()
    phone = phone_for(first)
    assert phone.register(TYPE, first.serial_number).status_code == 201
    assert phone.register(TYPE, second.serial_number, token=second.authentication_token).status_code == 201

    assert phone.unregister(TYPE, first.serial_number, token="x" * 32).status_code == 401
    assert AppleRegistration.objects.count() == 2

    assert phone.unregister(TYPE, first.serial_number).status_code == 200
    assert list(AppleRegistration.objects.values_list("wallet_pass_id", flat=True)) == [second.pk]
    assert AppleDevice.objects.filter(device_library_identifier=phone.device_id).exists()

    assert phone.unregister(TYPE, second.serial_number, token=second.authentication_token).status_code == 200
    assert not AppleRegistration.objects.exists()
    assert not AppleDevice.objects.exists()
    # Unregistering again is harmless.
    assert phone.unregister(TYPE, second.serial_number, token=second.authentication_token).status_code == 200


# --- list of updated serials -----------------------------------------------------------------------


def test_serials_updated_since_a_tag_include_every_later_update(issued, apple_merchant):
    first, second, unregistered = issued(), issued(), issued()
    phone = phone_for(first)
    phone.register(TYPE, first.serial_number)
    phone.register(TYPE, second.serial_number, token=second.authentication_token)

    everything = phone.serials(TYPE)
    assert everything.status_code == 200
    assert sorted(everything.json()["serialNumbers"]) == sorted([first.serial_number, second.serial_number])
    tag = everything.json()["lastUpdated"]
    assert isinstance(tag, str) and tag.isdigit()
    assert phone.serials(TYPE, since=tag).status_code == 204

    # Two passes updated at different moments, both after the tag: both are returned
    # (the peer bug returned only those updated at the latest moment).
    now = timezone.now() + timedelta(seconds=5)
    passes.mark_cards_changed(merchant=apple_merchant, card_ids=[first.card_id], now=now)
    middle = str(WalletPass.objects.get(pk=first.pk).update_tag)
    passes.mark_cards_changed(merchant=apple_merchant, card_ids=[second.card_id], now=now + timedelta(seconds=7))
    passes.mark_cards_changed(merchant=apple_merchant, card_ids=[unregistered.card_id], now=now + timedelta(seconds=9))

    both = phone.serials(TYPE, since=tag).json()
    assert sorted(both["serialNumbers"]) == sorted([first.serial_number, second.serial_number])
    assert both["lastUpdated"] == str(WalletPass.objects.get(pk=second.pk).update_tag)
    assert isinstance(both["lastUpdated"], str)
    assert phone.serials(TYPE, since=middle).json()["serialNumbers"] == [second.serial_number]
    assert phone.serials(TYPE, since=both["lastUpdated"]).status_code == 204
    # A tag it can't read counts as none.
    assert len(phone.serials(TYPE, since="garbage").json()["serialNumbers"]) == 2


def test_serials_for_an_unknown_device_or_type_are_204(issued):
    wallet_pass = issued()
    phone = phone_for(wallet_pass)
    phone.register(TYPE, wallet_pass.serial_number)
    assert phone.serials("pass.com.example.other").status_code == 204
    phone.device_id = "unknown-device"
    assert phone.serials(TYPE).status_code == 204


# --- latest pass -----------------------------------------------------------------------------------


def test_latest_pass_with_last_modified_and_304(issued, apple_merchant):
    wallet_pass = issued()
    phone = phone_for(wallet_pass)
    response = phone.latest(TYPE, wallet_pass.serial_number)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.pkpass"
    modified = response["Last-Modified"]
    assert modified.endswith("GMT")
    assert json.loads(unzip(response.content)["pass.json"])["serialNumber"] == wallet_pass.serial_number

    assert phone.latest(TYPE, wallet_pass.serial_number, if_modified_since=modified).status_code == 304
    older = "Mon, 01 Jan 2024 00:00:00 GMT"
    assert phone.latest(TYPE, wallet_pass.serial_number, if_modified_since=older).status_code == 200
    assert phone.latest(TYPE, wallet_pass.serial_number, if_modified_since="not a date").status_code == 200

    # A change within the same second still gives a newer pass.
    passes.mark_cards_changed(merchant=apple_merchant, card_ids=[wallet_pass.card_id])
    changed = phone.latest(TYPE, wallet_pass.serial_number, if_modified_since=modified)
    assert changed.status_code == 200 and changed["Last-Modified"] != modified
    assert WalletPass.objects.get(pk=wallet_pass.pk).last_fetched_at is not None


def test_latest_pass_refuses_bad_tokens_and_types(issued):
    wallet_pass = issued()
    phone = phone_for(wallet_pass)
    assert phone.latest(TYPE, wallet_pass.serial_number, token="y" * 40).status_code == 401
    assert phone.latest(TYPE, "unknown").status_code == 401
    assert phone.latest("pass.com.example.other", wallet_pass.serial_number).status_code == 401
    assert WalletPass.objects.get(pk=wallet_pass.pk).last_fetched_at is None


def test_latest_pass_when_the_certificate_was_removed_is_503(issued, apple_merchant):
    from loyalty.wallet import credentials as wallet_credentials

    wallet_pass = issued()
    wallet_credentials.remove_apple_certificate(merchant=apple_merchant)
    response = phone_for(wallet_pass).latest(TYPE, wallet_pass.serial_number)
    assert response.status_code == 503
    assert response["Retry-After"]


# --- log ---------------------------------------------------------------------------------------------


def test_device_log_is_stored(issued):
    phone = phone_for(issued())
    line = "[2026-11-25 10:00:00 +0300] Register task (for device abc) encountered error: Unexpected response code 401"
    assert phone.log(line, "second line").status_code == 200
    assert list(DeviceLog.objects.order_by("pk").values_list("message", flat=True)) == [line, "second line"]
    bad = phone.client.post("/wallet/passkit/v1/log", "nope", content_type="application/json")
    assert bad.status_code == 400
    assert (
        phone.client.post("/wallet/passkit/v1/log", '{"logs": "x"}', content_type="application/json").status_code == 400
    )
    assert DeviceLog.objects.count() == 2
    # Only POST.
    assert phone.client.get("/wallet/passkit/v1/log").status_code == 405


# --- customer download ----------------------------------------------------------------------------------


def test_pass_download_without_any_certificate_is_a_clear_404(merchant, location, owner, wallet_settings):
    program_for(merchant=merchant)
    card = enroll_customer(merchant=merchant, phone="+79161112233", location=location)
    wallet_pass = passes.wallet_pass_for(card=card)
    response = Client().get(reverse("wallet_apple_pass", args=[wallet_pass.web_token]))
    assert response.status_code == 404
    # Issue 12: the customer is sent to the web card, without the merchant's set-up instructions;
    # the merchant's staff still read why.
    assert "no pass certificate" not in response.content.decode()
    assert reverse("webcard", args=[wallet_pass.web_token]) in response.content.decode()
    staff = Client()
    staff.force_login(owner)
    response = staff.get(reverse("wallet_apple_pass", args=[wallet_pass.web_token]))
    assert response.status_code == 404
    assert "no pass certificate" in response.content.decode()
    assert Client().get(reverse("wallet_apple_pass", args=["nope"])).status_code == 404


def test_http_site_address_turns_apple_off_in_production(apple_merchant, issued, settings):
    wallet_pass = issued()
    settings.PUBLIC_BASE_URL = "http://loyalty.test"
    settings.DEBUG = False
    availability = passes.wallets_available(merchant=apple_merchant)
    assert not availability.apple and "HTTPS" in availability.apple_reason
    assert Client().get(reverse("wallet_apple_pass", args=[wallet_pass.web_token])).status_code == 404
    settings.DEBUG = True
    assert passes.wallets_available(merchant=apple_merchant).apple


def test_wallet_pass_for_is_stable(card_of):
    card = card_of()
    first = passes.wallet_pass_for(card=card)
    again = passes.wallet_pass_for(card=card)
    assert first.pk == again.pk
    assert len(first.authentication_token) >= 16
    assert len({first.serial_number, first.authentication_token, first.web_token}) == 3
