"""Concurrency over real HTTP (live server, one thread per till): one
Idempotency-Key sent at the same time from several threads writes once, and
many purchases on one card at once keep the ledger exact."""

# The fixtures are imported from api_support, so pytest arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from django.core.management import call_command

from loyalty.models import Card, IdempotentRequest, LedgerEntry, Purchase
from tests.loyalty.api_support import give_points, pos, pos_card, pos_key, pos_program  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def post_together(url: str, secret: str, requests: list[tuple[str, dict]]) -> list[httpx.Response]:
    """POST each (key, body) from its own thread, all released at once."""
    barrier = threading.Barrier(len(requests))

    def send(item: tuple[str, dict]) -> httpx.Response:
        key, body = item
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            return client.post(url, json=body, headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": key})

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def test_concurrent_requests_with_one_key_write_once(live_server, pos, pos_card):
    body = {"card_number": pos_card.number, "bill_amount": "500.00", "receipt_id": "R-1"}
    responses = post_together(f"{live_server.url}/api/pos/v1/purchases/", pos.secret, [("same-key", body)] * THREADS)

    # The first one writes; the others wait for it on the unique index and replay its response.
    assert [response.status_code for response in responses] == [201] * THREADS
    assert len({response.content for response in responses}) == 1
    assert sum(response.headers.get("Idempotent-Replayed") == "true" for response in responses) == THREADS - 1
    assert Purchase.objects.count() == 1
    assert IdempotentRequest.objects.count() == 1
    assert Card.objects.get(pk=pos_card.pk).balance == 25
    assert LedgerEntry.objects.filter(card=pos_card).count() == 1


def test_concurrent_different_bodies_with_one_key_write_once(live_server, pos, pos_card):
    requests = [
        ("one-key", {"card_number": pos_card.number, "bill_amount": f"{100 * (i + 1)}.00", "receipt_id": f"R-{i}"})
        for i in range(THREADS)
    ]
    responses = post_together(f"{live_server.url}/api/pos/v1/purchases/", pos.secret, requests)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * (THREADS - 1)
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"idempotency_key_reused"}
    assert Purchase.objects.count() == 1


def test_concurrent_refunds_of_one_purchase_never_exceed_it(live_server, pos, pos_card):
    bought = pos.post("/purchases/", {"card_number": pos_card.number, "bill_amount": "1000.00", "receipt_id": "R"})
    purchase_id = bought.json()["id"]
    requests = [(str(uuid.uuid4()), {"purchase_id": purchase_id, "amount": "300.00"}) for _ in range(THREADS)]
    responses = post_together(f"{live_server.url}/api/pos/v1/refunds/", pos.secret, requests)
    statuses = sorted(response.status_code for response in responses)
    # 3 × 300 fit into 1000; the rest are refused.
    assert statuses == [201] * 3 + [422] * (THREADS - 3)
    purchase = Purchase.objects.get(pk=purchase_id)
    assert purchase.refunded_amount == Decimal("900.00")
    call_command("verify_ledger")


def test_many_tills_on_one_card(live_server, pos, pos_card, merchant, location):
    give_points(merchant, location, pos_card, "2000.00")  # 100 points
    requests = [
        (
            str(uuid.uuid4()),
            {
                "card_number": pos_card.number,
                "bill_amount": "200.00",
                "redeem_points": 30 if i % 2 else 0,
                "receipt_id": f"T-{i}",
            },
        )
        for i in range(16)
    ]
    responses = post_together(f"{live_server.url}/api/pos/v1/purchases/", pos.secret, requests)
    ok = [response for response in responses if response.status_code == 201]
    refused = [response for response in responses if response.status_code != 201]
    assert all(response.status_code == 422 for response in refused), [r.content for r in refused]
    card = Card.objects.get(pk=pos_card.pk)
    assert card.balance >= 0
    assert card.balance == 100 + sum(r.json()["points_earned"] - r.json()["points_redeemed"] for r in ok)
    assert Purchase.objects.count() == 1 + len(ok)
    call_command("verify_ledger")
