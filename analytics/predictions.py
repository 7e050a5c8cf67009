"""The nightly fit of predicted customer value for one merchant (analytics/clv.py).

Purchases are aggregated in SQL to one row per card (purchase days in the
merchant's time zone: x repeat days, t_x and T in days, the average spend of the
repeat days) and read into numpy arrays; no ORM instance is built per customer.
The fit's results are written back with one INSERT per batch of arrays.

The back-test: the same fit on everything before the last 90 days predicts each
customer's purchase days in those 90 days, beside a naive baseline (each customer
repeats the number of purchase days of the 90 days before); both errors are
stored with the fit so the merchant sees whether to trust the prediction.

On SQLite (the quick start) the same fit runs: the summary's SQL is spelt for it
(the local day from merchants/local_calendar.py, day differences by julianday, the
first day's spend by a window function) and the predictions are written row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from analytics import clv
from analytics.models import CustomerPrediction, PredictionFit
from merchants.currency import minor_unit

HORIZON_DAYS = 90
HOLDOUT_DAYS = 90
MIN_HISTORY_DAYS = 90
MIN_CUSTOMERS = 30
MIN_REPEAT_CUSTOMERS = 10
WRITE_BATCH = 50_000
# The parameters are the population's: a random sample of this many customers estimates
# them as well as everyone does (their standard errors shrink like 1/sqrt(n)), and keeps
# the optimiser's hundreds of likelihood evaluations cheap at a million customers.
# Every customer is then predicted from them.
FIT_SAMPLE = 100_000

Status = PredictionFit.Status


@dataclass
class Summary:
    customer_id: np.ndarray
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    monetary: np.ndarray
    history_days: int


# One pass over the merchant's purchases before ``end`` (not refunded in full), grouped by
# card and local day, gives every number the nightly fit needs, one row per customer:
# the full history (x repeat days, t_x, T, average spend of the repeat days), the same
# for the calibration period (purchases before ``cutoff``, the back-test's fit) and the
# purchase days in the holdout [cutoff, end) and in the 90 days before the cutoff (the
# naive baseline). A day split by the cutoff counts on both sides, as separate queries
# over the two periods would count it. Each part of the history is a FILTER of one
# aggregate, so the ten million purchases are read and sorted once, not four times.
HISTORY_SQL = """
WITH days AS (
    SELECT p.card_id,
           (p.created_at AT TIME ZONE %(tz)s)::date AS day,
           SUM(p.bill_amount - p.refunded_amount) AS spend,
           BOOL_OR(p.created_at < %(cutoff)s) AS calibration,
           BOOL_OR(p.created_at >= %(cutoff)s) AS holdout,
           BOOL_OR(p.created_at >= %(before)s AND p.created_at < %(cutoff)s) AS baseline
    FROM loyalty_purchase p
    WHERE p.merchant_id = %(merchant)s
      AND p.created_at < %(end)s
      AND p.refunded_amount < p.bill_amount
    GROUP BY 1, 2
)
SELECT c.customer_id,
       COUNT(*) - 1,
       MAX(d.day) - MIN(d.day),
       %(end_day)s::date - MIN(d.day),
       (CASE WHEN COUNT(*) > 1
             THEN (SUM(d.spend) - (ARRAY_AGG(d.spend ORDER BY d.day))[1]) / (COUNT(*) - 1)
             ELSE 0 END)::float8,
       COUNT(*) FILTER (WHERE d.calibration) - 1,
       coalesce(MAX(d.day) FILTER (WHERE d.calibration) - MIN(d.day) FILTER (WHERE d.calibration), 0),
       coalesce(%(cutoff_day)s::date - MIN(d.day) FILTER (WHERE d.calibration), 0),
       COUNT(*) FILTER (WHERE d.holdout),
       COUNT(*) FILTER (WHERE d.baseline)
FROM days d
JOIN loyalty_card c ON c.id = d.card_id
GROUP BY c.customer_id
ORDER BY c.customer_id
"""


# The same query for SQLite: the local day from merchants.local_calendar, day differences in
# julianday, the first purchase day's spend from a window (no ARRAY_AGG), MAX for BOOL_OR.
HISTORY_SQL_SQLITE = """
WITH days AS (
    SELECT p.card_id,
           local_day(p.created_at, %(tz)s) AS day,
           SUM(p.bill_amount - p.refunded_amount) AS spend,
           MAX(p.created_at < %(cutoff)s) AS calibration,
           MAX(p.created_at >= %(cutoff)s) AS holdout,
           MAX(p.created_at >= %(before)s AND p.created_at < %(cutoff)s) AS baseline
    FROM loyalty_purchase p
    WHERE p.merchant_id = %(merchant)s
      AND p.created_at < %(end)s
      AND p.refunded_amount < p.bill_amount
    GROUP BY 1, 2
), customer_days AS (
    SELECT c.customer_id, d.day, julianday(d.day) AS jday, d.spend, d.calibration, d.holdout, d.baseline,
           first_value(d.spend) OVER (PARTITION BY c.customer_id ORDER BY d.day) AS first_spend
    FROM days d
    JOIN loyalty_card c ON c.id = d.card_id
)
SELECT customer_id,
       COUNT(*) - 1,
       MAX(jday) - MIN(jday),
       julianday(%(end_day)s) - MIN(jday),
       CASE WHEN COUNT(*) > 1 THEN (SUM(spend) - MAX(first_spend)) * 1.0 / (COUNT(*) - 1) ELSE 0 END,
       COUNT(*) FILTER (WHERE calibration) - 1,
       coalesce(MAX(jday) FILTER (WHERE calibration) - MIN(jday) FILTER (WHERE calibration), 0),
       coalesce(julianday(%(cutoff_day)s) - MIN(jday) FILTER (WHERE calibration), 0),
       COUNT(*) FILTER (WHERE holdout),
       COUNT(*) FILTER (WHERE baseline)
FROM customer_days
GROUP BY customer_id
ORDER BY customer_id
"""


@dataclass
class Histories:
    full: Summary
    calibration: Summary  # the customers who bought before the cutoff
    actual: np.ndarray  # purchase days in the holdout, per calibration customer
    baseline: np.ndarray  # purchase days in the 90 days before the cutoff, per calibration customer


def histories(*, merchant, end: datetime) -> Histories:
    tz = str(merchant.tzinfo)
    cutoff = end - timedelta(days=HOLDOUT_DAYS)
    params = {
        "tz": tz,
        "merchant": merchant.pk,
        "end": end,
        "end_day": timezone.localtime(end, merchant.tzinfo).date(),
        "cutoff": cutoff,
        "cutoff_day": timezone.localtime(cutoff, merchant.tzinfo).date(),
        "before": cutoff - timedelta(days=HOLDOUT_DAYS),
    }
    chunks = []
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        adapt = connection.ops.adapt_datetimefield_value
        params.update(
            {key: adapt(params[key]) for key in ("end", "cutoff", "before")},
            end_day=params["end_day"].isoformat(),
            cutoff_day=params["cutoff_day"].isoformat(),
        )
    with transaction.atomic(), connection.cursor() as cursor:
        if not sqlite:
            # Millions of (card, day) groups: hash and sort them in memory, for this query only.
            cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(HISTORY_SQL_SQLITE if sqlite else HISTORY_SQL, params)
        while rows := cursor.fetchmany(50_000):
            chunks.append(np.array(rows, dtype=float))
    table = np.concatenate(chunks) if chunks else np.zeros((0, 10))
    ids = table[:, 0].astype(np.int64)
    full = Summary(ids, table[:, 1], table[:, 2], table[:, 3], table[:, 4], int(table[:, 3].max()) if len(table) else 0)
    known = table[:, 5] >= 0  # at least one purchase day before the cutoff
    cal = table[known]
    calibration = Summary(
        ids[known],
        cal[:, 5],
        cal[:, 6],
        cal[:, 7],
        np.zeros(len(cal)),  # the back-test fits purchases only
        int(cal[:, 7].max()) if len(cal) else 0,
    )
    return Histories(full=full, calibration=calibration, actual=cal[:, 8], baseline=cal[:, 9])


def summarise(*, merchant, end: datetime) -> Summary:
    return histories(merchant=merchant, end=end).full


def _sample(summary: Summary, seed: int) -> Summary:
    if len(summary.x) <= FIT_SAMPLE:
        return summary
    pick = np.sort(np.random.default_rng(seed).choice(len(summary.x), size=FIT_SAMPLE, replace=False))
    return Summary(
        summary.customer_id[pick],
        summary.x[pick],
        summary.t_x[pick],
        summary.T[pick],
        summary.monetary[pick],
        history_days=summary.history_days,
    )


def _too_little(summary: Summary) -> tuple[str, dict] | None:
    if len(summary.x) == 0:
        return "no_purchases", {}
    if summary.history_days < MIN_HISTORY_DAYS:
        return "short_history", {"days": summary.history_days, "needed": MIN_HISTORY_DAYS}
    if len(summary.x) < MIN_CUSTOMERS:
        return "few_customers", {"customers": len(summary.x), "needed": MIN_CUSTOMERS}
    repeat = int((summary.x > 0).sum())
    if repeat < MIN_REPEAT_CUSTOMERS:
        return "few_repeat", {"customers": repeat, "needed": MIN_REPEAT_CUSTOMERS}
    return None


@dataclass(frozen=True)
class Backtest:
    customers: int
    actual_total: int
    model_total: float
    baseline_total: float
    model_mae: float
    baseline_mae: float


def backtest(*, merchant, history: Histories) -> Backtest | None:
    """Fit on purchases before ``end - 90 days``, predict the last 90 days; None when the
    calibration period alone has too little history."""
    calibration = history.calibration
    if _too_little(calibration) is not None:
        return None
    sample = _sample(calibration, merchant.pk)
    params = clv.fit_bgnbd(sample.x, sample.t_x, sample.T)
    predicted = clv.expected_purchases(params, HOLDOUT_DAYS, calibration.x, calibration.t_x, calibration.T)
    actual, baseline = history.actual, history.baseline
    return Backtest(
        customers=len(actual),
        actual_total=int(actual.sum()),
        model_total=float(predicted.sum()),
        baseline_total=float(baseline.sum()),
        model_mae=float(np.abs(predicted - actual).mean()),
        baseline_mae=float(np.abs(baseline - actual).mean()),
    )


INSERT_SQL = """
INSERT INTO analytics_customerprediction
    (merchant_id, customer_id, p_alive, expected_purchases_90d, expected_spend_90d, fitted_at)
SELECT %(merchant)s, c, round(a::numeric, 4), round(e::numeric, 3), round(s::numeric, %(places)s), %(now)s
FROM unnest(%(customers)s::bigint[], %(alive)s::float8[], %(purchases)s::float8[], %(spend)s::float8[])
     AS t(c, a, e, s)
ON CONFLICT (customer_id) DO UPDATE SET
    p_alive = EXCLUDED.p_alive,
    expected_purchases_90d = EXCLUDED.expected_purchases_90d,
    expected_spend_90d = EXCLUDED.expected_spend_90d,
    fitted_at = EXCLUDED.fitted_at
"""


# SQLite has no arrays to unnest: the rows go one by one (the quick start's few customers).
INSERT_SQL_SQLITE = """
INSERT INTO analytics_customerprediction
    (merchant_id, customer_id, p_alive, expected_purchases_90d, expected_spend_90d, fitted_at)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (customer_id) DO UPDATE SET
    p_alive = EXCLUDED.p_alive,
    expected_purchases_90d = EXCLUDED.expected_purchases_90d,
    expected_spend_90d = EXCLUDED.expected_spend_90d,
    fitted_at = EXCLUDED.fitted_at
"""


def _store_rows(*, merchant, summary: Summary, alive, purchases, spend, now: datetime) -> None:
    places = minor_unit(merchant.currency)
    fitted_at = connection.ops.adapt_datetimefield_value(now)
    rows = [
        (merchant.pk, int(c), round(float(a), 4), round(float(e), 3), round(float(s), places), fitted_at)
        for c, a, e, s in zip(summary.customer_id, alive, purchases, spend, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.executemany(INSERT_SQL_SQLITE, rows)


def _store(*, merchant, summary: Summary, alive, purchases, spend, now: datetime) -> None:
    if connection.vendor == "sqlite":
        _store_rows(merchant=merchant, summary=summary, alive=alive, purchases=purchases, spend=spend, now=now)
    else:
        _store_arrays(merchant=merchant, summary=summary, alive=alive, purchases=purchases, spend=spend, now=now)
    # Customers whose purchases were all refunded since the last fit have no prediction now.
    CustomerPrediction.objects.for_merchant(merchant).filter(fitted_at__lt=now).delete()


def _store_arrays(*, merchant, summary: Summary, alive, purchases, spend, now: datetime) -> None:
    with connection.cursor() as cursor:
        for start in range(0, len(summary.customer_id), WRITE_BATCH):
            part = slice(start, start + WRITE_BATCH)
            cursor.execute(
                INSERT_SQL,
                {
                    "merchant": merchant.pk,
                    # The spend in the merchant's currency's decimals (JPY 0, RUB 2, KWD 3).
                    "places": minor_unit(merchant.currency),
                    "now": now,
                    "customers": summary.customer_id[part].tolist(),
                    "alive": alive[part].tolist(),
                    "purchases": purchases[part].tolist(),
                    "spend": spend[part].tolist(),
                },
            )


def _dec(value: float, places: str) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(places))


def fit_merchant(*, merchant, now: datetime | None = None) -> PredictionFit:
    """Fit, back-test and store the predictions of one merchant. Idempotent for a given ``now``."""
    now = now or timezone.now()
    history = histories(merchant=merchant, end=now)
    summary = history.full
    fields: dict = {
        "customers": len(summary.x),
        "repeat_customers": int((summary.x > 0).sum()),
        "history_days": summary.history_days,
        "fitted_at": now,
        "reason_code": "",
        "reason_numbers": {},
        "params": {},
        "holdout_days": HOLDOUT_DAYS,
        "backtest_customers": 0,
        "actual_total": None,
        "model_total": None,
        "baseline_total": None,
        "model_mae": None,
        "baseline_mae": None,
    }
    reason = _too_little(summary)
    if reason is not None:
        fields.update(status=Status.TOO_LITTLE_HISTORY, reason_code=reason[0], reason_numbers=reason[1])
        with transaction.atomic():
            CustomerPrediction.objects.for_merchant(merchant).delete()
            return PredictionFit.objects.update_or_create(merchant=merchant, defaults=fields)[0]
    try:
        sample = _sample(summary, merchant.pk)
        params = clv.fit_bgnbd(sample.x, sample.t_x, sample.T)
        spend_params = clv.fit_gamma_gamma(sample.x, sample.monetary)
        test = backtest(merchant=merchant, history=history)
    except clv.FitError:
        fields.update(status=Status.FAILED, reason_code="fit_failed")
        return PredictionFit.objects.update_or_create(merchant=merchant, defaults=fields)[0]
    alive = clv.probability_alive(params, summary.x, summary.t_x, summary.T)
    purchases = clv.expected_purchases(params, HORIZON_DAYS, summary.x, summary.t_x, summary.T)
    average = clv.expected_average_spend(spend_params, summary.x, summary.monetary)
    if not np.isfinite(average).all():  # q <= 1: the population mean is infinite; use the customer's own
        average = np.where(np.isfinite(average), average, summary.monetary)
    spend = purchases * average
    fields.update(
        status=Status.FITTED,
        params={
            "bgnbd": {"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b},
            "gamma_gamma": {"p": spend_params.p, "q": spend_params.q, "v": spend_params.v},
        },
    )
    if test is not None:
        fields.update(
            backtest_customers=test.customers,
            actual_total=test.actual_total,
            model_total=_dec(test.model_total, "0.1"),
            baseline_total=_dec(test.baseline_total, "0.1"),
            model_mae=_dec(test.model_mae, "0.001"),
            baseline_mae=_dec(test.baseline_mae, "0.001"),
        )
    with transaction.atomic():
        _store(merchant=merchant, summary=summary, alive=alive, purchases=purchases, spend=spend, now=now)
        return PredictionFit.objects.update_or_create(merchant=merchant, defaults=fields)[0]
