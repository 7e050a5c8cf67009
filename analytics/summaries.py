"""Keeping the summary tables (analytics.models.summaries) in step with the
ledger's append-only rows.

* ``refresh()`` (a beat task every few minutes) adds the purchases, refunds,
  ledger entries and cards with ids above the stored high-water marks, and
  moves the marks, in one transaction: a rerun finds nothing new and adds
  nothing (idempotent), a crash adds nothing (atomic).
* ``rebuild()`` (nightly) empties the tables and recounts everything up to
  the marks, in one transaction, so readers see the old figures until it
  commits. It also repairs anything the refresh could have missed.
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
"""

from __future__ import annotations

import logging
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

# The merchant's local calendar.
P_DAY = "(p.created_at AT TIME ZONE m.time_zone)::date"
P_MONTH = "date_trunc('month', p.created_at AT TIME ZONE m.time_zone)::date"


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
    cursor.execute(f"SELECT min(id) FROM {table} WHERE id > %s AND created_at > %s", [hwm, cutoff])
    (young,) = cursor.fetchone()
    if young is not None:
        return max(hwm, young - 1)
    cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
    (top,) = cursor.fetchone()
    return max(hwm, top)


def _add(
    cursor, table: str, constraint: str, keys: tuple[str, ...], cols: tuple[str, ...], source: str, params
) -> None:
    """Insert-or-add: the ``source`` SELECT yields ``keys`` and some of ``cols``
    (by name); missing columns count 0; an existing row gets the sums added."""
    cursor.execute(f"SELECT * FROM ({source}) s LIMIT 0", params)
    present = {d[0] for d in cursor.description}
    values = [f"coalesce(s.{c}, 0)" if c in present else "0" for c in cols]
    updates = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in cols if c in present)
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(keys + cols)}) "
        f"SELECT {', '.join('s.' + k for k in keys)}, {', '.join(values)} FROM ({source}) s "
        f"ON CONFLICT ON CONSTRAINT {constraint} DO UPDATE SET {updates}",
        params,
    )


def _apply_purchases(cursor, lo: int, hi: int) -> None:
    where = "p.id > %s AND p.id <= %s"
    base = f"FROM loyalty_purchase p JOIN merchants_merchant m ON m.id = p.merchant_id WHERE {where}"
    sums = (
        "count(*) AS visits, sum(p.bill_amount) AS bill_total, "
        "count(*) FILTER (WHERE p.points_redeemed > 0) AS points_bills, "
        "sum(p.points_amount) AS points_paid_total"
    )
    _add(
        cursor,
        DM_TABLE,
        "daily_merchant_unique",
        ("merchant_id", "day"),
        DM_COLS,
        f"SELECT p.merchant_id, {P_DAY} AS day, {sums} {base} GROUP BY 1, 2",
        [lo, hi],
    )
    _add(
        cursor,
        DL_TABLE,
        "daily_location_unique",
        ("merchant_id", "location_id", "day"),
        DL_COLS,
        f"SELECT p.merchant_id, p.location_id, {P_DAY} AS day, {sums}, "
        f"sum(p.points_earned) AS points_earned, sum(p.points_redeemed) AS points_redeemed {base} GROUP BY 1, 2, 3",
        [lo, hi],
    )
    _add(
        cursor,
        CM_TABLE,
        "customer_month_unique",
        ("merchant_id", "card_id", "location_id", "month"),
        ("visits", "bill_total"),
        f"SELECT p.merchant_id, p.card_id, p.location_id, {P_MONTH} AS month, "
        f"count(*) AS visits, sum(p.bill_amount) AS bill_total {base} GROUP BY 1, 2, 3, 4",
        [lo, hi],
    )
    # The first location is the one of the earliest purchase (ties: the smaller id).
    cursor.execute(
        f"""
        INSERT INTO {CS_TABLE} AS t (merchant_id, card_id, first_purchase_at, last_purchase_at,
                                     first_location_id, purchases, bill_total, refund_total)
        SELECT p.merchant_id, p.card_id, min(p.created_at), max(p.created_at),
               (array_agg(p.location_id ORDER BY p.created_at, p.id))[1], count(*), sum(p.bill_amount), 0
        FROM loyalty_purchase p WHERE {where} GROUP BY p.merchant_id, p.card_id
        ON CONFLICT (card_id) DO UPDATE SET
            first_location_id = CASE WHEN EXCLUDED.first_purchase_at < t.first_purchase_at
                                     THEN EXCLUDED.first_location_id ELSE t.first_location_id END,
            first_purchase_at = LEAST(t.first_purchase_at, EXCLUDED.first_purchase_at),
            last_purchase_at = GREATEST(t.last_purchase_at, EXCLUDED.last_purchase_at),
            purchases = t.purchases + EXCLUDED.purchases,
            bill_total = t.bill_total + EXCLUDED.bill_total
        """,
        [lo, hi],
    )


def _apply_refunds(cursor, lo: int, hi: int) -> None:
    base = (
        "FROM loyalty_refund r JOIN loyalty_purchase p ON p.id = r.purchase_id "
        "JOIN merchants_merchant m ON m.id = r.merchant_id WHERE r.id > %s AND r.id <= %s"
    )
    day = "(r.created_at AT TIME ZONE m.time_zone)::date"
    _add(
        cursor,
        DM_TABLE,
        "daily_merchant_unique",
        ("merchant_id", "day"),
        DM_COLS,
        f"SELECT r.merchant_id, {day} AS day, sum(r.amount) AS refund_total {base} GROUP BY 1, 2",
        [lo, hi],
    )
    _add(
        cursor,
        DL_TABLE,
        "daily_location_unique",
        ("merchant_id", "location_id", "day"),
        DL_COLS,
        f"SELECT r.merchant_id, p.location_id, {day} AS day, sum(r.amount) AS refund_total {base} GROUP BY 1, 2, 3",
        [lo, hi],
    )
    cursor.execute(
        f"UPDATE {CS_TABLE} t SET refund_total = t.refund_total + s.amount "
        f"FROM (SELECT r.card_id, sum(r.amount) AS amount FROM loyalty_refund r "
        f"WHERE r.id > %s AND r.id <= %s GROUP BY r.card_id) s WHERE t.card_id = s.card_id",
        [lo, hi],
    )


def _apply_entries(cursor, lo: int, hi: int) -> None:
    _add(
        cursor,
        DM_TABLE,
        "daily_merchant_unique",
        ("merchant_id", "day"),
        DM_COLS,
        "SELECT e.merchant_id, (e.created_at AT TIME ZONE m.time_zone)::date AS day, "
        "sum(e.points) FILTER (WHERE e.kind = 'earn') AS points_earned, "
        "sum(e.points) FILTER (WHERE e.kind LIKE 'bonus\\_%%') AS points_bonus, "
        "-sum(e.points) FILTER (WHERE e.kind = 'redeem') AS points_redeemed, "
        "-sum(e.points) FILTER (WHERE e.kind = 'expiry') AS points_expired, "
        "sum(e.points) AS points_net "
        "FROM loyalty_ledgerentry e JOIN merchants_merchant m ON m.id = e.merchant_id "
        "WHERE e.id > %s AND e.id <= %s GROUP BY 1, 2",
        [lo, hi],
    )


def _apply_cards(cursor, lo: int, hi: int) -> None:
    base = (
        "FROM loyalty_card c JOIN merchants_merchant m ON m.id = c.merchant_id "
        "JOIN loyalty_customer cu ON cu.id = c.customer_id WHERE c.id > %s AND c.id <= %s"
    )
    day = "(c.created_at AT TIME ZONE m.time_zone)::date"
    _add(
        cursor,
        DM_TABLE,
        "daily_merchant_unique",
        ("merchant_id", "day"),
        DM_COLS,
        f"SELECT c.merchant_id, {day} AS day, count(*) AS joined {base} GROUP BY 1, 2",
        [lo, hi],
    )
    _add(
        cursor,
        DL_TABLE,
        "daily_location_unique",
        ("merchant_id", "location_id", "day"),
        DL_COLS,
        f"SELECT c.merchant_id, cu.joined_location_id AS location_id, {day} AS day, count(*) AS joined "
        f"{base} GROUP BY 1, 2, 3",
        [lo, hi],
    )


def _advance(state: SummaryState, cutoff: datetime) -> RefreshResult:
    with connection.cursor() as cursor:
        # The GROUP BYs of a rebuild hash millions of groups: let them do it in memory
        # (for this transaction only) rather than spill to disk in 4 MB batches.
        cursor.execute("SET LOCAL work_mem = '256MB'")
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
        entry_to = _target(cursor, "loyalty_ledgerentry", state.entry_hwm, cutoff)
        card_to = _target(cursor, "loyalty_card", state.card_hwm, cutoff)
        result = RefreshResult(
            purchases=purchase_to - state.purchase_hwm,
            refunds=refund_to - state.refund_hwm,
            entries=entry_to - state.entry_hwm,
            cards=card_to - state.card_hwm,
        )
        if result.purchases:
            _apply_purchases(cursor, state.purchase_hwm, purchase_to)
            # Did a closed month change? (purchases dated before their merchant's current month)
            cursor.execute(
                "SELECT 1 FROM loyalty_purchase p JOIN merchants_merchant m ON m.id = p.merchant_id "
                "WHERE p.id > %s AND p.id <= %s AND p.created_at < "
                "(date_trunc('month', %s AT TIME ZONE m.time_zone) AT TIME ZONE m.time_zone) LIMIT 1",
                [state.purchase_hwm, purchase_to, cutoff],
            )
            if cursor.fetchone():
                state.past_version += 1
        if result.refunds:
            _apply_refunds(cursor, state.refund_hwm, refund_to)
        if result.entries:
            _apply_entries(cursor, state.entry_hwm, entry_to)
        if result.cards:
            _apply_cards(cursor, state.card_hwm, card_to)
    state.purchase_hwm, state.refund_hwm = purchase_to, refund_to
    state.entry_hwm, state.card_hwm = entry_to, card_to
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


def rebuild(*, now: datetime | None = None, lag: timedelta = DEFAULT_LAG) -> RefreshResult:
    """Recount every summary table from the source rows, in one transaction."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _state_for_update()
        with connection.cursor() as cursor:
            for table in (DM_TABLE, DL_TABLE, CS_TABLE, CM_TABLE):
                cursor.execute(f"DELETE FROM {table}")
        state.purchase_hwm = state.refund_hwm = state.entry_hwm = state.card_hwm = 0
        state.past_version += 1
        result = _advance(state, now - lag)
        state.version += 1
        state.refreshed_at = state.rebuilt_at = now
        state.save()
    logger.info("analytics summaries rebuilt: %s", result)
    return result


def rebuild_cohorts(*, now: datetime | None = None) -> None:
    """Recount the retention triangle (from the customer-month rows and each
    customer's first purchase) and the cards per tier."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _state_for_update()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM analytics_cohortcell")
            cursor.execute(
                f"""
                INSERT INTO analytics_cohortcell (merchant_id, cohort, month, customers, bill_total)
                SELECT cm.merchant_id,
                       date_trunc('month', cs.first_purchase_at AT TIME ZONE m.time_zone)::date AS cohort,
                       cm.month, count(DISTINCT cm.card_id), sum(cm.bill_total)
                FROM {CM_TABLE} cm
                JOIN {CS_TABLE} cs ON cs.card_id = cm.card_id
                JOIN merchants_merchant m ON m.id = cm.merchant_id
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
                [now],
            )
        state.version += 1
        state.cohorts_at = now
        state.save()


def summary_version() -> int:
    """Changes whenever the summaries do (page caches key on it)."""
    state = SummaryState.objects.filter(key=STATE_KEY).only("version").first()
    return state.version if state else 0
