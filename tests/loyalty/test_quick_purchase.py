"""The purchase's quick path (loyalty/ledger/quick.py): two SQL statements on
PostgreSQL with or without a wallet pass, the same rows as the general path,
the wallet pass marked in the same transaction, and an OpenAPI schema that
has not changed."""

# The fixtures are imported from api_support, so pytest arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import selectors
import socket
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty import ledger
from loyalty.enrollment.services import enroll_customer
from loyalty.ledger.verification import verify_ledger
from loyalty.models import Card, IdempotentRequest, LedgerEntry, Lot, Program, Purchase, WalletPass
from loyalty.program.services import rules_for_version_id
from loyalty.wallet import contract as wallet
from tests.loyalty.api_support import pos, pos_card, pos_key, pos_program  # noqa: F401  (fixtures)

SCHEMA_SNAPSHOT = Path(__file__).parent / "openapi_pos_v1.yaml"


def _buy(pos, card, bill="123.45", **extra):
    body = {"card_number": card.number, "bill_amount": bill, "receipt_id": uuid.uuid4().hex, **extra}
    return pos.post("/purchases/", body)


def _statements(pos, card) -> list[str]:
    _buy(pos, card)  # the worker verifies the API key once (general path)
    with CaptureQueriesContext(connection) as queries:
        response = _buy(pos, card)
    assert response.status_code == 201, response.content
    return _without_savepoints(queries)


def _without_savepoints(queries) -> list[str]:
    # The test runs inside a transaction, so the purchase's BEGIN/COMMIT are savepoints here.
    return [query["sql"] for query in queries.captured_queries if "SAVEPOINT" not in query["sql"]]


@pytest.mark.django_db
def test_a_purchase_is_two_statements_without_a_wallet_pass(pos, pos_card):
    statements = _statements(pos, pos_card)
    assert len(statements) == 2, statements
    lock, write = statements
    assert "FOR UPDATE" in lock
    # The Idempotency-Key's row is claimed with the lock (before it, see the lock-order test below) ...
    assert lock.count("INSERT INTO") == 1 and "loyalty_idempotentrequest" in lock
    # ... and gets the response with the other writes.
    assert write.count("INSERT INTO") == 4  # purchase, lot, entry, and a promotion's record (none here)
    assert "UPDATE loyalty_idempotentrequest" in write
    assert 'UPDATE "loyalty_card"' in write or "UPDATE loyalty_card" in write


@pytest.mark.django_db
def test_a_purchase_is_two_statements_with_a_wallet_pass(pos, pos_card, django_capture_on_commit_callbacks):
    wallet_pass = wallet.wallet_pass_for(card=pos_card)
    statements = _statements(pos, pos_card)
    assert len(statements) == 2, statements
    assert "loyalty_walletpass" in statements[1]
    # The pass is marked in the purchase's own transaction; a sync is queued only
    # for the change that starts a burst (the pass was already marked by the first purchase).
    marked = WalletPass.objects.get(pk=wallet_pass.pk)
    assert marked.needs_sync_since is not None
    assert marked.update_tag > wallet_pass.update_tag
    assert marked.updated_at > wallet_pass.updated_at
    with django_capture_on_commit_callbacks() as callbacks:
        assert _buy(pos, pos_card).status_code == 201
    assert callbacks == []
    WalletPass.objects.filter(pk=wallet_pass.pk).update(needs_sync_since=None)
    with django_capture_on_commit_callbacks() as callbacks:
        assert _buy(pos, pos_card).status_code == 201
    assert len(callbacks) == 1


def _prepared_on_server() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_the_two_statements_are_prepared_on_the_server(pos, pos_card):
    # Django connects with prepare_threshold=None, which makes psycopg ignore prepare=True: the statements
    # were parsed and planned on every purchase until the quick path set a threshold of its own.
    for _ in range(3):
        assert _buy(pos, pos_card).status_code == 201
    prepared = _prepared_on_server()
    assert len(prepared) == 2, prepared
    assert any("FOR UPDATE" in sql and "INSERT INTO loyalty_idempotentrequest" in sql for sql in prepared)
    assert any("UPDATE loyalty_idempotentrequest" in sql and "loyalty_purchase" in sql for sql in prepared)


@pytest.mark.django_db
def test_no_statement_is_prepared_when_prepared_statements_are_off(pos, pos_card, settings):
    settings.DB_PREPARED_STATEMENTS = False
    for _ in range(2):
        assert _buy(pos, pos_card).status_code == 201
    assert _prepared_on_server() == []


@pytest.mark.django_db
def test_quick_and_general_paths_write_the_same(pos, pos_card, merchant, location, pos_key):
    other = enroll_customer(merchant=merchant, phone="+79161234500", name="Борис", location=location)
    _buy(pos, other, bill="10.00")  # both cards have one purchase, and the key is verified
    ledger.purchase(
        merchant=merchant,
        card=pos_card,
        location=location,
        bill_amount=Decimal("10.00"),
        receipt_id="warm",
        idempotency_key="warm",
        api_key=pos_key.api_key,
    )
    with CaptureQueriesContext(connection) as quick_queries:
        quick = _buy(pos, other, bill="999.99")
    assert quick.status_code == 201 and len(_without_savepoints(quick_queries)) == 2
    general = ledger.purchase(
        merchant=merchant,
        card=Card.objects.get(pk=pos_card.pk),
        location=location,
        bill_amount=Decimal("999.99"),
        receipt_id="general",
        idempotency_key="general",
        api_key=pos_key.api_key,
    )
    quick_purchase = Purchase.objects.get(pk=quick.json()["id"])
    skip = {"id", "card_id", "receipt_id", "idempotency_key", "created_at"}
    for field in Purchase._meta.concrete_fields:
        if field.attname not in skip:
            assert getattr(quick_purchase, field.attname) == getattr(general, field.attname), field.attname

    def shape(card_id):
        entries = LedgerEntry.objects.filter(card_id=card_id).order_by("pk")
        lots = Lot.objects.filter(card_id=card_id).order_by("pk")
        card = Card.objects.get(pk=card_id)
        return (
            [(e.kind, e.points, e.stamps, e.rewards, e.lot_id is not None, e.reason) for e in entries],
            [(lot.kind, lot.points, lot.remaining, lot.activated_at is not None) for lot in lots],
            (card.balance, card.pending_points, card.debt, card.stamps, card.purchase_count, card.lifetime_spend),
        )

    assert shape(other.pk) == shape(pos_card.pk)
    body = quick.json()
    assert body["points_earned"] == general.points_earned and body["card"]["balance"] == shape(other.pk)[2][0]
    stored = IdempotentRequest.objects.get(key=quick.request["HTTP_IDEMPOTENCY_KEY"])
    assert stored.response_status == 201 and stored.response_body.encode() == quick.content
    assert verify_ledger(merchant_id=merchant.pk).ok


@pytest.mark.django_db
def test_a_replay_on_the_quick_path_returns_the_first_response(pos, pos_card):
    _buy(pos, pos_card)
    body = {"card_number": pos_card.number, "bill_amount": "50.00", "receipt_id": "R-1"}
    first = pos.post("/purchases/", body, key="same-key")
    again = pos.post("/purchases/", body, key="same-key")
    other = pos.post("/purchases/", {**body, "bill_amount": "51.00"}, key="same-key")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert Purchase.objects.filter(receipt_id="R-1").count() == 1


@pytest.mark.django_db
def test_the_openapi_schema_is_unchanged(tmp_path):
    # The POS API's contract: the quick purchase path must not change a byte of it.
    # After an intended change, regenerate: manage.py spectacular --file tests/loyalty/openapi_pos_v1.yaml
    call_command("spectacular", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text() == SCHEMA_SNAPSHOT.read_text()


@pytest.mark.django_db(transaction=True)
def test_the_quick_path_claims_the_key_before_it_locks_the_card(pos_key, pos_card, merchant):
    """One lock order with the general path (the key, then the card): a request whose key another
    transaction holds waits for that key without holding the card, so that transaction can still
    lock the card (as the general path does next) and nothing deadlocks."""
    db = connection.settings_dict
    holder = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"])
    try:
        holder.execute(
            "INSERT INTO loyalty_idempotentrequest (merchant_id, key, request_hash, response_status, response_body,"
            " created_at) VALUES (%s, 'held-key', 'other', NULL, '', now())",
            [merchant.pk],
        )
        outcome: dict = {}

        def buy() -> None:
            try:
                outcome["result"] = ledger.quick_purchase(
                    api_key=pos_key.api_key,
                    card_number=pos_card.number,
                    bill=Decimal("100.00"),
                    receipt_id="R-held",
                    key="held-key",
                    fingerprint="mine",
                    respond=lambda purchase: (201, b"{}"),
                )
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                outcome["error"] = exc
            finally:
                connection.close()

        thread = threading.Thread(target=buy)
        thread.start()
        # Autocommit: inside one transaction PostgreSQL shows pg_stat_activity as it was at the first look,
        # so a watcher that looked before the purchase began to wait never saw it wait (a CI run failed so).
        watcher = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True)
        with watcher:
            deadline = time.monotonic() + 60  # only ends a test that would otherwise hang
            # (The purchase is the only other session of the test database.)
            while not watcher.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", [db["NAME"]]
            ).fetchone():
                assert time.monotonic() < deadline and thread.is_alive(), outcome
                time.sleep(0.01)
        # The waiting purchase does not hold the card: the key's holder locks it at once.
        holder.execute("SELECT 1 FROM loyalty_card WHERE id = %s FOR UPDATE NOWAIT", [pos_card.pk])
        holder.rollback()  # the key is free again: the waiting purchase goes on
        thread.join(60)
    finally:
        holder.close()
    assert "error" not in outcome, outcome
    assert outcome["result"].status_code == 201 and not outcome["result"].replayed
    assert Purchase.objects.filter(receipt_id="R-held", idempotency_key="held-key").count() == 1


@pytest.mark.django_db
def test_a_promotion_takes_the_quick_path_and_records_what_the_general_path_does(
    pos, pos_card, merchant, location, pos_key
):
    from loyalty.models import TierChange

    other = enroll_customer(merchant=merchant, phone="+79161234501", name="Вера", location=location)
    rules = rules_for_version_id(Program.objects.get(merchant=merchant).current_version_id)
    assert len(rules.tiers) >= 2
    just_below = rules.tiers[1].threshold - Decimal("50.00")
    for card in (pos_card, other):  # both just below the second tier (the key is verified by the first)
        _buy(pos, card, bill=str(just_below))
    with CaptureQueriesContext(connection) as queries:
        quick = _buy(pos, other, bill="100.00")
    assert quick.status_code == 201, quick.content
    # Lock, the new tier's name, the write: still one transaction, no general path.
    assert len(_without_savepoints(queries)) == 3 and "FOR UPDATE" in _without_savepoints(queries)[0]
    general = ledger.purchase(
        merchant=merchant,
        card=Card.objects.get(pk=pos_card.pk),
        location=location,
        bill_amount=Decimal("100.00"),
        receipt_id="general",
        idempotency_key="general",
        api_key=pos_key.api_key,
    )

    def change(card):
        [row] = TierChange.objects.filter(card=card)
        return row

    quick_change, general_change = change(other), change(pos_card)
    assert quick_change.purchase_id == quick.json()["id"] and general_change.purchase_id == general.pk
    for field in (
        "from_tier_id",
        "to_tier_id",
        "from_tier_name",
        "to_tier_name",
        "reason",
        "spend",
        "program_version_id",
    ):
        assert getattr(quick_change, field) == getattr(general_change, field), field
    assert quick_change.to_tier_id == rules.tiers[1].id
    assert Card.objects.get(pk=other.pk).tier_id == Card.objects.get(pk=pos_card.pk).tier_id == rules.tiers[1].id
    assert quick.json()["card"]["tier"] == general.card.tier.name
    assert verify_ledger(merchant_id=merchant.pk).ok


class _TurnCountingRelay:
    """A TCP relay on 127.0.0.1 between Django and PostgreSQL that counts round
    trips: the times the server speaks after the client has spoken."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.turns = 0
        self._client_spoke = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        client, _address = self.listener.accept()
        server = socket.create_connection(self.upstream)
        with selectors.DefaultSelector() as selector, client, server:
            selector.register(client, selectors.EVENT_READ, server)
            selector.register(server, selectors.EVENT_READ, client)
            while not self._stop.is_set():
                for key, _events in selector.select(timeout=0.1):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    if key.fileobj is client:
                        self._client_spoke = True
                    elif self._client_spoke:
                        self._client_spoke = False
                        self.turns += 1
                    key.data.sendall(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()


@pytest.fixture
def through_relay():
    """Django's connection to the test database goes through a _TurnCountingRelay."""
    settings_dict = connection.settings_dict
    saved = settings_dict["HOST"], settings_dict["PORT"]
    relay = _TurnCountingRelay(saved[0] or "127.0.0.1", int(saved[1] or 5432))
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", relay.port
    try:
        yield relay
    finally:
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = saved
        relay.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("prepared", [True, False], ids=["prepared", "not-prepared"])
def test_a_purchase_of_its_own_is_two_round_trips(pos_key, pos_card, through_relay, settings, prepared):
    settings.DB_PREPARED_STATEMENTS = prepared

    # Outside a caller's transaction (as the purchase lane and the view call it), the purchase is sent in
    # pipeline mode: the lock statement with a flush request, then the write with the Sync that commits
    # both. Through Django's atomic it was four (BEGIN, the lock, the write, COMMIT).
    def buy(receipt: str):
        return ledger.quick_purchase(
            api_key=pos_key.api_key,
            card_number=pos_card.number,
            bill=Decimal("100.00"),
            receipt_id=receipt,
            key=receipt,
            fingerprint=receipt,
            respond=lambda purchase: (201, b"{}"),
        )

    buy("R-warm")  # the connection is opened, the statements prepared, the program's rules cached
    before = through_relay.turns
    result = buy("R-counted")
    assert through_relay.turns - before == 2
    assert result.status_code == 201 and not result.replayed
    # Committed, both statements' rows: the key's response, the purchase, the card's balance.
    assert IdempotentRequest.objects.get(key="R-counted").response_status == 201
    purchase = Purchase.objects.get(receipt_id="R-counted")
    assert Card.objects.get(pk=pos_card.pk).balance == purchase.points_earned * 2
    assert verify_ledger(merchant_id=pos_card.merchant_id).ok


@pytest.mark.django_db(transaction=True)
def test_a_write_refused_at_the_sync_leaves_nothing_and_goes_to_the_general_path(pos_key, pos_card):
    # In pipeline mode the write's error (here the receipt's unique index) surfaces at the Sync, after
    # the rules ran: the whole transaction is rolled back, the key's claim with it.
    def buy(key: str):
        return ledger.quick_purchase(
            api_key=pos_key.api_key,
            card_number=pos_card.number,
            bill=Decimal("100.00"),
            receipt_id="R-once",
            key=key,
            fingerprint=key,
            respond=lambda purchase: (201, b"{}"),
        )

    assert buy("first").status_code == 201
    balance = Card.objects.get(pk=pos_card.pk).balance
    with pytest.raises(ledger.NotQuick):
        buy("second")
    assert not IdempotentRequest.objects.filter(key="second").exists()
    assert Purchase.objects.filter(receipt_id="R-once").count() == 1
    assert Card.objects.get(pk=pos_card.pk).balance == balance
    assert verify_ledger(merchant_id=pos_card.merchant_id).ok


@pytest.mark.django_db(transaction=True)
def test_a_promotion_in_pipeline_mode_reads_the_tier_inside_the_transaction(pos_key, pos_card, through_relay):
    # The new tier's name is read by Django's own cursor between the lock and the write, inside the
    # pipeline's transaction: one more round trip, the same rows as on the general path.
    from loyalty.models import TierChange

    rules = rules_for_version_id(Program.objects.get(merchant=pos_card.merchant).current_version_id)
    assert len(rules.tiers) >= 2

    def buy(receipt: str, bill: Decimal):
        return ledger.quick_purchase(
            api_key=pos_key.api_key,
            card_number=pos_card.number,
            bill=bill,
            receipt_id=receipt,
            key=receipt,
            fingerprint=receipt,
            respond=lambda purchase: (201, purchase.card.tier.name.encode()),
        )

    buy("R-below", rules.tiers[1].threshold - Decimal("50.00"))
    before = through_relay.turns
    result = buy("R-promoted", Decimal("100.00"))
    assert through_relay.turns - before == 3
    assert result.status_code == 201 and result.content == rules.tiers[1].name.encode()
    [change] = TierChange.objects.filter(card=pos_card)
    assert change.to_tier_id == rules.tiers[1].id == Card.objects.get(pk=pos_card.pk).tier_id
    assert change.purchase_id == Purchase.objects.get(receipt_id="R-promoted").pk
    assert verify_ledger(merchant_id=pos_card.merchant_id).ok
