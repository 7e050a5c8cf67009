"""The POS REST API through Django's test client on PostgreSQL: each endpoint's
happy path, every bad input (4xx and nothing written), idempotency, auth and
tenant isolation, throttling, and the error shape."""

# The fixtures are imported from api_support, so pytest arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.urls import reverse

from loyalty.json_body import MAX_BODY_BYTES, MAX_DEPTH
from loyalty.ledger import set_card_blocked
from loyalty.models import Card, CardStatus, IdempotentRequest, LedgerEntry, Purchase, Refund
from merchants.services import api_key_revoke
from tests.loyalty.api_support import (  # noqa: F401  (fixtures)
    PosClient,
    give_points,
    other_pos,
    pos,
    pos_card,
    pos_key,
    pos_program,
    table_counts,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    # A test that counts in Redis (test_throttle_counts_in_redis) has a key prefix of its own; clearing
    # that cache would FLUSHDB the database the other test workers use as their broker, with their
    # queues and counters in it. (The settings are restored after this runs.)
    if not isinstance(caches["default"], RedisCache):
        cache.clear()


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    if field is not None:
        assert field in body["error"]["fields"], body
    return body


def purchase_body(card, bill="500.00", **extra):
    return {"card_number": card.number, "bill_amount": bill, "receipt_id": f"R-{uuid.uuid4().hex[:8]}", **extra}


# --- happy paths ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"phone": "8 (916) 123-45-67"},
        {"phone": "+79161234567"},
        {"card_number": "CARD"},
        {"barcode": "BARCODE"},
    ],
)
def test_lookup_finds_the_card_by_phone_number_or_barcode(pos, pos_card, params):
    params = {
        name: value.replace("CARD", pos_card.number).replace("BARCODE", pos_card.barcode)
        for name, value in params.items()
    }
    response = pos.get("/cards/lookup/", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["number"] == pos_card.number
    assert body["customer"] == {"name": "Анна", "phone": "+79161234567"}
    assert body["status"] == "active"
    assert body["tier"] == "Бронза"
    assert body["balance"] == 0 and body["spendable_points"] == 0
    assert body["currency"] == "RUB"


def test_lookup_needs_exactly_one_key(pos, pos_card):
    assert_error(pos.get("/cards/lookup/"), 400, "invalid")
    assert_error(pos.get("/cards/lookup/", {"phone": "+79161234567", "card_number": pos_card.number}), 400, "invalid")


def test_enroll_creates_customer_and_card_with_welcome_bonus(pos, merchant, owner, location):
    from loyalty.program.services import save_program

    save_program(merchant=merchant, actor=owner, welcome_bonus=100)
    response = pos.post(
        "/customers/",
        {"phone": "+7 916 000-11-22", "name": "Борис", "marketing_consent": True, "consent_text_version": "v1"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    card = Card.objects.get(number=body["number"])
    assert card.merchant == merchant
    assert card.customer.phone == "+79160001122"
    assert card.customer.joined_location == location
    assert card.customer.marketing_consent is True
    assert body["balance"] == 100 == card.balance
    consent = card.customer.consents.get()
    assert consent.channel == "pos" and consent.text_version == "v1" and consent.api_key_id is not None


def test_card_balance_and_history(pos, pos_card, merchant, location):
    for _ in range(3):
        give_points(merchant, location, pos_card, "1000.00")
    response = pos.get(f"/cards/{pos_card.number}/")
    assert response.status_code == 200
    assert response.json()["balance"] == 150

    first = pos.get(f"/cards/{pos_card.number}/history/", {"limit": 2})
    assert first.status_code == 200, first.content
    page = first.json()
    assert [entry["points"] for entry in page["entries"]] == [50, 50]
    assert page["entries"][0]["kind"] == "earn" and page["entries"][0]["receipt_id"].startswith("seed-")
    assert page["next_before"] == page["entries"][-1]["id"]
    second = pos.get(f"/cards/{pos_card.number}/history/", {"limit": 2, "before": page["next_before"]}).json()
    assert [entry["points"] for entry in second["entries"]] == [50]
    assert second["next_before"] is None


def test_quote(pos, pos_card, merchant, location):
    give_points(merchant, location, pos_card, "2000.00")  # 100 points
    response = pos.post("/quotes/", {"card_number": pos_card.number, "bill_amount": "500.00"}, key=None)
    assert response.status_code == 200, response.content
    quote = response.json()
    assert quote["bill_amount"] == "500.00"
    assert quote["max_redeem_points"] == 100  # 30 % of 500 = 150, but the card has 100
    assert quote["points_to_earn"] == 25  # 5 % of 500
    assert quote["earn_if_max_redeem"] == 20  # 5 % of 400
    assert quote["balance"] == 100
    assert quote["currency"] == "RUB"
    assert isinstance(quote["amount_to_pay"], str)
    # A quote writes nothing.
    assert Purchase.objects.count() == 1


def test_purchase_accrues(pos, pos_card):
    before = table_counts()
    response = pos.post("/purchases/", purchase_body(pos_card, "500.00"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["bill_amount"] == "500.00"
    assert body["amount_paid"] == "500.00"
    assert body["points_earned"] == 25
    assert body["points_redeemed"] == 0
    assert body["card"]["balance"] == 25
    assert body["card"]["number"] == pos_card.number
    pos_card.refresh_from_db()
    assert pos_card.balance == 25
    purchase = Purchase.objects.get(pk=body["id"])
    assert purchase.api_key_id is not None and purchase.location_id is not None
    after = table_counts()
    assert after["Purchase"] == before["Purchase"] + 1
    assert after["LedgerEntry"] == before["LedgerEntry"] + 1
    assert after["IdempotentRequest"] == before["IdempotentRequest"] + 1


def test_purchase_redeems_and_accrues_atomically(pos, pos_card, merchant, location):
    give_points(merchant, location, pos_card, "2000.00")  # 100 points
    response = pos.post("/purchases/", purchase_body(pos_card, "1000.00", redeem_points=100))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["points_redeemed"] == 100
    assert body["points_amount"] == "100.00"
    assert body["amount_paid"] == "900.00"
    assert body["points_earned"] == 45  # on the money paid only
    assert body["card"]["balance"] == 45
    pos_card.refresh_from_db()
    assert pos_card.balance == 45


def test_refund_full_by_purchase_id_and_partial_by_receipt(pos, pos_card):
    first = pos.post("/purchases/", purchase_body(pos_card, "1000.00")).json()
    second = pos.post("/purchases/", purchase_body(pos_card, "1000.00")).json()
    assert Card.objects.get(pk=pos_card.pk).balance == 100

    full = pos.post("/refunds/", {"purchase_id": first["id"]})
    assert full.status_code == 201, full.content
    body = full.json()
    assert body["amount"] == "1000.00"
    assert body["points_reversed"] == 50
    assert body["purchase"]["refundable_amount"] == "0.00"
    assert body["card"]["balance"] == 50

    partial = pos.post("/refunds/", {"receipt_id": second["receipt_id"], "amount": "400.00"})
    assert partial.status_code == 201, partial.content
    assert partial.json()["points_reversed"] == 20
    assert partial.json()["purchase"]["refundable_amount"] == "600.00"
    assert Card.objects.get(pk=pos_card.pk).balance == 30
    assert Refund.objects.count() == 2


def test_amounts_are_decimal_strings_and_times_carry_the_merchant_offset(pos, pos_card):
    body = pos.post("/purchases/", purchase_body(pos_card, "123.40")).json()
    assert body["bill_amount"] == "123.40"
    assert body["created_at"].endswith("+03:00")  # Europe/Moscow


# --- bad input: a clear 4xx and nothing written -----------------------------------------------


@pytest.fixture
def funded_card(pos_card, merchant, location):
    give_points(merchant, location, pos_card, "2000.00")  # 100 points
    return pos_card


BAD_PURCHASES = [
    # (body changes, status, code, field)
    ({"card_number": "000000000000"}, 404, "card_not_found", None),
    ({"bill_amount": "-5.00"}, 400, "invalid", "bill_amount"),
    ({"bill_amount": "0.00"}, 400, "invalid", "bill_amount"),
    ({"bill_amount": "abc"}, 400, "invalid", "bill_amount"),
    # Three decimals fit the schema (KWD has them); a rouble amount cannot hold them: the ledger's 422.
    ({"bill_amount": "1.005"}, 422, "invalid_amount", "bill_amount"),
    ({"bill_amount": "1.0005"}, 400, "invalid", "bill_amount"),
    ({"bill_amount": "NaN"}, 400, "invalid", "bill_amount"),
    ({"bill_amount": "1e30"}, 400, "invalid", "bill_amount"),
    ({"bill_amount": None}, 400, "invalid", "bill_amount"),
    ({"redeem_points": -1}, 400, "invalid", "redeem_points"),
    ({"redeem_points": 1.5}, 400, "invalid", "redeem_points"),
    ({"redeem_points": "lots"}, 400, "invalid", "redeem_points"),
    ({"redeem_points": 101, "bill_amount": "1000.00"}, 422, "insufficient_points", "redeem_points"),
    ({"redeem_points": 100, "bill_amount": "100.00"}, 422, "redemption_cap_exceeded", "redeem_points"),
    ({"redeem_rewards": 1}, 422, "insufficient_rewards", "redeem_rewards"),
    ({"receipt_id": ""}, 400, "invalid", "receipt_id"),
    ({"receipt_id": "x" * 65}, 400, "invalid", "receipt_id"),
    ({"receipt_id": "a\x00b"}, 400, "invalid", "receipt_id"),
]


@pytest.mark.parametrize(("changes", "status", "code", "field"), BAD_PURCHASES)
def test_bad_purchase_is_refused_and_writes_nothing(pos, funded_card, changes, status, code, field):
    body = purchase_body(funded_card, "500.00")
    body.update(changes)
    before = table_counts()
    assert_error(pos.post("/purchases/", body), status, code, field)
    assert table_counts() == before
    funded_card.refresh_from_db()
    assert funded_card.balance == 100


def test_missing_fields_are_listed(pos, pos_card):
    body = assert_error(pos.post("/purchases/", {}), 400, "invalid")
    assert set(body["error"]["fields"]) == {"card_number", "bill_amount", "receipt_id"}


def test_blocked_card_is_refused(pos, funded_card, merchant, owner):
    set_card_blocked(merchant=merchant, card=funded_card, blocked=True, reason="lost", actor=owner)
    before = table_counts()
    assert_error(pos.post("/purchases/", purchase_body(funded_card)), 422, "card_blocked")
    assert_error(pos.post("/quotes/", {"card_number": funded_card.number, "bill_amount": "10.00"}), 422, "card_blocked")
    assert table_counts() == before
    # Looking it up still works and says it is blocked.
    assert pos.get(f"/cards/{funded_card.number}/").json()["status"] == CardStatus.BLOCKED


def test_negative_balance_blocks_redemption(pos, pos_card, merchant, location):
    # Earn 100, spend 100, refund the earning purchase: the balance goes to -100.
    earned = give_points(merchant, location, pos_card, "2000.00")
    assert pos.post("/purchases/", purchase_body(pos_card, "1000.00", redeem_points=100)).status_code == 201
    assert pos.post("/refunds/", {"purchase_id": earned.pk}).status_code == 201
    pos_card.refresh_from_db()
    assert pos_card.balance < 0
    before = table_counts()
    assert_error(pos.post("/purchases/", purchase_body(pos_card, "1000.00", redeem_points=1)), 422, "negative_balance")
    assert table_counts() == before


def test_malformed_json_is_400(pos, pos_card):
    before = table_counts()
    body = assert_error(pos.post("/purchases/", raw='{"card_number": "1", bill'), 400, "malformed_request")
    assert "JSON" in body["error"]["message"]
    assert_error(pos.post("/purchases/", raw='"just a string"'), 400, "invalid")
    assert_error(pos.post("/purchases/", raw="[1, 2]"), 400, "invalid")
    assert_error(pos.post("/purchases/", raw='{"bill_amount": NaN}'), 400, "malformed_request")
    assert table_counts() == before


def test_wrong_content_type_is_415(pos, pos_card):
    response = pos.client.post(
        "/api/pos/v1/purchases/",
        "card_number=1",
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": f"Bearer {pos.secret}", "Idempotency-Key": "k1"},
    )
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("key", "code"),
    [(None, "idempotency_key_required"), ("", "idempotency_key_required"), ("has space", "idempotency_key_invalid"),
     ("k" * 129, "idempotency_key_invalid"), ("ключ", "idempotency_key_invalid")],
)  # fmt: skip
def test_writes_need_a_valid_idempotency_key(pos, pos_card, key, code):
    before = table_counts()
    headers = {} if key is None else {"Idempotency-Key": key}
    assert_error(pos.post("/purchases/", purchase_body(pos_card), key=None, headers=headers), 400, code)
    assert_error(pos.post("/customers/", {"phone": "+79160000000"}, key=None, headers=headers), 400, code)
    assert_error(pos.post("/refunds/", {"purchase_id": 1}, key=None, headers=headers), 400, code)
    assert table_counts() == before


def test_duplicate_receipt_is_409(pos, pos_card):
    body = purchase_body(pos_card)
    assert pos.post("/purchases/", body).status_code == 201
    before = table_counts()
    assert_error(pos.post("/purchases/", body), 409, "duplicate_receipt", "receipt_id")  # new key, same receipt
    assert table_counts() == before


def test_refund_errors(pos, pos_card):
    purchase = pos.post("/purchases/", purchase_body(pos_card, "100.00")).json()
    before = table_counts()
    assert_error(pos.post("/refunds/", {"purchase_id": 999999}), 404, "purchase_not_found")
    assert_error(pos.post("/refunds/", {"receipt_id": "nope"}), 404, "purchase_not_found")
    assert_error(pos.post("/refunds/", {}), 400, "invalid")
    assert_error(pos.post("/refunds/", {"purchase_id": purchase["id"], "receipt_id": "x"}), 400, "invalid")
    assert_error(pos.post("/refunds/", {"purchase_id": purchase["id"], "amount": "-1"}), 400, "invalid", "amount")
    assert_error(
        pos.post("/refunds/", {"purchase_id": purchase["id"], "amount": "100.01"}), 422, "refund_exceeds_purchase"
    )
    assert table_counts() == before
    assert pos.post("/refunds/", {"purchase_id": purchase["id"]}).status_code == 201
    before = table_counts()
    assert_error(pos.post("/refunds/", {"purchase_id": purchase["id"]}), 422, "refund_exceeds_purchase")
    assert table_counts() == before


def test_enroll_errors(pos, pos_card):
    before = table_counts()
    assert_error(pos.post("/customers/", {"phone": "not a phone"}), 422, "invalid_phone", "phone")
    assert_error(pos.post("/customers/", {"phone": "+7 916 123 45 67"}), 409, "already_enrolled", "phone")
    assert_error(pos.post("/customers/", {"phone": "+79160000001", "email": "nope"}), 400, "invalid", "email")
    assert_error(pos.post("/customers/", {"phone": "+79160000001", "birthday": "31.02.2000"}), 400, "invalid")
    assert_error(
        pos.post("/customers/", {"phone": "+79160000001", "referral_code": "NOSUCH"}), 422, "referral_code_not_found"
    )
    assert table_counts() == before


def test_unknown_api_path_is_404_in_the_error_shape(pos):
    assert_error(pos.get("/nothing-here/"), 404, "not_found")
    assert_error(pos.get("/cards/000000000000/"), 404, "card_not_found")


def test_wrong_method_is_405(pos):
    assert_error(pos.get("/purchases/"), 405, "method_not_allowed")


# --- idempotency -------------------------------------------------------------------------------


def test_same_key_same_body_replays_the_first_response(pos, pos_card):
    body = purchase_body(pos_card, "500.00")
    first = pos.post("/purchases/", body, key="till-1-op-1")
    assert first.status_code == 201
    before = table_counts()
    # Same body with keys in another order and other whitespace: the same request.
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    again = pos.post("/purchases/", raw=reordered, key="till-1-op-1")
    assert again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert first.get("Idempotent-Replayed") is None
    assert table_counts() == before
    assert Card.objects.get(pk=pos_card.pk).balance == 25


def test_same_key_different_body_is_409(pos, pos_card):
    body = purchase_body(pos_card, "500.00")
    assert pos.post("/purchases/", body, key="op-42").status_code == 201
    before = table_counts()
    assert_error(pos.post("/purchases/", {**body, "bill_amount": "600.00"}, key="op-42"), 409, "idempotency_key_reused")
    # A key is for one operation, whatever the endpoint.
    assert_error(pos.post("/refunds/", {"receipt_id": body["receipt_id"]}, key="op-42"), 409, "idempotency_key_reused")
    assert table_counts() == before


def test_error_responses_are_not_stored_so_a_corrected_retry_succeeds(pos, pos_card):
    body = purchase_body(pos_card, "500.00", redeem_points=10)
    assert_error(pos.post("/purchases/", body, key="op-7"), 422, "insufficient_points")
    assert not IdempotentRequest.objects.filter(key="op-7").exists()
    # The same request again gets the same error, computed afresh.
    assert_error(pos.post("/purchases/", body, key="op-7"), 422, "insufficient_points")
    corrected = pos.post("/purchases/", {**body, "redeem_points": 0}, key="op-7")
    assert corrected.status_code == 201
    assert Purchase.objects.filter(idempotency_key="op-7").count() == 1


def test_keys_are_per_merchant(pos, other_pos, pos_card, other_merchant):
    from loyalty.enrollment.services import enroll_customer

    other_card = enroll_customer(merchant=other_merchant, phone="+79169999999")
    assert pos.post("/purchases/", purchase_body(pos_card), key="shared-key").status_code == 201
    assert other_pos.post("/purchases/", purchase_body(other_card), key="shared-key").status_code == 201
    assert Purchase.objects.filter(idempotency_key="shared-key").count() == 2


def test_enroll_replay(pos):
    first = pos.post("/customers/", {"phone": "+79160000099"}, key="enrol-1")
    again = pos.post("/customers/", {"phone": "+79160000099"}, key="enrol-1")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert Card.objects.filter(customer__phone="+79160000099").count() == 1


def test_refund_replay(pos, pos_card):
    purchase = pos.post("/purchases/", purchase_body(pos_card, "100.00")).json()
    first = pos.post("/refunds/", {"purchase_id": purchase["id"], "amount": "10.00"}, key="refund-1")
    again = pos.post("/refunds/", {"purchase_id": purchase["id"], "amount": "10.00"}, key="refund-1")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert Refund.objects.count() == 1


# --- auth and tenants ----------------------------------------------------------------------------


def test_missing_key_is_401(pos_card, pos_program):
    anonymous = PosClient(None)
    response = anonymous.get(f"/cards/{pos_card.number}/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    before = table_counts()
    assert_error(anonymous.post("/purchases/", purchase_body(pos_card)), 401, "not_authenticated")
    assert table_counts() == before


@pytest.mark.parametrize(
    "header",
    [
        {"Authorization": "Bearer lk_00000000_wrong"},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer a b"},
        {"X-Api-Key": "lk_deadbeef_wrong"},
    ],
)
def test_bad_key_is_401(pos_card, pos_key, header):
    client = PosClient(None)
    assert_error(client.get(f"/cards/{pos_card.number}/", headers=header), 401, "authentication_failed")


def test_a_key_with_the_right_prefix_but_wrong_secret_is_401(pos_card, pos_key):
    prefix_part = pos_key.secret.rsplit("_", 1)[0]
    client = PosClient(prefix_part + "_" + "x" * 43)
    assert_error(client.get(f"/cards/{pos_card.number}/"), 401, "authentication_failed")


def test_x_api_key_header_works(pos_card, pos_key):
    client = PosClient(None)
    response = client.get(f"/cards/{pos_card.number}/", headers={"X-Api-Key": pos_key.secret})
    assert response.status_code == 200


def test_revoked_key_is_401(pos, pos_key, pos_card):
    assert pos.get(f"/cards/{pos_card.number}/").status_code == 200
    api_key_revoke(api_key=pos_key.api_key)
    assert_error(pos.get(f"/cards/{pos_card.number}/"), 401, "authentication_failed")


def test_key_use_is_recorded(pos, pos_key, pos_card):
    pos.get(f"/cards/{pos_card.number}/")
    pos_key.api_key.refresh_from_db()
    assert pos_key.api_key.last_used_at is not None


def test_another_merchants_key_sees_nothing(pos, other_pos, pos_card):
    purchase = pos.post("/purchases/", purchase_body(pos_card, "100.00")).json()
    missing = other_pos.get("/cards/000000000000/")
    foreign = other_pos.get(f"/cards/{pos_card.number}/")
    assert_error(foreign, 404, "card_not_found")
    assert foreign.content == missing.content
    assert_error(other_pos.get("/cards/lookup/", {"phone": "+79161234567"}), 404, "card_not_found")
    assert_error(other_pos.get("/cards/lookup/", {"barcode": pos_card.barcode}), 404, "card_not_found")
    assert_error(other_pos.get(f"/cards/{pos_card.number}/history/"), 404, "card_not_found")
    before = table_counts()
    assert_error(
        other_pos.post("/quotes/", {"card_number": pos_card.number, "bill_amount": "1.00"}), 404, "card_not_found"
    )
    assert_error(other_pos.post("/purchases/", purchase_body(pos_card)), 404, "card_not_found")
    assert_error(other_pos.post("/refunds/", {"purchase_id": purchase["id"]}), 404, "purchase_not_found")
    assert_error(other_pos.post("/refunds/", {"receipt_id": purchase["receipt_id"]}), 404, "purchase_not_found")
    assert table_counts() == before


def test_throttled_per_key(pos, other_pos, pos_card, settings, one_rate_limit_window):
    settings.POS_API_THROTTLE_RATE = "3/min"
    for _ in range(3):
        assert pos.get(f"/cards/{pos_card.number}/").status_code == 200
    response = pos.get(f"/cards/{pos_card.number}/")
    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60
    before = table_counts()
    assert_error(pos.post("/purchases/", purchase_body(pos_card)), 429, "throttled")
    assert table_counts() == before
    # Another key has its own budget.
    assert other_pos.get("/cards/000000000000/").status_code == 404


# --- cost ----------------------------------------------------------------------------------------


def test_purchase_query_count(pos, pos_card, django_assert_max_num_queries):
    pos.post("/purchases/", purchase_body(pos_card))  # warm caches (rules of this version)
    # API layer (7): is the remembered key still active; the idempotency row's insert and update
    # and their transaction (here a savepoint); the card. Service (8): its savepoint, lock the card
    # (with the rules version), insert purchase, lot and entry, update the card.
    with django_assert_max_num_queries(13):
        response = pos.post("/purchases/", purchase_body(pos_card))
    assert response.status_code == 201


def test_purchase_replay_query_count(pos, pos_card, django_assert_max_num_queries):
    body = purchase_body(pos_card)
    pos.post("/purchases/", body, key="replay-cost")
    with django_assert_max_num_queries(6):  # key, failed insert (3 with its savepoint), stored response
        assert pos.post("/purchases/", body, key="replay-cost").status_code == 201


def test_decimal_amounts_are_exact(pos, pos_card):
    response = pos.post("/purchases/", purchase_body(pos_card, "0.10"))
    assert response.status_code == 201
    assert Purchase.objects.get(pk=response.json()["id"]).bill_amount == Decimal("0.10")
    assert LedgerEntry.objects.filter(purchase_id=response.json()["id"]).count() == 0  # 5 % of 0.10 floors to 0


def test_throttle_counts_in_redis(pos, pos_card, settings, one_rate_limit_window):
    # The shared cache that several gunicorn workers count in (one pipelined round trip).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CELERY_BROKER_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    settings.POS_API_THROTTLE_RATE = "2/min"
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    assert isinstance(caches["default"], RedisCache)
    assert pos.get(f"/cards/{pos_card.number}/").status_code == 200
    assert pos.get(f"/cards/{pos_card.number}/").status_code == 200
    assert_error(pos.get(f"/cards/{pos_card.number}/"), 429, "throttled")
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    client = caches["default"]._cache.get_client(prefix, write=False)
    assert [int(client.get(key)) for key in client.scan_iter(f"{prefix}:*")] == [3]


def test_throttle_counts_once_when_redis_forgot_its_script_or_dropped_the_connection(pos, pos_card, settings):
    # The count runs on a connection of the thread's own; what that connection cannot do (a script Redis
    # no longer has, a connection Redis closed) takes redis-py's full path, and the request counts once.
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CELERY_BROKER_URL,
            "KEY_PREFIX": prefix,
        }
    }
    settings.POS_API_THROTTLE_RATE = "100/min"
    from django.core.cache import caches

    from loyalty.api import throttling

    client = caches["default"]._cache.get_client(prefix, write=True)
    assert pos.get(f"/cards/{pos_card.number}/").status_code == 200
    client.script_flush()
    assert pos.get(f"/cards/{pos_card.number}/").status_code == 200
    [own] = throttling._connections.by_script.values()
    own.send_command("CLIENT", "ID")
    client.client_kill_filter(_id=own.read_response())
    assert pos.get(f"/cards/{pos_card.number}/").status_code == 200
    assert [int(client.get(key)) for key in client.scan_iter(f"{prefix}:*")] == [3]


def test_a_bug_answers_500_in_the_error_shape_and_writes_nothing(pos, pos_card, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr("loyalty.ledger.purchase", broken)
    before = table_counts()
    body = assert_error(pos.post("/purchases/", purchase_body(pos_card), key="bug-1"), 500, "server_error")
    assert "Idempotency-Key" in body["error"]["message"]
    assert table_counts() == before


def test_deactivating_the_merchant_locks_its_keys_out_at_once(pos, pos_card, merchant):
    assert pos.get(f"/cards/{pos_card.number}/").status_code == 200  # the key is now remembered
    merchant.is_active = False
    merchant.save(update_fields=["is_active"])
    assert_error(pos.get(f"/cards/{pos_card.number}/"), 401, "authentication_failed")


@pytest.mark.parametrize(
    "query",
    [
        "before=",
        "limit=",
        "before=&limit=",
        "limit=0",
        "limit=201",
        "limit=abc",
        "before=0",
        "before=-1",
        "before=1.5",
        "before=99999999999999999999",
    ],
)
def test_history_refuses_empty_or_invalid_paging(pos, pos_card, query):
    """Issue 8, defect 9: ``?before=&limit=`` answered 200 although the schema requires values."""
    response = pos.client.get(
        f"/api/pos/v1/cards/{pos_card.number}/history/?{query}", headers={"Authorization": f"Bearer {pos.secret}"}
    )
    body = assert_error(response, 400, "invalid")
    assert set(body["error"]["fields"]) <= {"before", "limit"} and body["error"]["fields"]


@pytest.mark.parametrize("query", ["phone=", "card_number=", "barcode=", "phone=&card_number=CARD"])
def test_lookup_refuses_empty_parameters(pos, pos_card, query):
    query = query.replace("CARD", pos_card.number)
    response = pos.client.get(f"/api/pos/v1/cards/lookup/?{query}", headers={"Authorization": f"Bearer {pos.secret}"})
    assert_error(response, 400, "invalid")


# --- hostile bodies (issue 8, defect 3) --------------------------------------------------------

BODY_ENDPOINTS = ["/purchases/", "/refunds/", "/customers/", "/quotes/"]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_a_3_mb_body_is_413_in_the_apis_shape_and_writes_nothing(pos, pos_card, path, settings):
    # Django's own cap (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB) guards request.body only, and DRF
    # parses the stream: the API's limit must hold on its own, well below Django's.
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < 3 * 1024 * 1024
    before = table_counts()
    huge = json.dumps(purchase_body(pos_card, receipt_id="x" * (3 * 1024 * 1024)))
    body = assert_error(pos.post(path, raw=huge), 413, "request_too_large")
    assert str(MAX_BODY_BYTES) in body["error"]["message"]
    # Just over the API's limit, far under Django's: refused too.
    padded = json.dumps(purchase_body(pos_card, note="x" * MAX_BODY_BYTES))
    assert_error(pos.post(path, raw=padded), 413, "request_too_large")
    assert table_counts() == before


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize("depth", [30_000, 950, MAX_DEPTH + 1])
def test_deeply_nested_json_is_400_in_the_apis_shape(pos, pos_card, path, depth):
    before = table_counts()
    assert_error(pos.post(path, raw=nested(depth)), 400, "malformed_request")
    inside = json.dumps(purchase_body(pos_card))[:-1] + f', "extra": {nested(depth - 1)}}}'
    assert_error(pos.post(path, raw=inside), 400, "malformed_request")
    assert table_counts() == before


def test_nesting_up_to_the_limit_is_accepted(pos, pos_card):
    inside = json.dumps(purchase_body(pos_card))[:-1] + f', "extra": {nested(MAX_DEPTH - 1)}}}'
    assert pos.post("/purchases/", raw=inside).status_code == 201


def test_deactivating_the_location_locks_its_keys_out_at_once(pos, pos_key, pos_card, owner, client):
    """merchants.services.location_set_active promises the keys stop working at once: the
    per-worker key cache must not keep accepting them (issue 8, defect 5)."""
    assert pos.get(f"/cards/{pos_card.number}/").status_code == 200  # the key is now remembered
    client.force_login(owner)
    location = pos_key.api_key.location
    assert client.post(reverse("location_deactivate", args=[location.pk])).status_code == 302
    assert_error(pos.get(f"/cards/{pos_card.number}/"), 401, "authentication_failed")
    # …and back on once the location is activated again.
    assert client.post(reverse("location_activate", args=[location.pk])).status_code == 302
    assert pos.get(f"/cards/{pos_card.number}/").status_code == 200


def test_old_idempotency_records_are_purged(pos, pos_card):
    from datetime import timedelta

    from django.utils import timezone

    from loyalty.api.tasks import purge_idempotent_requests_task
    from loyalty.schedule import PERIODIC_TASKS

    assert pos.post("/purchases/", purchase_body(pos_card), key="old-key").status_code == 201
    assert pos.post("/purchases/", purchase_body(pos_card), key="new-key").status_code == 201
    IdempotentRequest.objects.filter(key="old-key").update(created_at=timezone.now() - timedelta(days=31))
    # The daily beat job does it.
    assert "loyalty.tasks.purge_idempotent_requests_task" in {task["task"] for task in PERIODIC_TASKS}
    assert purge_idempotent_requests_task() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new-key"]
    assert Purchase.objects.count() == 2  # the writes themselves stay


# --- defect 15: a free item paid with a reward --------------------------------------------------


def test_free_item_paid_with_a_reward_has_a_bill_of_zero(pos, pos_card, merchant, owner):
    from loyalty.program.services import save_program

    save_program(merchant=merchant, actor=owner, mechanic="stamps", stamps_per_reward=2)  # every 2nd visit free
    assert pos.post("/purchases/", purchase_body(pos_card, "200.00")).status_code == 201
    before = table_counts()
    # 0.00 without a reward, or with points, is still refused, and says why.
    body = assert_error(pos.post("/purchases/", purchase_body(pos_card, "0.00")), 400, "invalid", "bill_amount")
    assert "0.00" in body["error"]["fields"]["bill_amount"][0]
    zero_with_points = purchase_body(pos_card, "0.00", redeem_rewards=1, redeem_points=1)
    assert_error(pos.post("/purchases/", zero_with_points), 400, "invalid", "redeem_points")
    assert table_counts() == before
    response = pos.post("/purchases/", purchase_body(pos_card, "0.00", redeem_rewards=1))
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["bill_amount"], data["amount_paid"], data["rewards_redeemed"]) == ("0.00", "0.00", 1)
    assert (data["points_earned"], data["stamps_earned"], data["card"]["rewards_available"]) == (0, 0, 0)


@pytest.mark.parametrize("bill", ["", "1.", " 1", "0450", "1.2345", "-5", "0", "0.00", "12345678901"])
def test_amounts_outside_the_schema_pattern_are_refused(pos, pos_card, bill):
    # Defect 9: the server takes exactly the amounts the schema describes (a purchase's 0.00 only
    # with a reward), so schema-valid requests are accepted and others refused, writing nothing.
    before = table_counts()
    response = pos.post("/purchases/", purchase_body(pos_card, bill))
    assert response.status_code == 400, (bill, response.content)
    assert "bill_amount" in response.json()["error"]["fields"]
    assert table_counts() == before


@pytest.mark.parametrize("bill", ["450", "450.5", "0.01", "9999999999.99"])
def test_amounts_inside_the_schema_pattern_are_accepted(pos, pos_card, bill):
    response = pos.post("/purchases/", purchase_body(pos_card, bill))
    assert response.status_code == 201, (bill, response.content)
