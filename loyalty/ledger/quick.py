"""The quick purchase: the common POS purchase (accrual, no redemption) in two
SQL statements, with the same rules and guarantees as ``purchase``.

1. One statement claims the Idempotency-Key (its row, on PostgreSQL; the
   general path's order: the key, then the card), then locks the card row
   (``FOR UPDATE``) and reads what the rules need with it: the counters, the
   program's current version, the tier's name, whether a referral waits on
   this card, whether the API key is still active, and the ids the new
   purchase and its lot will get.
2. The rules run in Python, in the same code as the general path
   (``quotes.calculate``, ``purchases.apply_purchase``, ``tiers.promotion_due``,
   the ``Batch``), in memory.
3. One round trip writes everything: the response on the key's row (found
   by the ctid the first statement returned: a TID scan, whatever plan the
   prepared statement was given while the table was small), the purchase, the
   lot, the ledger entries, a tier promotion's record, the card's counters
   and (on PostgreSQL) the mark on the card's wallet pass. Then COMMIT. (A
   promotion or a card without a tier reads the new tier's name first: one
   more statement in those cases.)

On PostgreSQL both statements are prepared on the server (once per
connection, see ``_cursor``): their text is the same for every purchase.
(Django connects with ``prepare_threshold=None``, under which psycopg
prepares nothing; ``_cursor`` gives the connection a threshold of its own.)
Called outside a transaction (the purchase lane, the view), the purchase is
its own transaction in two round trips, without BEGIN and COMMIT: psycopg's
pipeline mode in PostgreSQL's implicit transaction (``_in_pipeline``). Inside a
caller's ``atomic`` block the same statements run there, one round trip each.

Whatever is not the common case raises ``NotQuick`` before anything is
written (the transaction rolls back) and the caller takes the general path,
which handles it exactly as before: an unknown or blocked card, redemption,
points or stamps due to expire or activate, a live offer (``Card.offer_until``),
a referral, a spend window for tiers, a duplicate receipt, an inactive API key.
A replayed Idempotency-Key trips the
unique index of the idempotency row and returns the stored response, as
``run_idempotent`` does.

On SQLite (the embedded default) the same code runs: no ``FOR UPDATE`` (the
transaction holds the database's write lock from its start, so the order of
the key and the card does not matter), ids from MAX + 1 under that lock, the
statements sent one by one (the key's row with its response last), and the
wallet pass marked by ``contract.cards_changed`` in the same transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, Self

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.utils import timezone
from psycopg import pq
from psycopg.abc import Params

from loyalty import idempotency
from loyalty.idempotency import IdempotentResponse
from loyalty.ledger.batch import CARD_COUNTER_FIELDS, Batch, check_money
from loyalty.ledger.locks import settle
from loyalty.ledger.purchases import apply_purchase, new_purchase
from loyalty.ledger.quotes import calculate
from loyalty.ledger.rows import loaded_row
from loyalty.ledger.tiers import promotion_due, tier_change
from loyalty.models import Card, Customer, IdempotentRequest, LedgerEntry, Lot, Program, Purchase, Tier, TierChange
from loyalty.program.services import rules_for_version_id
from loyalty.wallet import contract as wallet
from merchants.models import ApiKey, Location, Merchant

PROMOTION = TierChange.Reason.PROMOTION


class NotQuick(Exception):
    """This purchase needs the general path; nothing was written."""


# Card columns read with the lock, in this order, and the extras after them.
_CARD_COLUMNS = [
    "id",
    "merchant_id",
    "customer_id",
    "number",
    "status",
    "tier_id",
    "balance",
    "pending_points",
    "debt",
    "stamps",
    "rewards_available",
    "purchase_count",
    "last_purchase_at",
    "last_stamp_at",
    "boosted_purchases_left",
    "lifetime_spend",
    "settle_after",
    "offer_until",
]
_EXTRAS = (
    f"(SELECT p.current_version_id FROM {Program._meta.db_table} p WHERE p.merchant_id = c.merchant_id), "
    f"(SELECT t.name FROM {Tier._meta.db_table} t WHERE t.id = c.tier_id), "
    f"(SELECT cu.referred_by_id IS NOT NULL AND cu.referral_completed_at IS NULL "
    f"FROM {Customer._meta.db_table} cu WHERE cu.id = c.customer_id), "
    # The API key's "still active" check (loyalty.api.auth) rides along.
    f"EXISTS (SELECT 1 FROM {ApiKey._meta.db_table} k "
    f"JOIN {Merchant._meta.db_table} m ON m.id = k.merchant_id "
    f"JOIN {Location._meta.db_table} l ON l.id = k.location_id "
    "WHERE k.id = %s AND k.revoked_at IS NULL AND m.is_active AND l.is_active), "
)
_IDEMPOTENCY_COLUMNS = "(merchant_id, key, request_hash, response_status, response_body, created_at)"
# PostgreSQL: the Idempotency-Key is claimed first, in the same statement, as the general path claims it
# before it locks the card (idempotency.run_idempotent): one lock order, so two requests with one key on
# the two paths wait for each other instead of deadlocking. The claim is the plan's one-time filter, run
# before the card's row is read and locked; a replay meets the key's unique index there (and waits there
# for a concurrent first request). The response is stored by the write statement.
_CLAIM_KEY_SQL = (
    f"WITH i AS (INSERT INTO {IdempotentRequest._meta.db_table} {_IDEMPOTENCY_COLUMNS} "
    "VALUES (%s, %s, %s, NULL, '', %s) RETURNING ctid) "
)
_LOCK_SQL = {
    "postgresql": (
        _CLAIM_KEY_SQL + f"SELECT {', '.join('c.' + name for name in _CARD_COLUMNS)}, {_EXTRAS}"
        f"nextval(pg_get_serial_sequence('{Purchase._meta.db_table}', 'id')), "
        f"nextval(pg_get_serial_sequence('{Lot._meta.db_table}', 'id')), "
        # Where the key's row is: the write statement updates it there (a TID scan, whatever the
        # planner thinks of the table's size when it plans the prepared statement).
        "(SELECT ctid::text FROM i) "
        f"FROM {Card._meta.db_table} c WHERE c.merchant_id = %s AND c.number = %s "
        "AND EXISTS (SELECT FROM i) FOR UPDATE OF c"
    ),
    # SQLite: the transaction took the write lock at BEGIN (IMMEDIATE), so MAX + 1 is ours.
    "sqlite": (
        f"SELECT {', '.join('c.' + name for name in _CARD_COLUMNS)}, {_EXTRAS}"
        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {Purchase._meta.db_table}), "
        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {Lot._meta.db_table}) "
        f"FROM {Card._meta.db_table} c WHERE c.merchant_id = %s AND c.number = %s"
    ),
}


def _fields(model: type[Model], with_id: bool) -> list:
    return [f for f in model._meta.concrete_fields if with_id or not f.primary_key]


_PURCHASE_FIELDS = _fields(Purchase, with_id=True)
_LOT_FIELDS = _fields(Lot, with_id=True)
_ENTRY_FIELDS = _fields(LedgerEntry, with_id=False)
_TIER_CHANGE_FIELDS = _fields(TierChange, with_id=False)


def _card_field(name: str) -> Field:
    field = Card._meta.get_field(name)
    assert isinstance(field, Field)  # a column of the card, not a relation's other side
    return field


_CARD_FIELDS = [_card_field(name) for name in CARD_COUNTER_FIELDS]


def _columns(fields: list, prefix: str = "") -> str:
    return ", ".join(prefix + f.column for f in fields)


# Each row's fields: (their columns, a getter of their attributes in one call).
_ROW_SHAPES = {
    id(fields): (tuple(f.column for f in fields), attrgetter(*(f.attname for f in fields)))
    for fields in (_PURCHASE_FIELDS, _LOT_FIELDS, _ENTRY_FIELDS, _TIER_CHANGE_FIELDS, _CARD_FIELDS)
}


def _values(obj: Model, fields: list, conn) -> list:
    if conn.vendor == "postgresql":
        # The attributes as they are: psycopg adapts them, and _json writes decimals and times as text.
        return list(_ROW_SHAPES[id(fields)][1](obj))
    return [f.get_db_prep_save(getattr(obj, f.attname), conn) for f in fields]


# PostgreSQL: every write of the purchase in one statement, a chain of
# data-modifying CTEs, with the wallet pass's mark as its main query. Rows
# travel as JSON (json_populate_record(set)), so the statement's text and its
# dozen parameters are the same for every purchase (psycopg caches its
# parsing; the entries and lots are lists, empty or not).
_PG_WRITE_SQL = (
    # The key's row (claimed by the lock statement) gets the response.
    f"WITH i AS (UPDATE {IdempotentRequest._meta.db_table} SET response_status = %s, response_body = %s "
    "WHERE ctid = %s::tid AND merchant_id = %s AND key = %s), "
    f"p AS (INSERT INTO {Purchase._meta.db_table} ({_columns(_PURCHASE_FIELDS)}) "
    f"SELECT {_columns(_PURCHASE_FIELDS, 'r.')} "
    f"FROM json_populate_record(NULL::{Purchase._meta.db_table}, %s::json) r), "
    f"l AS (INSERT INTO {Lot._meta.db_table} ({_columns(_LOT_FIELDS)}) "
    f"SELECT {_columns(_LOT_FIELDS, 'r.')} "
    f"FROM json_populate_recordset(NULL::{Lot._meta.db_table}, %s::json) r), "
    f"e AS (INSERT INTO {LedgerEntry._meta.db_table} ({_columns(_ENTRY_FIELDS)}) "
    f"SELECT {_columns(_ENTRY_FIELDS, 'r.')} "
    f"FROM json_populate_recordset(NULL::{LedgerEntry._meta.db_table}, %s::json) r), "
    f"t AS (INSERT INTO {TierChange._meta.db_table} ({_columns(_TIER_CHANGE_FIELDS)}) "
    f"SELECT {_columns(_TIER_CHANGE_FIELDS, 'r.')} "
    f"FROM json_populate_recordset(NULL::{TierChange._meta.db_table}, %s::json) r), "
    f"c AS (UPDATE {Card._meta.db_table} SET ({_columns(_CARD_FIELDS)}) = "
    f"(SELECT {_columns(_CARD_FIELDS, 'r.')} FROM json_populate_record(NULL::{Card._meta.db_table}, %s::json) r) "
    "WHERE id = %s) "
)


def _json(fields: list, values: list) -> dict:
    """A row for json_populate_record(set), by column; written with _dumps."""
    return dict(zip(_ROW_SHAPES[id(fields)][0], values, strict=True))


# Numbers, text, booleans and nulls as JSON's own; decimals and times as their text, which PostgreSQL
# reads back exactly. One encoder for the process (json.dumps with options builds one per call; encode()
# keeps no state between calls, so threads share it).
_dumps = json.JSONEncoder(default=str).encode


# SQLite: the same rows, one plain statement each.
def _sqlite_insert(table: str, fields: list) -> str:
    return f"INSERT INTO {table} ({_columns(fields)}) VALUES ({', '.join(['%s'] * len(fields))})"


_SQLITE_SQL = {
    "idempotency": (
        f"INSERT INTO {IdempotentRequest._meta.db_table} {_IDEMPOTENCY_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s)"
    ),
    "purchase": _sqlite_insert(Purchase._meta.db_table, _PURCHASE_FIELDS),
    "lot": _sqlite_insert(Lot._meta.db_table, _LOT_FIELDS),
    "entry": _sqlite_insert(LedgerEntry._meta.db_table, _ENTRY_FIELDS),
    "tier_change": _sqlite_insert(TierChange._meta.db_table, _TIER_CHANGE_FIELDS),
    "card": f"UPDATE {Card._meta.db_table} SET {', '.join(f'{f.column} = %s' for f in _CARD_FIELDS)} WHERE id = %s",
}


_converters: dict[str, list] = {}


def _card_from_row(values: tuple, db: BaseDatabaseWrapper) -> Card:
    """The locked card from its columns, converted as the ORM would (SQLite
    returns dates and decimals as text and numbers)."""
    converters = _converters.get(db.vendor)
    if converters is None:
        converters = []
        for index, name in enumerate(_CARD_COLUMNS):
            field = _card_field(name)
            column = field.get_col(Card._meta.db_table)
            for convert in db.ops.get_db_converters(column) + field.get_db_converters(db):
                converters.append((index, convert, column))
        _converters[db.vendor] = converters
    row = list(values)
    for index, convert, column in converters:
        row[index] = convert(row[index], column, db)
    # As the ORM loads a row; the columns not read are deferred, so a rule that reads one would load it
    # rather than see a default.
    return loaded_row(Card, db.alias, dict(zip(_CARD_COLUMNS, row, strict=True)))


class _PreparingCursor(psycopg.Cursor):
    """psycopg's server-side binding, each statement prepared on its first
    execution on a connection (Django's own cursors bind on the client and
    never prepare; its ``prepare_threshold`` option would only take effect
    with ``server_side_binding`` for every query of the project)."""

    def execute(
        self, query: Any, params: Params | None = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Self:
        return super().execute(query, params, prepare=True, binary=binary)


class _LoggedPreparingCursor(_PreparingCursor):
    """The same, for Django's query log (DEBUG, CaptureQueriesContext): psycopg
    keeps the text of the last query only for statements it does not prepare,
    and the log reads it from there."""

    def execute(
        self, query: Any, params: Params | None = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Self:
        super().execute(query, params, binary=binary)
        self._query = self._convert_query(query, params)
        return self


_NEVER_BY_COUNT = 2**31 - 1


def _cursor(db: BaseDatabaseWrapper):
    """A cursor for the two statements: prepared on PostgreSQL (the parse and
    plan are saved for the connection's life, DB_CONN_MAX_AGE; a connection
    pooler in transaction mode must keep prepared statements, as PgBouncer
    does from 1.21 with max_prepared_statements, or DB_PREPARED_STATEMENTS be
    off), Django's plain one otherwise. Either way Django's wrapper runs it
    (errors, query log, execute_wrapper)."""
    if db.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        return db.cursor()
    db.ensure_connection()
    raw_connection = db.connection
    if raw_connection.prepare_threshold is None:
        # Django connects with prepare_threshold=None (its default, for poolers), and psycopg then prepares
        # nothing, not even with prepare=True. A threshold no statement reaches: only these two cursors'
        # statements (prepare=True) are prepared; Django's own cursors bind on the client and never are.
        raw_connection.prepare_threshold = _NEVER_BY_COUNT
    # (django-stubs type these as taking Django's wrapper; they take the driver's cursor.)
    if db.queries_logged:
        return db.make_debug_cursor(_LoggedPreparingCursor(raw_connection))  # type: ignore[arg-type]
    return db.make_cursor(_PreparingCursor(raw_connection))  # type: ignore[arg-type]


def _may_pipeline(db: BaseDatabaseWrapper) -> bool:
    """The purchase may be a transaction of its own, sent in pipeline mode: the
    caller has none open (no ``atomic`` block, autocommit on)."""
    return not db.in_atomic_block and db.get_autocommit()


# Undoes the lock statement when the purchase turns out not to be quick (NotQuick) in pipeline mode: the
# key's claim was its only write (the ids it took from the sequences are spent, as after a rollback).
_UNCLAIM_SQL = (
    f"DELETE FROM {IdempotentRequest._meta.db_table} WHERE merchant_id = %s AND key = %s AND response_status IS NULL"
)


def _in_pipeline(
    db: BaseDatabaseWrapper, cursor, apply: Callable[[Any], _Plan], *, merchant_id: int, key: str
) -> _Plan:
    """``apply(cursor)`` as one transaction in two round trips, in psycopg's
    pipeline mode and PostgreSQL's implicit transaction (the statements between
    two Syncs of the extended protocol). The lock statement's row is fetched
    with a flush request, without a Sync, so the transaction and the card's
    lock stay open while the rules run; the write statement goes with the Sync,
    which commits both. Through Django's ``atomic``, BEGIN and COMMIT would each
    be a round trip of their own (or, sent in the pipeline, two more messages
    for both sides to handle).

    A database error rolls the transaction back (PostgreSQL skips the rest up
    to the Sync) and surfaces where the pipeline meets it, at the lock's fetch
    or at the Sync, as Django's error. NotQuick (raised only before the write
    is sent) deletes the key's claim in the same transaction instead of a
    ROLLBACK, which PostgreSQL would log as a warning about an implicit
    transaction; anything else raised is rolled back with ROLLBACK."""
    raw = db.connection
    with db.wrap_database_errors, raw.pipeline():
        try:
            return apply(cursor)
        except NotQuick:
            if raw.pgconn.pipeline_status == pq.PipelineStatus.ON:
                cursor.execute(_UNCLAIM_SQL, [merchant_id, key])
            raise
        except BaseException:
            if raw.pgconn.pipeline_status == pq.PipelineStatus.ON:
                raw.execute("ROLLBACK")
            raise


def card_number_digits(card_number: str) -> str | None:
    """A card number as stored (spaces and dashes ignored), or None if it cannot be one."""
    digits = re.sub(r"[\s-]", "", card_number)
    return digits if digits.isdigit() and len(digits) <= 20 else None


def quick_purchase(
    *,
    api_key: ApiKey,
    card_number: str,
    bill: Decimal,
    receipt_id: str,
    key: str,
    fingerprint: str,
    respond: Callable[[Purchase], tuple[int, bytes]],
    now: datetime | None = None,
) -> IdempotentResponse:
    """An accrual-only purchase at ``api_key``'s location, once per
    Idempotency-Key ``key``. ``respond(purchase)`` gives the response's status
    and body (``purchase.card`` is the card after it, with its tier); it is
    stored with the purchase. Raises NotQuick for what the general path must do."""
    now = now or timezone.now()
    merchant = api_key.merchant
    bill = check_money(bill, field="bill_amount")
    digits = card_number_digits(card_number)
    if digits is None or not receipt_id or bill <= 0:
        raise NotQuick()
    db = connections[DEFAULT_DB_ALIAS]
    vendor = db.vendor
    if vendor not in _LOCK_SQL:
        raise NotQuick()

    def apply(cursor) -> _Plan:
        claim = [merchant.pk, key, fingerprint, now] if vendor == "postgresql" else []
        cursor.execute(_LOCK_SQL[vendor], [*claim, api_key.pk, merchant.pk, digits])
        row = cursor.fetchone()
        if row is None:
            raise NotQuick()
        version_id, tier_name, referral_waits, key_active, purchase_id, lot_id = row[
            len(_CARD_COLUMNS) : len(_CARD_COLUMNS) + 6
        ]
        if not key_active or version_id is None:
            raise NotQuick()
        card = _card_from_row(row[: len(_CARD_COLUMNS)], db)
        if card.is_blocked or (card.settle_after is not None and card.settle_after <= now):
            raise NotQuick()
        if card.offer_until is not None and card.offer_until > now:
            # A campaign's offer may apply (loyalty.ledger.offers): the general path applies it.
            raise NotQuick()
        rules = rules_for_version_id(version_id)
        if rules.tier_window_months and rules.tiers and card.tier_id != rules.tiers[-1].id:
            # Spend in a window is summed over the purchases, this one included: general path.
            raise NotQuick()
        plan = _plan(
            api_key=api_key,
            card=card,
            rules=rules,
            bill=bill,
            receipt_id=receipt_id,
            key=key,
            fingerprint=fingerprint,
            respond=respond,
            now=now,
            ids=(int(purchase_id), int(lot_id)),
            referral_waits=bool(referral_waits),
            tier_name=tier_name,
            db=db,
        )
        if vendor == "postgresql":
            mark_sql, mark_params = wallet.card_changed_statement(card_id=card.pk, now=now)
            params = [
                plan.response.status_code,
                plan.response.content.decode(),
                row[-1],  # the key's row (its ctid)
                merchant.pk,
                key,
                _dumps(_json(_PURCHASE_FIELDS, plan.purchase)),
                _dumps([_json(_LOT_FIELDS, lot) for lot in plan.lots]),
                _dumps([_json(_ENTRY_FIELDS, entry) for entry in plan.entries]),
                _dumps([_json(_TIER_CHANGE_FIELDS, change) for change in plan.tier_changes]),
                _dumps(_json(_CARD_FIELDS, plan.card)),
                card.pk,
                *mark_params,
            ]
            # Its rows (the pass it marked) are read once it has run: card_marked.
            cursor.execute(_PG_WRITE_SQL + mark_sql, params)
        else:
            cursor.execute(_SQLITE_SQL["idempotency"], plan.idempotency)
            cursor.execute(_SQLITE_SQL["purchase"], plan.purchase)
            for lot in plan.lots:
                cursor.execute(_SQLITE_SQL["lot"], lot)
            for entry in plan.entries:
                cursor.execute(_SQLITE_SQL["entry"], entry)
            for change in plan.tier_changes:
                cursor.execute(_SQLITE_SQL["tier_change"], change)
            cursor.execute(_SQLITE_SQL["card"], [*plan.card, card.pk])
            wallet.cards_changed(merchant=merchant.pk, card_ids=[card.pk], now=now)
        return plan

    try:
        if vendor == "postgresql" and _may_pipeline(db):
            with _cursor(db) as cursor:
                plan = _in_pipeline(db, cursor, apply, merchant_id=merchant.pk, key=key)
                # Committed: the sync of a pass this purchase marked first is queued now (on_commit
                # outside a transaction runs at once).
                wallet.card_marked(cursor.fetchall())
        else:
            with transaction.atomic(), _cursor(db) as cursor:
                plan = apply(cursor)
                if vendor == "postgresql":
                    wallet.card_marked(cursor.fetchall())
    except IntegrityError as exc:
        if idempotency.is_key_conflict(exc):
            return idempotency.replay(merchant=merchant, key=key, fingerprint=fingerprint)
        raise NotQuick() from exc
    return plan.response


@dataclass
class _Plan:
    """The purchase's rows, as database values in the order of their fields."""

    idempotency: list
    purchase: list
    lots: list[list]
    entries: list[list]
    tier_changes: list[list]
    card: list
    response: IdempotentResponse


def _plan(
    *, api_key, card, rules, bill, receipt_id, key, fingerprint, respond, now, ids, referral_waits, tier_name, db
) -> _Plan:
    """The rows the purchase writes (the rules applied in memory) and its
    response. Raises NotQuick for the general path's cases."""
    merchant = api_key.merchant
    purchase_id, lot_id = ids
    batch = Batch(merchant=merchant, rules=rules, now=now, api_key=api_key, persist=False)
    settle(batch, card)  # nothing is due (see above) but stamps that have lapsed
    calc = calculate(merchant=merchant, card=card, rules=rules, bill=bill, redeem_points=0, now=now, check=True)
    p = new_purchase(
        merchant=merchant,
        card=card,
        location=api_key.location,
        rules=rules,
        calc=calc,
        bill=bill,
        redeem_points=0,
        redeem_rewards=0,
        receipt_id=receipt_id,
        key=key,
        actor=None,
        api_key=api_key,
        now=now,
    )
    p.pk = purchase_id
    tier_before = card.tier_id
    first_purchase = apply_purchase(batch, card, p, calc, redeem_points=0, redeem_rewards=0, key=key)
    if first_purchase and referral_waits:
        raise NotQuick()
    # A promotion, recorded as the general path's promote() records it (one more row in the write).
    due = promotion_due(batch, card)
    change = tier_change(batch, card, due[0], reason=PROMOTION, spend=due[1], purchase=p) if due else None
    if card.tier_id != tier_before:
        # Promoted, or a card without a tier put on the lowest: its tier named as the general path would.
        tier_name = Tier.objects.filter(pk=card.tier_id).values_list("name", flat=True).first()
    # The new lot (a debt repayment's entries name it too); lots that existed are the general path's.
    lots = list({id(entry.lot): entry.lot for entry in batch.entries if entry.lot is not None}.values())
    if batch.dirty_lots or len(lots) > 1 or any(lot.pk is not None for lot in lots):
        raise NotQuick()
    for lot in lots:
        lot.pk = lot_id
    for entry in batch.entries:
        # Set before the lot had its id; the purchase had its id before any entry.
        entry.lot_id = entry.lot.pk if entry.lot is not None else None

    card.updated_at = now
    p.card = card
    if card.tier_id is not None:
        card.tier = Tier(id=card.tier_id, name=tier_name or "")
    status_code, content = respond(p)

    return _Plan(
        idempotency=[merchant.pk, key, fingerprint, status_code, content.decode(), now],
        purchase=_values(p, _PURCHASE_FIELDS, db),
        lots=[_values(lot, _LOT_FIELDS, db) for lot in lots],
        entries=[_values(entry, _ENTRY_FIELDS, db) for entry in batch.entries],
        tier_changes=[_values(change, _TIER_CHANGE_FIELDS, db)] if change is not None else [],
        card=_values(card, _CARD_FIELDS, db),
        response=IdempotentResponse(status_code, content, replayed=False),
    )
