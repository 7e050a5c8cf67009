"""The quick purchase on the embedded SQLite default: the same code as on PostgreSQL (no FOR UPDATE,
statements one by one, the pass marked in the same transaction), replays answered from the stored
response, and a ledger that verifies. Run in a subprocess on a fresh SQLite file."""

from __future__ import annotations

import json

import pytest

from tests.quickstart_manage import quickstart_manage

SCRIPT = """
import json, uuid
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from loyalty.enrollment.services import enroll_customer
from loyalty.ledger.verification import verify_ledger
from loyalty.models import Purchase, WalletPass
from loyalty.program.services import program_for
from loyalty.wallet import contract as wallet
from merchants.models import Location, Merchant
from merchants.services import api_key_create
assert connection.vendor == "sqlite"
merchant = Merchant.objects.create(name="S", slug="s", country="RU", currency="RUB", time_zone="Europe/Moscow")
location = Location.objects.create(merchant=merchant, name="Till")
issued = api_key_create(merchant=merchant, location=location, name="till", actor=None)
program_for(merchant=merchant)
card = enroll_customer(merchant=merchant, phone="+79161234567", name="A", location=location, source="import")
before = wallet.wallet_pass_for(card=card)
client = Client(HTTP_HOST="localhost")
def buy(key=None, bill="123.45"):
    key = key or uuid.uuid4().hex
    body = {"card_number": card.number, "bill_amount": bill, "receipt_id": key}
    return client.post("/api/pos/v1/purchases/", json.dumps(body), content_type="application/json",
                       headers={"Authorization": f"Bearer {issued.secret}", "Idempotency-Key": key})
warm = buy()
assert warm.status_code == 201, warm.content  # the worker verifies the key (general path)
reset_queries()  # as the request will (request_started), so the capture counts from 0
with CaptureQueriesContext(connection) as queries:
    quick = buy()
statements = [q["sql"].split()[0] for q in queries.captured_queries]  # before the next request resets the log
first, again = buy("same"), buy("same")
marked = WalletPass.objects.get(pk=before.pk)
# A purchase that reaches the second tier: still the quick path (its unquoted SQL), the promotion recorded.
from loyalty.models import Card, TierChange
from loyalty.program.services import rules_for_version_id
rules = rules_for_version_id(program_for(merchant=merchant).current_version_id)
needed = rules.tiers[1].threshold - Card.objects.get(pk=card.pk).lifetime_spend + 1
with CaptureQueriesContext(connection) as promotion_queries:
    promoted = buy(bill=f"{needed:.2f}")
print("RESULT", json.dumps({
    "promoted": [
        promoted.status_code,
        promoted.json()["card"]["tier"] == rules.tiers[1].name,
        list(TierChange.objects.filter(card=card).values_list("to_tier_id", "purchase_id")),
        rules.tiers[1].id,
        promoted.json()["id"],
        any(q["sql"].startswith("INSERT INTO loyalty_tierchange") for q in promotion_queries.captured_queries),
    ],
    "status": quick.status_code,
    "statements": statements,
    "replay": [first.status_code, again.status_code, again.get("Idempotent-Replayed"), again.content == first.content],
    "marked": marked.needs_sync_since is not None and marked.update_tag > before.update_tag,
    "purchases": Purchase.objects.count(),
    "verified": verify_ledger(merchant_id=merchant.pk).ok,
}))
"""


@pytest.mark.timeout(1200)
def test_quick_purchase_on_sqlite(tmp_path):
    quickstart_manage(tmp_path, "migrate", "--noinput", "-v", "0")
    output = quickstart_manage(tmp_path, "shell", "-c", SCRIPT).stdout
    result = json.loads(output.split("RESULT ", 1)[1])
    assert result["status"] == 201
    # BEGIN IMMEDIATE, the card read, five writes, the pass marked (a savepoint of its own), COMMIT.
    assert result["statements"][:7] == ["BEGIN", "SELECT", "INSERT", "INSERT", "INSERT", "INSERT", "UPDATE"]
    assert result["statements"][-1] == "COMMIT" and "FOR UPDATE" not in output
    assert result["replay"] == [201, 201, "true", True]
    assert result["marked"] and result["verified"] and result["purchases"] == 4
    status, named, changes, second_tier, purchase_id, quick = result["promoted"]
    assert status == 201 and named and quick
    assert changes == [[second_tier, purchase_id]]
