"""The nightly prediction: the per-customer summary fed from SQL, the stored
predictions, the back-test against a naive baseline, and "too little history"."""

import random
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from analytics import predictions
from analytics.models import CustomerPrediction, PredictionFit
from loyalty import ledger
from loyalty.enrollment.services import NewCustomer, enroll_many
from loyalty.models import Card
from merchants.currency import quantum

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-06-01T12:00:00+03:00")


def cards(merchant, n: int) -> list[Card]:
    people = [NewCustomer(phone=f"+7916{i:07d}", name=f"C{i}", email="", birthday=None) for i in range(n)]
    return enroll_many(merchant=merchant, customers=people, now=NOW - timedelta(days=400))


def buy(merchant, card, when: datetime, amount: str, n=[0]) -> None:  # noqa: B006 (a counter for receipts)
    n[0] += 1
    ledger.purchase(
        merchant=merchant,
        card=card,
        location=None,
        bill_amount=Decimal(amount),
        receipt_id=f"r{n[0]}",
        idempotency_key=f"k{n[0]}",
        now=when,
    )


def test_the_summary_counts_purchase_days_in_the_merchants_time_zone(merchant):
    merchant.time_zone = "Europe/Moscow"
    merchant.save()
    a, b, c = cards(merchant, 3)
    day = datetime.fromisoformat("2026-05-01T10:00:00+03:00")  # 31 days before NOW's local day (June 1)
    # a: May 1 (100), May 1 again (50: same day, one purchase day of 150), May 11 (30), May 21 23:30 local (70).
    buy(merchant, a, day, "100")
    buy(merchant, a, day + timedelta(hours=2), "50")
    buy(merchant, a, day + timedelta(days=10), "30")
    buy(merchant, a, datetime.fromisoformat("2026-05-21T23:30:00+03:00"), "70")
    # b: one purchase on May 16.
    buy(merchant, b, day + timedelta(days=15), "40")
    # c: nothing. A purchase after NOW is not seen.
    buy(merchant, b, NOW + timedelta(days=1), "999")

    summary = predictions.summarise(merchant=merchant, end=NOW)

    rows = {
        int(cid): (x, t, T, m)
        for cid, x, t, T, m in zip(
            summary.customer_id, summary.x, summary.t_x, summary.T, summary.monetary, strict=True
        )
    }
    # By hand: a has purchase days May 1, 11, 21 -> x = 2 repeat days, t_x = 20, T = 31 (May 1 -> June 1),
    # average spend of the repeat days (30 + 70) / 2 = 50. b: x = 0, t_x = 0, T = 16, m = 0. c: absent.
    assert rows == {a.customer_id: (2, 20, 31, 50.0), b.customer_id: (0, 0, 16, 0.0)}
    assert summary.history_days == 31


def test_too_little_history_stores_the_reason_and_no_predictions(merchant):
    (a,) = cards(merchant, 1)
    buy(merchant, a, NOW - timedelta(days=20), "100")

    fit = predictions.fit_merchant(merchant=merchant, now=NOW)

    assert fit.status == PredictionFit.Status.TOO_LITTLE_HISTORY
    assert (fit.reason_code, fit.reason_numbers) == ("short_history", {"days": 20, "needed": 90})
    assert not CustomerPrediction.objects.for_merchant(merchant).exists()


def test_the_fit_stores_a_prediction_per_customer_and_a_backtest(merchant, other_merchant):
    rng = random.Random(7)
    people = cards(merchant, 60)
    start = NOW - timedelta(days=360)
    visits: dict[int, list[datetime]] = {}
    for card in people:
        # Each customer buys every 10..60 days for a while, then some stop.
        gap = rng.randint(10, 60)
        stop = start + timedelta(days=rng.randint(60, 400))
        when = start + timedelta(days=rng.randint(0, 100), hours=rng.randint(0, 8))
        while when < NOW and when < stop:
            buy(merchant, card, when, f"{rng.randint(100, 900)}.00")
            visits.setdefault(card.customer_id, []).append(when)
            when += timedelta(days=gap)

    fit = predictions.fit_merchant(merchant=merchant, now=NOW)

    assert fit.status == PredictionFit.Status.FITTED, (fit.reason_code, fit.reason_numbers)
    stored = {p.customer_id: p for p in CustomerPrediction.objects.for_merchant(merchant)}
    assert set(stored) == set(visits)
    for p in stored.values():
        assert Decimal("0") < p.p_alive <= Decimal("1")
        assert p.expected_purchases_90d >= 0
        # Money in the currency's decimals (RUB: kopecks), in a column that holds three.
        assert p.expected_spend_90d == p.expected_spend_90d.quantize(quantum(merchant.currency))
        assert p.expected_spend_90d.as_tuple().exponent == -3
    # Someone who stopped long ago is less likely alive than someone who bought last week.
    last = {cid: max(v) for cid, v in visits.items()}
    gone = min(last, key=lambda cid: (last[cid], -len(visits[cid])))
    recent = max((cid for cid in last if len(visits[cid]) > 3), key=lambda cid: last[cid])
    assert stored[gone].p_alive < stored[recent].p_alive
    # The back-test's actual and baseline totals, counted here from the visits (one visit a day at most,
    # since every gap is at least 10 days): the last 90 days, and the 90 days before them.
    cutoff = NOW - timedelta(days=90)
    known = {cid for cid, v in visits.items() if min(v) < cutoff}
    actual = sum(1 for cid in known for w in visits[cid] if cutoff <= w < NOW)
    baseline = sum(1 for cid in known for w in visits[cid] if cutoff - timedelta(days=90) <= w < cutoff)
    assert fit.backtest_customers == len(known)
    assert fit.actual_total == actual
    assert fit.baseline_total == Decimal(baseline)
    assert fit.model_mae is not None and fit.baseline_mae is not None
    # Refitting the same night replaces, never duplicates.
    predictions.fit_merchant(merchant=merchant, now=NOW)
    assert CustomerPrediction.objects.for_merchant(merchant).count() == len(visits)
    assert not CustomerPrediction.objects.for_merchant(other_merchant).exists()
