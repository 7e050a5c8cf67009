"""Acting as Google, against the fake Google Wallet API and token endpoint:
the object is inserted before the save link is given out (and the link names
only its id); a purchase through the POS API patches the object with the new
balance; messages notify at most 3 times per card per 24 hours."""

# ruff: noqa: F811  (fixtures imported from support modules)

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from google.auth import crypt
from google.auth import jwt as google_jwt

from loyalty.ledger import set_card_blocked
from loyalty.models import Delivery, WalletPass
from loyalty.wallet import passes
from tests.loyalty.api_support import pos, pos_card, pos_key, pos_program  # noqa: F401
from tests.wallet.pipeline_support import ISSUER_ID, eager_celery, google_merchant, wallet_settings  # noqa: F401

pytestmark = pytest.mark.django_db


def buy(pos, card, bill: str) -> dict:
    body = {"card_number": card.number, "bill_amount": bill, "receipt_id": f"R-{uuid.uuid4().hex[:8]}"}
    response = pos.post("/purchases/", body)
    assert response.status_code == 201, response.content
    return response.json()


def verified_claims(fake_google, token: str) -> dict:
    """The save link's claims, after checking its RS256 signature with the service account's public key."""
    signed, signature = token.rsplit(".", 1)
    verifier = crypt.RSAVerifier.from_string(fake_google.public_key(google_jwt.decode_header(token)["kid"]))
    assert verifier.verify(signed.encode(), base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    return google_jwt.decode(token, verify=False)


def save(wallet_pass) -> str:
    response = Client().get(reverse("wallet_google_save", args=[wallet_pass.web_token]))
    assert response.status_code == 302, response.content
    return response["Location"]


def test_object_is_inserted_before_the_save_link_and_a_purchase_patches_it(
    google_merchant, pos, pos_card, fake_google, eager_celery, django_capture_on_commit_callbacks
):
    wallet_pass = passes.wallet_pass_for(card=pos_card)
    link = save(wallet_pass)

    # The object (and its class) exist at Google before the customer gets the link.
    object_id = f"{ISSUER_ID}.{wallet_pass.serial_number}"
    assert object_id in fake_google.objects
    inserted = fake_google.objects[object_id]
    assert inserted["classId"] in fake_google.classes
    assert inserted["classId"] == f"{ISSUER_ID}.m{google_merchant.pk}-v0"
    assert inserted["state"] == "ACTIVE"
    assert inserted["barcode"] == {
        "type": "QR_CODE",
        "value": pos_card.barcode,
        "alternateText": inserted["barcode"]["alternateText"],
    }
    assert inserted["loyaltyPoints"]["balance"] == {"int": 0}
    # …in that order: class, object, then the link (no call after it).
    posts = [c.path for c in fake_google.calls if c.method == "POST" and c.path != "/token"]
    assert posts == ["/walletobjects/v1/loyaltyClass", "/walletobjects/v1/loyaltyObject"]

    # The link is short and its JWT names only the object id.
    assert link.startswith("https://pay.google.com/gp/v/save/")
    assert len(link) <= 1800
    token = link.rsplit("/", 1)[1]
    claims = verified_claims(fake_google, token)
    assert claims["aud"] == "google"
    assert claims["payload"] == {"loyaltyObjects": [{"id": object_id}]}
    assert claims["typ"] == "savetowallet"

    # The logo Google fetches is served by us.
    logo_uri = fake_google.classes[inserted["classId"]]["programLogo"]["sourceUri"]["uri"]
    assert logo_uri.startswith("https://loyalty.test/wallet/art/")
    logo = Client().get(logo_uri.removeprefix("https://loyalty.test"))
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png"

    # A second tap on the button doesn't duplicate anything (409 → patch).
    save(wallet_pass)
    assert len(fake_google.objects) == 1

    # when: a purchase through the POS API
    fake_google.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        buy(pos, pos_card, "500.00")

    # then: the object is patched with the new balance, silently
    patches = fake_google.calls_to("PATCH", f"/walletobjects/v1/loyaltyObject/{object_id}")
    assert len(patches) == 1
    assert patches[0].body["loyaltyPoints"]["balance"] == {"int": 25}
    assert fake_google.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 25}
    assert not fake_google.calls_to("POST", f"/walletobjects/v1/loyaltyObject/{object_id}/addMessage")
    delivery = Delivery.objects.get(wallet_pass=wallet_pass, channel=Delivery.Channel.GOOGLE)
    assert delivery.status == Delivery.Status.OK and not delivery.notified
    assert WalletPass.objects.get(pk=wallet_pass.pk).google_saved_at is None

    # The customer saves the card; the next update learns it from Google's "hasUsers".
    fake_google.objects[object_id]["hasUsers"] = True
    with django_capture_on_commit_callbacks(execute=True):
        buy(pos, pos_card, "100.00")
    assert WalletPass.objects.get(pk=wallet_pass.pk).google_saved_at is not None

    # A blocked card becomes INACTIVE at Google.
    with django_capture_on_commit_callbacks(execute=True):
        set_card_blocked(merchant=google_merchant, card=pos_card, blocked=True, reason="lost", actor=None)
    assert fake_google.objects[object_id]["state"] == "INACTIVE"


def test_no_google_object_until_the_customer_asks(
    google_merchant, pos, pos_card, fake_google, eager_celery, django_capture_on_commit_callbacks
):
    passes.wallet_pass_for(card=pos_card)
    with django_capture_on_commit_callbacks(execute=True):
        buy(pos, pos_card, "500.00")
    assert fake_google.objects == {}
    assert not fake_google.calls_to("PATCH")


def test_daily_notification_limit_holds(
    google_merchant, pos_card, fake_google, eager_celery, django_capture_on_commit_callbacks
):
    wallet_pass = passes.wallet_pass_for(card=pos_card)
    save(wallet_pass)
    object_id = f"{ISSUER_ID}.{wallet_pass.serial_number}"

    for n in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            passes.post_card_message(card=pos_card, header="Зерно", body=f"Новость {n}")

    sent = [
        c.body["message"]
        for c in fake_google.calls_to("POST", f"/walletobjects/v1/loyaltyObject/{object_id}/addMessage")
    ]
    assert [m["body"] for m in sent] == [f"Новость {n}" for n in range(5)]
    assert [m["messageType"] for m in sent] == ["TEXT_AND_NOTIFY"] * 3 + ["TEXT"] * 2
    # Google never had to refuse: we counted first.
    assert all(
        c.status == 200 for c in fake_google.calls_to("POST", f"/walletobjects/v1/loyaltyObject/{object_id}/addMessage")
    )
    assert passes.notifications_used(wallet_pass=wallet_pass) == 3
    assert Delivery.objects.filter(wallet_pass=wallet_pass, notified=True).count() == 3

    # A day later the budget is back.
    later = timezone.now() + timedelta(hours=24, minutes=1)
    assert passes.notifications_used(wallet_pass=wallet_pass, now=later) == 0


def test_google_quota_refusal_falls_back_to_a_silent_message(
    google_merchant, pos_card, fake_google, eager_celery, django_capture_on_commit_callbacks
):
    """Google counts differently from us (e.g. notifications sent by another
    system): its quota error is answered by adding the message without a
    notification, and it is not counted as one."""
    wallet_pass = passes.wallet_pass_for(card=pos_card)
    save(wallet_pass)
    object_id = f"{ISSUER_ID}.{wallet_pass.serial_number}"
    fake_google.fail_next("POST", f"/walletobjects/v1/loyaltyObject/{object_id}/addMessage", 403, "Quota exceeded")
    with django_capture_on_commit_callbacks(execute=True):
        passes.post_card_message(card=pos_card, header="Зерно", body="Акция")
    calls = fake_google.calls_to("POST", f"/walletobjects/v1/loyaltyObject/{object_id}/addMessage")
    assert [(c.status, c.body["message"]["messageType"]) for c in calls] == [(403, "TEXT_AND_NOTIFY"), (200, "TEXT")]
    assert passes.notifications_used(wallet_pass=wallet_pass) == 0


def test_google_outage_is_retried_by_its_own_task(
    google_merchant, pos, pos_card, fake_google, django_capture_on_commit_callbacks
):
    from loyalty.wallet import google, tasks

    wallet_pass = passes.wallet_pass_for(card=pos_card)
    save(wallet_pass)
    object_id = f"{ISSUER_ID}.{wallet_pass.serial_number}"
    fake_google.fail_next("PATCH", f"/walletobjects/v1/loyaltyObject/{object_id}", 503, "backend error", times=2)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        buy(pos, pos_card, "500.00")
    assert callbacks  # card_changed, which the next line does by hand, without queueing the task
    with django_capture_on_commit_callbacks(execute=False):
        passes.card_changed(pos_card.pk)

    # The sync goes on (Apple is not held up) and hands Google to its own retrying task.
    outcome = passes.sync_pass(pass_id=wallet_pass.pk)
    assert outcome.status == "synced" and outcome.google == "retry"
    assert tasks.google_sync_task.autoretry_for == (*tasks.DB_ERRORS, google.RetryableError)
    assert tasks.google_sync_task.retry_backoff and tasks.google_sync_task.retry_jitter
    # Called directly, a transient failure surfaces (a worker would retry with backoff).
    with pytest.raises(google.RetryableError):
        tasks.google_sync_task(wallet_pass.pk)
    assert tasks.google_sync_task(wallet_pass.pk) == "patched"

    patches = fake_google.calls_to("PATCH", f"/walletobjects/v1/loyaltyObject/{object_id}")
    assert [c.status for c in patches] == [503, 503, 200]
    assert fake_google.objects[object_id]["loyaltyPoints"]["balance"] == {"int": 25}
    statuses = Delivery.objects.filter(wallet_pass=wallet_pass, channel="google").order_by("pk")
    assert list(statuses.values_list("status", flat=True)) == ["retry", "retry", "ok"]


def test_save_link_without_google_credentials_is_a_clear_404(merchant, owner, pos_card, wallet_settings):
    wallet_pass = passes.wallet_pass_for(card=pos_card)
    response = Client().get(reverse("wallet_google_save", args=[wallet_pass.web_token]))
    assert response.status_code == 404
    # Issue 12: the customer gets their web card, not the merchant's set-up text; staff still read it.
    assert "demo mode" not in response.content.decode()
    assert reverse("webcard", args=[wallet_pass.web_token]) in response.content.decode()
    staff = Client()
    staff.force_login(owner)
    assert "demo mode" in staff.get(reverse("wallet_google_save", args=[wallet_pass.web_token])).content.decode()
    assert not passes.wallets_available(merchant=merchant).google


def test_google_down_at_save_time_gives_a_try_again_page(google_merchant, pos_card, fake_google):
    wallet_pass = passes.wallet_pass_for(card=pos_card)
    fake_google.fail_next("POST", "/walletobjects/v1/loyaltyClass", 500, "oops")
    response = Client().get(reverse("wallet_google_save", args=[wallet_pass.web_token]))
    assert response.status_code == 503
    assert "try again" in response.content.decode()
    assert WalletPass.objects.get(pk=wallet_pass.pk).google_object_id == ""
    assert json.loads(json.dumps(fake_google.objects)) == {}
