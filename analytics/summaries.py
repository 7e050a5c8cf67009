"""Keeping the summary tables (analytics.models.summaries) in step with the
ledger's append-only rows.

* ``refresh()`` (a beat task every few minutes) adds the purchases, refunds,
  ledger entries and cards with ids above the stored high-water marks, and
  moves the marks, in one transaction: a rerun finds nothing new and adds
  nothing (idempotent), a crash adds nothing (atomic).
* ``rebuild()`` (nightly) recounts everything up to the marks into fresh,
  unindexed copies of the tables, indexes each copy once, then swaps the names,
  all in one transaction: readers see the old tables until it commits, never a
  half-filled one. (Inserting millions of rows into indexed tables, as an
  upsert does, costs many times more: every row updates every index at a
  random place.) Each copy is analysed before the swap and vacuumed after it,
  so the planner and index-only scans see the new tables. It also repairs anything the refresh could have missed.
* ``rebuild_cohorts()`` (nightly) recounts the retention triangle and the
  tier distribution, which are derived rather than additive.

Why a lag: ids come from sequences when a row is inserted, but rows become
visible when their transaction commits, so a row with a smaller id can
appear after a larger one. The refresh only goes up to the first row younger
than ``lag`` (ledger transactions last milliseconds; see the note in
``_target``); the nightly rebuild catches whatever still slipped through.

Purchase rows are not entirely append-only (a refund updates the purchase's
running totals), so refunds are counted from Refund rows, on the refund's day,
never from ``Purchase.refunded_amount``.

Everything is plain SQL over the whole platform (one set of marks for all
merchants): the work is proportional to the new rows, not to the tables.
Read-only toward loyalty: nothing here writes a loyalty table.

On SQLite (the quick start's embedded default) the same functions run, with a
few fragments switched by ``connection.vendor``: the local day and month come
from functions registered on each connection (merchants/local_calendar.py), no
casts, no ``SET LOCAL``, upserts name their conflict columns (the unique
indexes of migration 0010, which stand in for PostgreSQL's NULLS NOT DISTINCT
constraints), a card's first location comes from a window function instead of
``array_agg``, and the nightly rebuild empties and refills the live tables in
its one transaction instead of swapping in indexed copies (SQLite serialises
writers, and the quick start's data is small).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from analytics.models import SummaryState

logger = logging.getLogger(__name__)

STATE_KEY = "summaries"
DEFAULT_LAG = timedelta(minutes=2)

DM_TABLE = "analytics_dailymerchantstats"
DL_TABLE = "analytics_dailylocationstats"
CS_TABLE = "analytics_customerstats"
CM_TABLE = "analytics_customermonthstats"
BC_TABLE = "analytics_buyercount"
# Rebuilt by swapping in a new copy (in this order).
SWAPPED = (DM_TABLE, DL_TABLE, CS_TABLE, CM_TABLE, BC_TABLE)
BC_KEYS = ("merchant_id", "location_id", "kind", "month", "prev_month", "first_month", "next_month")

DM_COLS = (
    "joined",
    "visits",
    "bill_total",
    "refund_total",
    "points_bills",
    "points_paid_total",
    "points_earned",
    "points_bonus",
    "points_redeemed",
    "points_expired",
    "points_net",
)
DL_COLS = (
    "joined",
    "visits",
    "bill_total",
    "refund_total",
    "points_bills",
    "points_paid_total",
    "points_earned",
    "points_redeemed",
)

POSTGRESQL, SQLITE = "postgresql", "sqlite"

# The merchant's local calendar ({} is the source row's alias), per database.
LOCAL_DAY = {
    POSTGRESQL: "({}.created_at AT TIME ZONE m.time_zone)::date",
    SQLITE: "local_day({}.created_at, m.time_zone)",
}
LOCAL_MONTH = {
    POSTGRESQL: "date_trunc('month', {}.created_at AT TIME ZONE m.time_zone)::date",
    SQLITE: "local_month({}.created_at, m.time_zone)",
}


def _sqlite() -> bool:
    return connection.vendor == SQLITE


def _null(pg_type: str) -> str:
    """A typed NULL (PostgreSQL needs the type in a UNION's first branch; SQLite has no casts)."""
    return "NULL" if _sqlite() else f"NULL::{pg_type}"


@dataclass(frozen=True)
class RefreshResult:
    """How far each high-water mark moved (in ids; sequences have gaps, so
    these are not row counts)."""

    purchases: int
    refunds: int
    entries: int
    cards: int

    @property
    def changed(self) -> bool:
        return bool(self.purchases or self.refunds or self.entries or self.cards)


def _state_for_update() -> SummaryState:
    SummaryState.objects.get_or_create(key=STATE_KEY)
    return SummaryState.objects.select_for_update().get(key=STATE_KEY)


def _target(cursor, table: str, hwm: int, cutoff: datetime) -> int:
    """The largest id up to which every row is older than ``cutoff``: stop just
    before the first young row above the mark (it may have neighbours with
    smaller ids whose transactions have not committed yet)."""
    cursor.execute(
        f"SELECT min(id) FROM {table} WHERE id > %s AND created_at > %s",
        [hwm, connection.ops.adapt_datetimefield_value(cutoff)],
    )
    (young,) = cursor.fetchone()
    if young is not None:
        return max(hwm, young - 1)
    cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
    (top,) = cursor.fetchone()
    return max(hwm, top)


# --- what each source row adds to each table ------------------------------------------------
# Each source is a SELECT over the source rows with ids in (%s, %s], grouped by the
# table's keys, yielding some of its columns by name (the others count 0). The refresh
# adds them to existing rows (``_add``); the rebuild sums them into a fresh table.

_P_BASE = "FROM loyalty_purchase p JOIN merchants_merchant m ON m.id = p.merchant_id WHERE p.id > %s AND p.id <= %s"
_P_SUMS = (
    "count(*) AS visits, sum(p.bill_amount) AS bill_total, "
    "count(*) FILTER (WHERE p.points_redeemed > 0) AS points_bills, "
    "sum(p.points_amount) AS points_paid_total"
)
_R_BASE = (
    "FROM loyalty_refund r JOIN loyalty_purchase p ON p.id = r.purchase_id "
    "JOIN merchants_merchant m ON m.id = r.merchant_id WHERE r.id > %s AND r.id <= %s"
)
_C_BASE = (
    "FROM loyalty_card c JOIN merchants_merchant m ON m.id = c.merchant_id "
    "JOIN loyalty_customer cu ON cu.id = c.customer_id WHERE c.id > %s AND c.id <= %s"
)

DM_KEYS = ("merchant_id", "day")
DL_KEYS = ("merchant_id", "location_id", "day")
CM_KEYS = ("merchant_id", "card_id", "location_id", "month")
CM_COLS = ("visits", "bill_total")

# (table, unique constraint, keys, columns) per target; sources per (source table, target).
TARGETS = {
    DM_TABLE: ("daily_merchant_unique", DM_KEYS, DM_COLS),
    DL_TABLE: ("daily_location_unique", DL_KEYS, DL_COLS),
    CM_TABLE: ("customer_month_unique", CM_KEYS, CM_COLS),
}
# On SQLite an upsert names the columns of its unique index (a NULL location is 0 there,
# as NULLS NOT DISTINCT makes it one value on PostgreSQL; see migration 0010).
SQLITE_CONFLICT = {
    DM_TABLE: "merchant_id, day",
    DL_TABLE: "merchant_id, coalesce(location_id, 0), day",
    CM_TABLE: "card_id, month, coalesce(location_id, 0)",
    BC_TABLE: "merchant_id, coalesce(location_id, 0), kind, month, "
    "coalesce(prev_month, ''), coalesce(first_month, ''), coalesce(next_month, '')",
}


def _sources(vendor: str) -> dict[str, list[tuple[str, str]]]:
    p_day, p_month = LOCAL_DAY[vendor].format("p"), LOCAL_MONTH[vendor].format("p")
    r_day, c_day, e_day = (LOCAL_DAY[vendor].format(alias) for alias in "rce")
    # PostgreSQL's LIKE escapes with a backslash by default; SQLite's only when told.
    bonus = "e.kind LIKE 'bonus\\_%%'" + (" ESCAPE '\\'" if vendor == SQLITE else "")
    return {
        "purchases": [
            (DM_TABLE, f"SELECT p.merchant_id, {p_day} AS day, {_P_SUMS} {_P_BASE} GROUP BY 1, 2"),
            (
                DL_TABLE,
                f"SELECT p.merchant_id, p.location_id, {p_day} AS day, {_P_SUMS}, "
                f"sum(p.points_earned) AS points_earned, sum(p.points_redeemed) AS points_redeemed {_P_BASE} "
                "GROUP BY 1, 2, 3",
            ),
            (
                CM_TABLE,
                f"SELECT p.merchant_id, p.card_id, p.location_id, {p_month} AS month, "
                f"count(*) AS visits, sum(p.bill_amount) AS bill_total {_P_BASE} GROUP BY 1, 2, 3, 4",
            ),
        ],
        "refunds": [
            (
                DM_TABLE,
                f"SELECT r.merchant_id, {r_day} AS day, sum(r.amount) AS refund_total {_R_BASE} GROUP BY 1, 2",
            ),
            (
                DL_TABLE,
                f"SELECT r.merchant_id, p.location_id, {r_day} AS day, sum(r.amount) AS refund_total {_R_BASE} "
                "GROUP BY 1, 2, 3",
            ),
        ],
        "entries": [
            (
                DM_TABLE,
                f"SELECT e.merchant_id, {e_day} AS day, "
                "sum(e.points) FILTER (WHERE e.kind = 'earn') AS points_earned, "
                f"sum(e.points) FILTER (WHERE {bonus}) AS points_bonus, "
                "-sum(e.points) FILTER (WHERE e.kind = 'redeem') AS points_redeemed, "
                "-sum(e.points) FILTER (WHERE e.kind = 'expiry') AS points_expired, "
                "sum(e.points) AS points_net "
                "FROM loyalty_ledgerentry e JOIN merchants_merchant m ON m.id = e.merchant_id "
                "WHERE e.id > %s AND e.id <= %s GROUP BY 1, 2",
            )
        ],
        "cards": [
            (DM_TABLE, f"SELECT c.merchant_id, {c_day} AS day, count(*) AS joined {_C_BASE} GROUP BY 1, 2"),
            (
                DL_TABLE,
                f"SELECT c.merchant_id, cu.joined_location_id AS location_id, {c_day} AS day, count(*) AS joined "
                f"{_C_BASE} GROUP BY 1, 2, 3",
            ),
        ],
    }


SOURCES_BY_VENDOR = {POSTGRESQL: _sources(POSTGRESQL), SQLITE: _sources(SQLITE)}


def _vendor_sources() -> dict[str, list[tuple[str, str]]]:
    return SOURCES_BY_VENDOR[connection.vendor]


# One row per card: the first location is the one of the earliest purchase (ties: the smaller id).
CS_PURCHASES = """
    SELECT p.merchant_id, p.card_id, min(p.created_at) AS first_purchase_at, max(p.created_at) AS last_purchase_at,
           (array_agg(p.location_id ORDER BY p.created_at, p.id))[1] AS first_location_id,
           count(*) AS purchases, sum(p.bill_amount) AS bill_total
    FROM loyalty_purchase p WHERE p.id > %s AND p.id <= %s GROUP BY p.merchant_id, p.card_id
"""
# SQLite has no array_agg: the first location is a window's first value, the same on every row of the card.
CS_PURCHASES_SQLITE = """
    SELECT p.merchant_id, p.card_id, min(p.created_at) AS first_purchase_at, max(p.created_at) AS last_purchase_at,
           max(p.first_location_id) AS first_location_id,
           count(*) AS purchases, sum(p.bill_amount) AS bill_total
    FROM (SELECT merchant_id, card_id, created_at, bill_amount,
                 first_value(location_id) OVER (PARTITION BY card_id ORDER BY created_at, id) AS first_location_id
          FROM loyalty_purchase WHERE id > %s AND id <= %s) p
    GROUP BY p.merchant_id, p.card_id
"""
CS_REFUNDS = (
    "SELECT r.card_id, sum(r.amount) AS amount FROM loyalty_refund r WHERE r.id > %s AND r.id <= %s GROUP BY r.card_id"
)


def _cs_purchases() -> str:
    return CS_PURCHASES_SQLITE if _sqlite() else CS_PURCHASES


def _on_conflict(table: str, constraint: str, *, after_from: bool = True) -> str:
    """The upsert's conflict clause. (SQLite reads ``ON`` right after ``FROM (…) s`` as a
    join's, so there the SELECT gets a WHERE clause first.)"""
    if _sqlite():
        return f"{'WHERE true ' if after_from else ''}ON CONFLICT ({SQLITE_CONFLICT[table]})"
    return f"ON CONFLICT ON CONSTRAINT {constraint}"


def _present(cursor, source: str, params) -> set[str]:
    cursor.execute(f"SELECT * FROM ({source}) s LIMIT 0", params)
    return {d[0] for d in cursor.description}


def _add(cursor, table: str, source: str, params) -> None:
    """Insert-or-add: the ``source`` SELECT yields the table's keys and some of its
    columns (by name); missing columns count 0; an existing row gets the sums added."""
    constraint, keys, cols = TARGETS[table]
    present = _present(cursor, source, params)
    values = [f"coalesce(s.{c}, 0)" if c in present else "0" for c in cols]
    updates = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in cols if c in present)
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(keys + cols)}) "
        f"SELECT {', '.join('s.' + k for k in keys)}, {', '.join(values)} FROM ({source}) s "
        f"{_on_conflict(table, constraint)} DO UPDATE SET {updates}",
        params,
    )


# --- buyer counts (analytics.models.BuyerCount) --------------------------------------------------


def buyer_counts_sql(where: str) -> str:
    """The BuyerCount rows of the cards whose customer-month rows match ``where`` (a
    condition on whole cards: all of a card's rows or none), from those rows alone.

    Written for one pass in (card, month) order, the order of the customer-month
    unique index: the whole-business months of a card are its rows summed per month,
    the per-location ones its rows re-sorted within the card (an incremental sort of a
    handful of rows), and each customer-month lands in a small grouped table of cells
    from which both kinds of count are read."""
    return f"""
        WITH scoped AS (
            SELECT merchant_id, {_null("bigint")} AS location_id, month, visits, first_any,
                   lag(month) OVER w AS prev_month, lead(month) OVER w AS next_month
            FROM (SELECT merchant_id, card_id, month, sum(visits) AS visits,
                         min(month) OVER (PARTITION BY card_id) AS first_any
                  FROM {CM_TABLE} WHERE {where} GROUP BY card_id, month, merchant_id) whole
            WINDOW w AS (PARTITION BY card_id ORDER BY month)
            UNION ALL
            SELECT merchant_id, location_id, month, visits, first_any,
                   lag(month) OVER w AS prev_month, lead(month) OVER w AS next_month
            FROM (SELECT merchant_id, card_id, location_id, month, visits,
                         min(month) OVER (PARTITION BY card_id) AS first_any
                  FROM {CM_TABLE} WHERE {where}) cm
            WHERE location_id IS NOT NULL
            WINDOW w AS (PARTITION BY card_id, location_id ORDER BY month)
        ), cells AS (
            SELECT merchant_id, location_id, month, prev_month,
                   prev_month IS NULL AND visits = 1 AS single,
                   CASE WHEN prev_month IS NULL AND visits = 1 THEN first_any END AS first_any,
                   CASE WHEN prev_month IS NULL AND visits = 1 THEN next_month END AS next_month,
                   count(*) AS customers
            FROM scoped GROUP BY 1, 2, 3, 4, 5, 6, 7
        )
        SELECT merchant_id, location_id, 'B' AS kind, month, prev_month,
               {_null("date")} AS first_month, {_null("date")} AS next_month, sum(customers) AS customers
        FROM cells GROUP BY merchant_id, location_id, month, prev_month
        UNION ALL
        SELECT merchant_id, location_id, 'N', month, NULL, first_any, next_month, customers
        FROM cells WHERE single
    """


_BATCH_CARDS = "card_id IN (SELECT card_id FROM loyalty_purchase WHERE id > %s AND id <= %s)"


def _apply_purchases(cursor, lo: int, hi: int) -> None:
    # The touched cards' buyer counts before, to take out once their customer-month rows change.
    cursor.execute("DROP TABLE IF EXISTS analytics_buyercount_before")
    cursor.execute(
        f"CREATE TEMP TABLE analytics_buyercount_before AS {buyer_counts_sql(_BATCH_CARDS)}",
        [lo, hi] * 2,
    )
    for table, source in _vendor_sources()["purchases"]:
        _add(cursor, table, source, [lo, hi])
    first, last = ("min", "max") if _sqlite() else ("LEAST", "GREATEST")
    cursor.execute(
        f"""
        INSERT INTO {CS_TABLE} AS t (merchant_id, card_id, first_purchase_at, last_purchase_at,
                                     first_location_id, purchases, bill_total, refund_total)
        SELECT s.*, 0 FROM ({_cs_purchases()}) s
        {"WHERE true " if _sqlite() else ""}ON CONFLICT (card_id) DO UPDATE SET
            first_location_id = CASE WHEN EXCLUDED.first_purchase_at < t.first_purchase_at
                                     THEN EXCLUDED.first_location_id ELSE t.first_location_id END,
            first_purchase_at = {first}(t.first_purchase_at, EXCLUDED.first_purchase_at),
            last_purchase_at = {last}(t.last_purchase_at, EXCLUDED.last_purchase_at),
            purchases = t.purchases + EXCLUDED.purchases,
            bill_total = t.bill_total + EXCLUDED.bill_total
        """,
        [lo, hi],
    )
    keys = ", ".join(BC_KEYS)
    cursor.execute(
        f"""
        INSERT INTO {BC_TABLE} ({keys}, customers)
        SELECT {keys}, sum(customers) FROM (
            SELECT * FROM ({buyer_counts_sql(_BATCH_CARDS)}) after
            UNION ALL
            SELECT {keys}, -customers FROM analytics_buyercount_before
        ) d
        GROUP BY {keys} HAVING sum(customers) <> 0
        {_on_conflict(BC_TABLE, "buyer_count_unique", after_from=False)}
        DO UPDATE SET customers = {BC_TABLE}.customers + EXCLUDED.customers
        """,
        [lo, hi] * 2,
    )
    cursor.execute(
        f"DELETE FROM {BC_TABLE} AS b WHERE b.customers = 0 "
        "AND b.merchant_id IN (SELECT DISTINCT merchant_id FROM analytics_buyercount_before)"
    )
    cursor.execute("DROP TABLE analytics_buyercount_before")


def _apply_refunds(cursor, lo: int, hi: int) -> None:
    for table, source in _vendor_sources()["refunds"]:
        _add(cursor, table, source, [lo, hi])
    cursor.execute(
        f"UPDATE {CS_TABLE} AS t SET refund_total = t.refund_total + s.amount FROM ({CS_REFUNDS}) s "
        "WHERE t.card_id = s.card_id",
        [lo, hi],
    )


def _apply(cursor, kind: str, lo: int, hi: int) -> None:
    for table, source in _vendor_sources()[kind]:
        _add(cursor, table, source, [lo, hi])


@dataclass(frozen=True)
class Targets:
    purchases: int
    refunds: int
    entries: int
    cards: int


def _targets(cursor, state: SummaryState, cutoff: datetime) -> Targets:
    purchase_to = _target(cursor, "loyalty_purchase", state.purchase_hwm, cutoff)
    refund_to = _target(cursor, "loyalty_refund", state.refund_hwm, cutoff)
    # A refund is counted only once its purchase is: stop before the first
    # refund of a purchase above the purchase mark.
    cursor.execute(
        "SELECT min(id) FROM loyalty_refund WHERE id > %s AND id <= %s AND purchase_id > %s",
        [state.refund_hwm, refund_to, purchase_to],
    )
    (early,) = cursor.fetchone()
    if early is not None:
        refund_to = early - 1
    return Targets(
        purchases=purchase_to,
        refunds=refund_to,
        entries=_target(cursor, "loyalty_ledgerentry", state.entry_hwm, cutoff),
        cards=_target(cursor, "loyalty_card", state.card_hwm, cutoff),
    )


def _advance(state: SummaryState, cutoff: datetime) -> RefreshResult:
    with connection.cursor() as cursor:
        if not _sqlite():
            cursor.execute("SET LOCAL work_mem = '64MB'")
            # Small batches: compiling the plans (JIT) would cost more than running them.
            cursor.execute("SET LOCAL jit = off")
        to = _targets(cursor, state, cutoff)
        result = RefreshResult(
            purchases=to.purchases - state.purchase_hwm,
            refunds=to.refunds - state.refund_hwm,
            entries=to.entries - state.entry_hwm,
            cards=to.cards - state.card_hwm,
        )
        if result.purchases:
            _apply_purchases(cursor, state.purchase_hwm, to.purchases)
        if result.refunds:
            _apply_refunds(cursor, state.refund_hwm, to.refunds)
        if result.entries:
            _apply(cursor, "entries", state.entry_hwm, to.entries)
        if result.cards:
            _apply(cursor, "cards", state.card_hwm, to.cards)
    state.purchase_hwm, state.refund_hwm = to.purchases, to.refunds
    state.entry_hwm, state.card_hwm = to.entries, to.cards
    return result


def refresh(*, now: datetime | None = None, lag: timedelta = DEFAULT_LAG) -> RefreshResult:
    """Add the rows above the high-water marks (older than ``lag``) to the summaries."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _state_for_update()
        result = _advance(state, now - lag)
        if result.changed:
            state.version += 1
        state.refreshed_at = now
        state.save()
    logger.info("analytics summaries refreshed: %s", result)
    return result


# --- the nightly rebuild ---------------------------------------------------------------------------


def _new(table: str) -> str:
    """The copy the rebuild fills (on SQLite, the live table itself: see ``rebuild``)."""
    return table if _sqlite() else f"{table}__new"


def _fill_summed(cursor, table: str, sources: list[tuple[str, list]]) -> None:
    """Fill the new copy of a daily table: every source's rows, summed per key."""
    _constraint, keys, cols = TARGETS[table]
    parts = []
    params: list = []
    for source, source_params in sources:
        present = _present(cursor, source, source_params)
        values = ", ".join(f"s.{c}" if c in present else f"0 AS {c}" for c in cols)
        parts.append(f"SELECT {', '.join('s.' + k for k in keys)}, {values} FROM ({source}) s")
        params += source_params
    sums = ", ".join(f"coalesce(sum({c}), 0)" for c in cols)
    cursor.execute(
        f"INSERT INTO {_new(table)} ({', '.join(keys + cols)}) "
        f"SELECT {', '.join(keys)}, {sums} FROM ({' UNION ALL '.join(parts)}) u GROUP BY {', '.join(keys)}",
        params,
    )


def _fill(cursor, to: Targets) -> None:
    marks = {
        "purchases": [0, to.purchases],
        "refunds": [0, to.refunds],
        "entries": [0, to.entries],
        "cards": [0, to.cards],
    }
    # The purchases per location and day, once (exact sums, unrounded): the daily location
    # table sums them as they are, the daily merchant table over its locations, so the
    # ten million purchases are read for the daily tables once, not twice.
    ((_, dl_purchases),) = [(t, s) for t, s in _vendor_sources()["purchases"] if t == DL_TABLE]
    cursor.execute("DROP TABLE IF EXISTS analytics_purchase_days")
    cursor.execute(f"CREATE TEMP TABLE analytics_purchase_days AS {dl_purchases}", marks["purchases"])
    by_location = "SELECT * FROM analytics_purchase_days"
    by_day = (
        "SELECT merchant_id, day, sum(visits) AS visits, sum(bill_total) AS bill_total, "
        "sum(points_bills) AS points_bills, sum(points_paid_total) AS points_paid_total "
        "FROM analytics_purchase_days GROUP BY merchant_id, day"
    )
    for table, purchases in ((DL_TABLE, by_location), (DM_TABLE, by_day)):
        sources: list[tuple[str, list]] = [(purchases, [])] + [
            (source, marks[kind])
            for kind, pairs in _vendor_sources().items()
            for target, source in pairs
            if target == table and kind != "purchases"
        ]
        _fill_summed(cursor, table, sources)
    cursor.execute("DROP TABLE analytics_purchase_days")
    # One source, already one row per key: no second grouping of millions of rows.
    ((_, cm_source),) = [(t, s) for t, s in _vendor_sources()["purchases"] if t == CM_TABLE]
    cursor.execute(
        f"INSERT INTO {_new(CM_TABLE)} ({', '.join(CM_KEYS + CM_COLS)}) "
        f"SELECT {', '.join(CM_KEYS + CM_COLS)} FROM ({cm_source}) s ORDER BY card_id, month",
        marks["purchases"],
    )
    cursor.execute(
        f"""
        INSERT INTO {_new(CS_TABLE)} (merchant_id, card_id, first_purchase_at, last_purchase_at,
                                      first_location_id, purchases, bill_total, refund_total)
        SELECT s.*, coalesce(r.amount, 0) FROM ({_cs_purchases()}) s LEFT JOIN ({CS_REFUNDS}) r ON r.card_id = s.card_id
        """,
        marks["purchases"] + marks["refunds"],
    )


def _fill_buyer_counts(cursor) -> None:
    """From the new customer-month copy, once it is indexed and analysed: the planner reads
    it in the order of its (card, month, location) index instead of sorting millions of rows."""
    keys = ", ".join(BC_KEYS)
    cursor.execute(
        f"INSERT INTO {_new(BC_TABLE)} ({keys}, customers) "
        f"SELECT {keys}, customers FROM ({buyer_counts_sql('TRUE').replace(CM_TABLE, _new(CM_TABLE))}) s"
    )


_INDEX_DEF = re.compile(r"^(CREATE (?:UNIQUE )?INDEX )(\S+)( ON (?:ONLY )?)(\S+)( .*)$")


def _index_copy(cursor, table: str) -> list[str]:
    """Give the new copy the live table's constraints and indexes (each built once, from
    sorted rows) under temporary names, and analyse it; return the renames that give
    them the live names once the live table is gone."""
    new = _new(table)
    renames: list[str] = []
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY contype, conname",
        [table],
    )
    for name, definition in cursor.fetchall():
        cursor.execute(f'ALTER TABLE {new} ADD CONSTRAINT "{name}__new" {definition}')
        renames.append(f'ALTER TABLE {table} RENAME CONSTRAINT "{name}__new" TO "{name}"')
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass "
        "AND x.indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE conrelid = %s::regclass)",
        [table, table],
    )
    for name, definition in cursor.fetchall():
        match = _INDEX_DEF.match(definition)
        if match is None:
            raise RuntimeError(f"unexpected index definition: {definition}")
        cursor.execute(f'{match[1]}"{name}__new"{match[3]}{new}{match[5]}')
        renames.append(f'ALTER INDEX "{name}__new" RENAME TO "{name}"')
    cursor.execute(f"ANALYZE {new}")
    return renames


def _take_name(cursor, table: str, renames: list[str]) -> None:
    """Drop the live table; the new copy takes its name, its objects' names and its sequence's."""
    cursor.execute(f"DROP TABLE {table}")
    cursor.execute(f"ALTER TABLE {_new(table)} RENAME TO {table}")
    for statement in renames:
        cursor.execute(statement)
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    (sequence,) = cursor.fetchone()
    if sequence and sequence.split(".")[-1] != f"{table}_id_seq":
        cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {table}_id_seq")


def _rebuilt(state: SummaryState, to: Targets, now: datetime) -> RefreshResult:
    state.purchase_hwm, state.refund_hwm = to.purchases, to.refunds
    state.entry_hwm, state.card_hwm = to.entries, to.cards
    state.version += 1
    state.refreshed_at = state.rebuilt_at = now
    state.save()
    return RefreshResult(purchases=to.purchases, refunds=to.refunds, entries=to.entries, cards=to.cards)


def _rebuild_in_place(*, now: datetime, lag: timedelta) -> RefreshResult:
    """SQLite: empty the live tables and refill them, in one transaction. SQLite serialises
    writers (readers see the old rows until the commit, in WAL mode), and the quick
    start's data is small, so the copies and swap that spare PostgreSQL's indexes are not needed."""
    with transaction.atomic():
        state = _state_for_update()
        with connection.cursor() as cursor:
            for table in SWAPPED:
                cursor.execute(f"DELETE FROM {table}")
            to = _targets(cursor, SummaryState(), now - lag)
            _fill(cursor, to)
            _fill_buyer_counts(cursor)
        result = _rebuilt(state, to, now)
    logger.info("analytics summaries rebuilt: %s", result)
    return result


def rebuild(*, now: datetime | None = None, lag: timedelta = DEFAULT_LAG) -> RefreshResult:
    """Recount every summary table from the source rows into new copies and swap them in,
    in one transaction (each analysed before the swap); then VACUUM them (outside it,
    when not inside another)."""
    now = now or timezone.now()
    if _sqlite():
        return _rebuild_in_place(now=now, lag=lag)
    with transaction.atomic():
        state = _state_for_update()
        with connection.cursor() as cursor:
            # The rebuild's GROUP BYs and index builds hash and sort millions of rows: in memory
            # (for this transaction only) rather than spilled to disk in 4 MB batches.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for table in SWAPPED:
                cursor.execute(f"DROP TABLE IF EXISTS {_new(table)}")
                cursor.execute(
                    f"CREATE TABLE {_new(table)} "
                    f"(LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS)"
                )
            to = _targets(cursor, SummaryState(), now - lag)
            _fill(cursor, to)
            renames = {table: _index_copy(cursor, table) for table in SWAPPED if table != BC_TABLE}
            _fill_buyer_counts(cursor)
            renames[BC_TABLE] = _index_copy(cursor, BC_TABLE)
            # Readers wait from here to the commit (a moment), then see the new tables.
            for table in SWAPPED:
                _take_name(cursor, table, renames[table])
        result = _rebuilt(state, to, now)
    if not connection.in_atomic_block:
        # Fresh tables: set their visibility maps (index-only scans) and hint bits now,
        # not on the first page views (each copy was analysed before the swap, so its
        # statistics came with it). VACUUM cannot run inside a transaction.
        with connection.cursor() as cursor:
            for table in SWAPPED:
                cursor.execute(f"VACUUM {table}")
    logger.info("analytics summaries rebuilt: %s", result)
    return result


def rebuild_cohorts(*, now: datetime | None = None) -> None:
    """Recount the retention triangle (from the customer-month rows: a customer's
    cohort is the month of its first purchase) and the cards per tier."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _state_for_update()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM analytics_cohortcell")
            # A card's cohort is its first month; one row per card and month (its months
            # at several locations summed), read in the order of the (card, month, location)
            # index, so no distinct count has to sort millions of rows.
            if not _sqlite():
                cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute(
                f"""
                INSERT INTO analytics_cohortcell (merchant_id, cohort, month, customers, bill_total)
                SELECT merchant_id, cohort, month, count(*), sum(bill_total)
                FROM (SELECT merchant_id, month, sum(bill_total) AS bill_total,
                             min(month) OVER (PARTITION BY card_id) AS cohort
                      FROM {CM_TABLE} GROUP BY card_id, month, merchant_id) s
                GROUP BY 1, 2, 3
                """
            )
            cursor.execute("DELETE FROM analytics_tiercount")
            cursor.execute(
                """
                INSERT INTO analytics_tiercount (merchant_id, tier_id, tier_name, threshold, cards, computed_at)
                SELECT c.merchant_id, c.tier_id, coalesce(t.name, ''), coalesce(t.threshold, 0), count(*), %s
                FROM loyalty_card c LEFT JOIN loyalty_tier t ON t.id = c.tier_id
                GROUP BY 1, 2, 3, 4
                """,
                [connection.ops.adapt_datetimefield_value(now)],
            )
        state.version += 1
        state.cohorts_at = now
        state.save()


def summary_version() -> int:
    """Changes whenever the summaries do (page caches key on it)."""
    state = SummaryState.objects.filter(key=STATE_KEY).only("version").first()
    return state.version if state else 0
