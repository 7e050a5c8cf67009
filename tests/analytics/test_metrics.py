"""Every figure of the analytics page and the home on a small hand-made history,
with the answers worked out by hand below (not by the code under test).

The café (Moscow time, UTC+3) pays 10 % cashback in points worth 1 ₽ each,
gives 10 welcome points, points expire after 365 days. Locations L1, L2.

    A  joins 2025-03-05 at L1 (+10 welcome)
       2025-03-05 L1 bill 1000            earns 100
       2026-02-10 L1 bill  500            earns  50
       2026-03-02 L2 bill  300, 50 points  earns  25 (10 % of the 250 paid)
          the 50 points come from the lots expiring first: welcome 10 + 40 of the 100
       2026-03-06 expiry job: the rest of the 2025 lots, 60 points, expire
    B  joins 2026-02-01 at L1 (+10)
       2026-02-01 L1 bill 200             earns  20
       2026-02-15 L2 bill 400             earns  40
       2026-03-05 refund 100 of the 400: 40 × 100/400 = 10 points taken back
    C  joins 2026-03-01 at L2 (+10)
       2026-03-10 L2 bill 600             earns  60
    D  joins 2026-03-03 at L2 (+10), never buys

"Now" is 2026-03-20 12:00 in Moscow; the churn window is 30 days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from analytics import metrics, summaries
from analytics.metrics import Period
from analytics.models import AnalyticsSettings
from loyalty.enrollment.services import enroll_customer
from loyalty.ledger import purchase, refund
from loyalty.ledger.jobs import settle_due_cards
from loyalty.program.services import save_program
from tests import factories

pytestmark = pytest.mark.django_db

MSK = timedelta(hours=3)
NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)


def msk(y, m, d, hour=12):
    return datetime(y, m, d, hour, tzinfo=UTC) - MSK


@pytest.fixture
def history(merchant, owner, location):
    return make_history(merchant=merchant, owner=owner, location=location)


def make_history(*, merchant, owner, location):
    """The history above, refreshed into the summaries (also run on SQLite: test_summaries_sqlite)."""
    l1 = location
    l2 = factories.LocationFactory(merchant=merchant, name="Арбат")
    save_program(
        merchant=merchant,
        actor=owner,
        mechanic="cashback",
        cashback_percent=Decimal("10"),
        point_value=Decimal("1.00"),
        welcome_bonus=10,
        returning_after_days=None,
        points_expiry_days=365,
    )
    AnalyticsSettings.objects.create(merchant=merchant, churn_window_days=30)
    n = iter(range(1, 100))

    def join(phone, at, loc):
        return enroll_customer(merchant=merchant, phone=phone, location=loc, now=at)

    def buy(card, bill, at, loc, redeem=0):
        i = next(n)
        return purchase(
            merchant=merchant,
            card=card,
            location=loc,
            bill_amount=Decimal(bill),
            redeem_points=redeem,
            receipt_id=f"R{i}",
            idempotency_key=f"k{i}",
            now=at,
        )

    a = join("+79160000001", msk(2025, 3, 5, 10), l1)
    buy(a, "1000", msk(2025, 3, 5), l1)
    b = join("+79160000002", msk(2026, 2, 1, 10), l1)
    buy(b, "200", msk(2026, 2, 1), l1)
    buy(a, "500", msk(2026, 2, 10), l1)
    b400 = buy(b, "400", msk(2026, 2, 15), l2)
    c = join("+79160000003", msk(2026, 3, 1, 10), l2)
    buy(a, "300", msk(2026, 3, 2), l2, redeem=50)
    d = join("+79160000004", msk(2026, 3, 3, 10), l2)
    refund(merchant=merchant, purchase=b400, amount=Decimal("100"), idempotency_key="rf1", now=msk(2026, 3, 5))
    settle_due_cards(merchant=merchant, now=msk(2026, 3, 6))
    buy(c, "600", msk(2026, 3, 10), l2)
    summaries.refresh(now=NOW, lag=timedelta(0))
    summaries.rebuild_cohorts(now=NOW)
    return {"l1": l1, "l2": l2, "cards": (a, b, c, d)}


def test_march_for_the_whole_business(merchant, history):
    f = metrics.period_figures(merchant=merchant, period=Period.month(date(2026, 3, 1)))
    assert (f.customers_total, f.customers_new, f.buyers, f.repeat_buyers) == (4, 2, 2, 1)
    assert f.visits == 2
    assert f.bill_total == Decimal("900.00")
    assert f.refund_total == Decimal("100.00")
    assert f.revenue == Decimal("800.00")
    assert f.average_check == Decimal("450.00")
    assert f.purchase_frequency == Decimal("1.00")
    assert f.repeat_rate == Decimal("50.0")
    assert (f.points_issued, f.points_redeemed, f.points_expired) == (25 + 60 + 10 + 10, 50, 60)
    assert f.redemption_rate == Decimal("47.6")  # 50 / 105
    assert (f.points_bills, f.points_bill_share) == (1, Decimal("50.0"))
    # A 10+100+50−50+25−60 = 75, B 10+20+40−10 = 60, C 10+60 = 70, D 10.
    assert f.liability_points == 215
    assert f.liability_money == Decimal("215.00")


def test_february_for_the_whole_business(merchant, history):
    f = metrics.period_figures(merchant=merchant, period=Period.month(date(2026, 2, 1)))
    assert (f.customers_total, f.customers_new, f.buyers, f.repeat_buyers) == (2, 1, 2, 2)
    assert (f.visits, f.bill_total, f.revenue) == (3, Decimal("1100.00"), Decimal("1100.00"))
    assert f.average_check == Decimal("366.67")
    assert f.purchase_frequency == Decimal("1.50")
    assert f.repeat_rate == Decimal("100.0")
    assert (f.points_issued, f.points_redeemed, f.points_expired) == (50 + 20 + 40 + 10, 0, 0)
    assert f.redemption_rate == Decimal("0.0")
    assert f.liability_points == 160 + 70


def test_a_range_of_months(merchant, history):
    f = metrics.period_figures(merchant=merchant, period=Period(date(2026, 2, 1), date(2026, 3, 1)))
    # A, B, C bought; A bought before February, B twice: 2 of 3 repeat.
    assert (f.buyers, f.repeat_buyers, f.repeat_rate) == (3, 2, Decimal("66.7"))
    assert (f.visits, f.revenue, f.purchase_frequency) == (5, Decimal("1900.00"), Decimal("1.67"))


def test_per_location(merchant, history):
    march = Period.month(date(2026, 3, 1))
    l2 = metrics.period_figures(merchant=merchant, period=march, location=history["l2"])
    # At L2 in March: A's 300 and C's 600; the refund of B's L2 purchase; C and D joined there.
    assert (l2.visits, l2.bill_total, l2.refund_total, l2.revenue) == (
        2,
        Decimal("900.00"),
        Decimal("100.00"),
        Decimal("800.00"),
    )
    assert (l2.customers_total, l2.customers_new, l2.buyers, l2.repeat_buyers) == (2, 2, 2, 1)
    assert (l2.points_issued, l2.points_redeemed, l2.points_bills) == (85, 50, 1)
    assert l2.liability_points is None and l2.points_expired is None
    l1 = metrics.period_figures(merchant=merchant, period=march, location=history["l1"])
    assert (l1.visits, l1.buyers, l1.customers_total, l1.customers_new) == (0, 0, 2, 0)
    assert l1.average_check is None and l1.repeat_rate is None


def test_standing_ltv_and_churn(merchant, history):
    s = metrics.standing(merchant=merchant, period=Period.month(date(2026, 3, 1)), now=NOW)
    assert s.ever_buyers == 3
    assert (s.active_30, s.active_90) == (2, 3)  # last purchases: A 03-02, B 02-15, C 03-10
    assert (s.churn_window_days, s.churned, s.churn_rate) == (30, 1, Decimal("33.3"))  # B
    assert s.lost_in_period == 1  # B's 30 days ran out on 03-17
    assert s.revenue_to_date == Decimal("2900.00")
    assert s.ltv == Decimal("966.67")


def test_cohort_triangle_and_tiers(merchant, history):
    rows = metrics.cohort_triangle(merchant=merchant, last_month=date(2026, 3, 1), cohorts=13)
    assert [(r.cohort, r.size) for r in rows] == [(date(2025, 3, 1), 1), (date(2026, 2, 1), 1), (date(2026, 3, 1), 1)]
    a, b, c = rows
    assert a.counts == [1] + [0] * 10 + [1, 1]
    assert a.ltv == Decimal("1800.00")
    assert b.counts == [1, 0] + [None] * 11
    assert b.shares[:2] == [Decimal("100.0"), Decimal("0.0")]
    assert b.ltv == Decimal("600.00")
    assert c.counts == [1] + [None] * 12
    # A Russian merchant's default tiers have Russian names.
    assert [(t.tier_name, t.cards) for t in metrics.tier_distribution(merchant=merchant)] == [("Бронза", 4)]


def test_home_comparisons(merchant, history):
    home = metrics.home_figures(merchant=merchant, now=NOW)
    rows = {row.key: row for row in home.rows}
    expect = {
        "revenue": (Decimal("800.00"), Decimal("1100.00"), Decimal("1000.00")),
        "visits": (2, 3, 1),
        "average_check": (Decimal("450.00"), Decimal("366.67"), Decimal("1000.00")),
        "active_month": (2, 2, 1),
        "active_3_months": (3, 2, 1),
        "new_customers": (2, 1, 1),
        "repeat_rate": (Decimal("50.0"), Decimal("100.0"), Decimal("0.0")),
        "liability": (Decimal("215.00"), Decimal("230.00"), Decimal("110.00")),
    }
    assert {k: (r.now, r.last_month, r.last_year) for k, r in rows.items()} == expect
    assert rows["revenue"].trend_month == Decimal("-27.3")  # (800 − 1100) / 1100
    assert rows["revenue"].trend_year == Decimal("-20.0")
    assert rows["active_3_months"].trend_month == Decimal("50.0")


def test_other_merchants_rows_are_not_counted(merchant, history, other_merchant):
    stranger = enroll_customer(merchant=other_merchant, phone="+79160000009", now=msk(2026, 3, 2))
    purchase(
        merchant=other_merchant,
        card=stranger,
        location=None,
        bill_amount=Decimal("999"),
        receipt_id="X",
        idempotency_key="x",
        now=msk(2026, 3, 2),
    )
    summaries.refresh(now=NOW, lag=timedelta(0))
    f = metrics.period_figures(merchant=merchant, period=Period.month(date(2026, 3, 1)))
    assert (f.visits, f.revenue, f.customers_total) == (2, Decimal("800.00"), 4)
    other = metrics.period_figures(merchant=other_merchant, period=Period.month(date(2026, 3, 1)))
    assert (other.visits, other.revenue, other.customers_total, other.buyers) == (1, Decimal("999.00"), 1, 1)
