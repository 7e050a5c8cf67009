"""The POS purchase lane (loyalty/api/lane.py) over real HTTP, on the live
server that serves what production serves (config/wsgi.py's application): a
plain accrual is answered in front of Django with Django's own answer, headers
included; everything else reaches Django as before, counted once by the rate
limit."""

# The fixtures are imported from api_support, so pytest arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import uuid

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_started

from loyalty.api import lane
from loyalty.api.lane import PosPurchaseLane
from loyalty.models import Card, IdempotentRequest, LedgerEntry, Purchase
from tests.loyalty.api_support import give_points, pos, pos_card, pos_key, pos_program  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

# Headers that differ between any two answers.
VARYING = {"date", "content-length"}


@pytest.fixture
def answered_by():
    """Who answered each request: "lane", or "django" (its handler started the request)."""
    seen: list[str] = []

    def started(sender, **kwargs):
        if sender is PosPurchaseLane:
            seen.append("lane")
        elif sender is WSGIHandler:
            # Django took over a request the lane started: it answers it.
            if seen and seen[-1] == "lane":
                seen[-1] = "django"
            else:
                seen.append("django")

    request_started.connect(started, weak=False)
    lane.forget_learnt()
    yield seen
    request_started.disconnect(started)
    lane.forget_learnt()


def _buy(url, secret, card, *, key=None, language=None, **extra) -> httpx.Response:
    body = {"card_number": card.number, "bill_amount": "200.00", "receipt_id": uuid.uuid4().hex, **extra}
    headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": key or uuid.uuid4().hex}
    if language:
        headers["Accept-Language"] = language
    return httpx.post(f"{url}/api/pos/v1/purchases/", json=body, headers=headers, timeout=30)


def _headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in VARYING}


def _shape(response: httpx.Response) -> dict:
    body = response.json()
    return {name: type(value).__name__ for name, value in body.items()} | {"card": sorted(body["card"])}


def test_a_plain_accrual_is_answered_by_the_lane_as_django_answers_it(
    live_server, pos, pos_card, answered_by, settings
):
    settings.POS_PURCHASE_LANE = False
    django_answer = _buy(live_server.url, pos.secret, pos_card)
    settings.POS_PURCHASE_LANE = True
    first = _buy(live_server.url, pos.secret, pos_card)  # Django answers; the lane learns its headers
    second = _buy(live_server.url, pos.secret, pos_card)
    third = _buy(live_server.url, pos.secret, pos_card)
    assert answered_by == ["django", "django", "lane", "lane"]
    assert [r.status_code for r in (django_answer, first, second, third)] == [201] * 4
    for response in (first, second, third):
        assert _headers(response) == _headers(django_answer)
        assert _shape(response) == _shape(django_answer)
        assert int(response.headers["content-length"]) == len(response.content)
    # Each wrote its purchase; the balance adds up (5 % of 200.00 each).
    assert Purchase.objects.filter(card=pos_card).count() == 4
    assert third.json()["card"]["balance"] == 40 == Card.objects.get(pk=pos_card.pk).balance
    assert LedgerEntry.objects.filter(card=pos_card).count() == 4
    call_command("verify_ledger")


def test_behind_the_https_proxy_the_lane_learns_the_secure_answer_apart(
    live_server, pos, pos_card, answered_by, settings
):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    def buy():
        body = {"card_number": pos_card.number, "bill_amount": "10.00", "receipt_id": uuid.uuid4().hex}
        headers = {"Authorization": f"Bearer {pos.secret}", "Idempotency-Key": uuid.uuid4().hex}
        return httpx.post(
            f"{live_server.url}/api/pos/v1/purchases/", json=body, headers=headers | {"X-Forwarded-Proto": "https"}
        )

    answers = [buy() for _ in range(4)]
    plain = _buy(live_server.url, pos.secret, pos_card)  # over plain HTTP: not the answer learnt for HTTPS
    # (Django's SecurityMiddleware reads HSTS and redirects at start-up, so they cannot be changed here;
    # the learnt headers are whatever it put on the HTTPS answer.)
    assert answered_by == ["django", "django", "lane", "lane", "django"]
    assert [a.status_code for a in (*answers, plain)] == [201] * 5
    assert _headers(answers[3]) == _headers(answers[1])


def test_each_language_is_learnt_and_answered_in_its_own_right(live_server, pos, pos_card, answered_by):
    _buy(live_server.url, pos.secret, pos_card, redeem_points=0, bill_amount="1.00")  # the key is verified
    for language in ("en", "ru", "en", "ru"):
        response = _buy(live_server.url, pos.secret, pos_card, language=language)
        assert response.status_code == 201
        assert response.headers["content-language"] == language
    # (The first request verifies the key on the general path; then each language is learnt once.)
    assert answered_by == ["django", "django", "django", "lane", "lane"]


def test_a_replay_through_the_lane_returns_the_first_answer(live_server, pos, pos_card, answered_by):
    _buy(live_server.url, pos.secret, pos_card)  # the key is verified (general path)
    _buy(live_server.url, pos.secret, pos_card)  # learnt
    first = _buy(live_server.url, pos.secret, pos_card, key="till-1-0001", receipt_id="T1-0001")
    again = _buy(live_server.url, pos.secret, pos_card, key="till-1-0001", receipt_id="T1-0001")
    assert answered_by == ["django", "django", "lane", "lane"]
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.content == first.content
    assert _headers(again) == _headers(first) | {"idempotent-replayed": "true"}
    assert IdempotentRequest.objects.filter(key="till-1-0001").count() == 1
    assert Purchase.objects.count() == 3


def test_what_the_lane_does_not_answer_reaches_django_unchanged(
    live_server, pos, pos_card, merchant, location, answered_by
):
    give_points(merchant, location, pos_card)
    _buy(live_server.url, pos.secret, pos_card)  # the key is verified (general path)
    _buy(live_server.url, pos.secret, pos_card)  # learnt: the lane reads the bodies below, then hands them over
    redeem = _buy(live_server.url, pos.secret, pos_card, redeem_points=10)
    invalid = _buy(live_server.url, pos.secret, pos_card, bill_amount="-1")
    unknown = httpx.post(
        f"{live_server.url}/api/pos/v1/purchases/",
        json={"card_number": "999999999999", "bill_amount": "10.00", "receipt_id": "R-x"},
        headers={"Authorization": f"Bearer {pos.secret}", "Idempotency-Key": "k-unknown"},
    )
    assert answered_by == ["django"] * 5
    assert redeem.status_code == 201 and redeem.json()["points_redeemed"] == 10
    assert invalid.status_code == 400 and invalid.json()["error"]["fields"]["bill_amount"]
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "card_not_found"


def test_a_request_the_lane_hands_to_django_is_counted_once_by_the_rate_limit(
    live_server, pos, pos_card, merchant, location, answered_by, settings, one_rate_limit_window
):
    settings.POS_API_THROTTLE_RATE = "5/min"
    give_points(merchant, location, pos_card)
    # The key is verified on the general path; then the view's quick attempt counts a request that
    # Django's general path finishes (the lane has learnt nothing yet) ...
    statuses = [_buy(live_server.url, pos.secret, pos_card, redeem_points=5).status_code for _ in range(2)]
    statuses.append(_buy(live_server.url, pos.secret, pos_card).status_code)  # learnt
    # ... and the lane counts redemptions it hands to Django.
    statuses += [_buy(live_server.url, pos.secret, pos_card, redeem_points=5).status_code for _ in range(3)]
    assert statuses == [201, 201, 201, 201, 201, 429]
    assert answered_by == ["django"] * 6
