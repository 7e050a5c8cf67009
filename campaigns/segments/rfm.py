"""RFM: recency, frequency and monetary value scored 1–5 by quintiles within
each merchant, and the named group each (recency, frequency) cell belongs to.

Recency is the local day of the last purchase, frequency the number of
purchases and monetary value the lifetime spend (bills minus refunds), all
kept on the card by the ledger. Only customers with a purchase are scored.

The scores are NTILE(5) over the merchant's scored customers, 5 the best
(most recent, most frequent, biggest spender). NTILE splits equal values
across tiles by position; so that two customers with the same value always
get the same score, ties share the lowest tile any of them reached (with 60%
one-time buyers, all of them score F = 1, not some 1, some 2, some 3).

The whole recompute is one INSERT … SELECT … ON CONFLICT for the merchant,
plus one DELETE of the rows of customers no longer scored: nothing is loaded
into Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from campaigns import dialect
from campaigns.models import RfmGroup, RfmScore
from loyalty.models import Card
from merchants.models import Merchant


def rfm_group_for(recency: int, frequency: int) -> RfmGroup:
    """The named group of a cell of the recency × frequency grid."""
    if recency == 5 and frequency >= 4:
        return RfmGroup.CHAMPIONS
    if recency >= 3 and frequency >= 4:
        return RfmGroup.LOYAL
    if recency >= 4 and frequency >= 2:
        return RfmGroup.POTENTIAL_LOYALISTS
    if recency == 5:
        return RfmGroup.NEW
    if recency == 4:
        return RfmGroup.PROMISING
    if recency == 3:
        return RfmGroup.NEED_ATTENTION if frequency == 3 else RfmGroup.ABOUT_TO_SLEEP
    if frequency == 5:
        return RfmGroup.CANT_LOSE
    if frequency >= 3:
        return RfmGroup.AT_RISK
    return RfmGroup.HIBERNATING if recency == 2 else RfmGroup.LOST


GROUP_EXPLANATIONS: dict[str, Promise] = {
    RfmGroup.CHAMPIONS: _("Bought very recently and buy most often: your best customers."),
    RfmGroup.LOYAL: _("Buy often and not long ago: reward them and keep them close."),
    RfmGroup.POTENTIAL_LOYALISTS: _("Recent customers with a few purchases: they can become loyal."),
    RfmGroup.NEW: _("Made their first purchase very recently: welcome them."),
    RfmGroup.PROMISING: _("Came recently but rarely buy: invite them back for a second visit."),
    RfmGroup.NEED_ATTENTION: _("Average on both counts and starting to slip: a timely offer helps."),
    RfmGroup.ABOUT_TO_SLEEP: _("Rare buyers who have not come for a while: remind them before they forget you."),
    RfmGroup.AT_RISK: _("Used to buy fairly often but have not come for a long time."),
    RfmGroup.CANT_LOSE: _("Were among your most frequent buyers, and have not come for a long time."),
    RfmGroup.HIBERNATING: _("Bought rarely and long ago: a strong offer may wake them up."),
    RfmGroup.LOST: _("The longest absent and the rarest buyers: usually not worth much spend."),
}


def _group_case() -> tuple[str, list]:
    whens, params = [], []
    for r in range(1, 6):
        for f in range(1, 6):
            whens.append("WHEN r = %s AND f = %s THEN %s")
            params += [r, f, rfm_group_for(r, f).value]
    return "CASE " + " ".join(whens) + " END", params


@transaction.atomic
def recompute_rfm(*, merchant: Merchant, now: datetime | None = None) -> int:
    """Rescore the merchant's customers; returns how many are scored."""
    now = now or timezone.now()
    score = RfmScore._meta.db_table
    card = Card._meta.db_table
    case_sql, case_params = _group_case()
    postgresql = dialect.is_postgresql()
    # SQLite: the local day by a registered function (campaigns.dialect); "WHERE true" so that its
    # parser does not read the upsert's ON CONFLICT as a join's ON; DELETE's alias needs its AS.
    last_day = (
        "(last_purchase_at AT TIME ZONE %s)::date" if postgresql else f"{dialect.LOCAL_DAY}(last_purchase_at, %s)"
    )
    upsert_where = "" if postgresql else " WHERE true"
    alias = "s" if postgresql else "AS s"
    sql = f"""
        WITH base AS (
            SELECT id, customer_id,
                   {last_day} AS last_day,
                   purchase_count AS freq, lifetime_spend AS spend
              FROM {card}
             WHERE merchant_id = %s AND purchase_count > 0 AND last_purchase_at IS NOT NULL
        ), tiles AS (
            SELECT customer_id, last_day, freq, spend,
                   NTILE(5) OVER (ORDER BY last_day, id) AS r0,
                   NTILE(5) OVER (ORDER BY freq, id) AS f0,
                   NTILE(5) OVER (ORDER BY spend, id) AS m0
              FROM base
        ), scores AS (
            SELECT customer_id,
                   MIN(r0) OVER (PARTITION BY last_day) AS r,
                   MIN(f0) OVER (PARTITION BY freq) AS f,
                   MIN(m0) OVER (PARTITION BY spend) AS m
              FROM tiles
        )
        INSERT INTO {score} (merchant_id, customer_id, recency, frequency, monetary, "group", computed_at)
        SELECT %s, customer_id, r, f, m, {case_sql}, %s FROM scores{upsert_where}
        ON CONFLICT (customer_id) DO UPDATE
           SET merchant_id = EXCLUDED.merchant_id, recency = EXCLUDED.recency, frequency = EXCLUDED.frequency,
               monetary = EXCLUDED.monetary, "group" = EXCLUDED."group", computed_at = EXCLUDED.computed_at
    """
    # Customers scored before who no longer qualify (no purchase counted now).
    stale = f"""
        DELETE FROM {score} {alias}
         WHERE s.merchant_id = %s
           AND NOT EXISTS (SELECT 1 FROM {card} c
                            WHERE c.customer_id = s.customer_id AND c.merchant_id = %s
                              AND c.purchase_count > 0 AND c.last_purchase_at IS NOT NULL)
    """
    with connection.cursor() as cursor:
        # Six window sorts over the scored cards (a million for a big merchant): in memory,
        # for this transaction only, rather than merged from disk in 4 MB runs.
        if postgresql:
            cursor.execute("SET LOCAL work_mem = '128MB'")
        cursor.execute(sql, dialect.params([merchant.time_zone, merchant.pk, merchant.pk, *case_params, now]))
        scored = cursor.rowcount
        if not postgresql:  # sqlite3 counts no rows for a statement that begins with WITH
            cursor.execute("SELECT changes()")
            (scored,) = cursor.fetchone()
        cursor.execute(stale, [merchant.pk, merchant.pk])
    return scored


@dataclass(frozen=True)
class RfmCell:
    recency: int
    frequency: int
    count: int
    group: RfmGroup


@dataclass(frozen=True)
class RfmOverview:
    grid: list[list[RfmCell]]  # rows: recency 5 (top) to 1; columns: frequency 1 to 5
    groups: list[tuple[RfmGroup, Promise, int]]  # group, explanation, customers
    scored: int
    computed_at: datetime | None


def rfm_overview(*, merchant: Merchant) -> RfmOverview:
    """Counts per grid cell and per group (two grouped queries)."""
    scores = RfmScore.objects.for_merchant(merchant)
    cells = {
        (row["recency"], row["frequency"]): row["n"]
        for row in scores.order_by().values("recency", "frequency").annotate(n=Count("pk"))
    }
    grid = [[RfmCell(r, f, cells.get((r, f), 0), rfm_group_for(r, f)) for f in range(1, 6)] for r in range(5, 0, -1)]
    per_group: dict[str, int] = {}
    for (r, f), n in cells.items():
        key = rfm_group_for(r, f).value
        per_group[key] = per_group.get(key, 0) + n
    groups = [(g, GROUP_EXPLANATIONS[g], per_group.get(g.value, 0)) for g in RfmGroup]
    latest = scores.order_by("-computed_at").values_list("computed_at", flat=True).first()
    return RfmOverview(grid=grid, groups=groups, scored=sum(cells.values()), computed_at=latest)
