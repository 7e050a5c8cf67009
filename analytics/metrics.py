"""The owner's numbers, read from the summary tables (never from purchases).

Definitions (the tests in tests/analytics/test_metrics.py work them out by hand):

* A period is a range of whole local calendar months (distinct customers are
  kept per month, so that is the finest grain for them).
* Revenue from card holders = Σ bills of the period's purchases − Σ refunds
  made in the period. Average check = Σ bills ÷ visits (purchases).
* Customers: total = cards issued by the end of the period; new = cards issued
  in it; active (buyers) = customers with at least one purchase in it.
* Purchase frequency = visits ÷ buyers.
* Repeat purchase rate = buyers who had bought before the period, or bought at
  least twice in it, ÷ buyers. (For a location: purchases at that location, with
  "bought before" counted at any location.)
* Points issued = earned on purchases + bonuses; redeemed and expired as the
  ledger recorded them. Redemption rate = redeemed ÷ issued. Share of bills
  paid partly with points = purchases that redeemed points ÷ visits.
* Outstanding liability = Σ of every ledger entry's points up to the end of the
  period (= Σ card balances then) × the value of one point in the current rules.
* Historical LTV = (all bills − all refunds) ÷ customers who ever bought; by
  cohort (month of the first purchase) = that cohort's bills to date ÷ its size.
* Churn (as of today): customers whose last purchase is older than the churn
  window ÷ customers who ever bought. "Lost in the period": customers whose
  last purchase fell exactly one window before a day of the period (their
  window ran out then) and who have not come back since.

Ratios are Decimals: money rounded half-up to the cent, percentages to 0.1,
frequencies to 0.01. A ratio with nothing to divide by is None ("—").
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from analytics.models import (
    AnalyticsSettings,
    BuyerCount,
    CohortCell,
    CustomerStats,
    DailyLocationStats,
    DailyMerchantStats,
    TierCount,
)
from analytics.models.settings import DEFAULT_CHURN_WINDOW_DAYS
from loyalty.models import Mechanic, Program, ProgramVersion
from loyalty.program.rules import rules_for_version

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
HUNDRED = Decimal(100)
ZERO = Decimal(0)


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


def ratio(part, whole, quantum: Decimal = CENT, scale: Decimal = Decimal(1)) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * scale / Decimal(whole)).quantize(quantum, rounding=ROUND_HALF_UP)


def percent(part, whole) -> Decimal | None:
    return ratio(part, whole, TENTH, HUNDRED)


def change_percent(now, before) -> Decimal | None:
    """The trend: how much ``now`` differs from ``before``, in % (None: no base)."""
    if now is None or before is None or not before:
        return None
    return ((Decimal(now) - Decimal(before)) * HUNDRED / abs(Decimal(before))).quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Period:
    first_month: date
    last_month: date

    @property
    def start(self) -> date:
        return self.first_month

    @property
    def end(self) -> date:
        return month_end(self.last_month)

    @property
    def months(self) -> int:
        return months_between(self.first_month, self.last_month)

    @classmethod
    def month(cls, month: date) -> Period:
        return cls(month_start(month), month_start(month))


def local_today(merchant, now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), merchant.tzinfo).date()


def local_midnight(merchant, day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=merchant.tzinfo)


@dataclass
class Figures:
    period: Period
    customers_total: int = 0
    customers_new: int = 0
    buyers: int = 0
    repeat_buyers: int = 0
    visits: int = 0
    bill_total: Decimal = ZERO
    refund_total: Decimal = ZERO
    points_bills: int = 0
    points_paid_total: Decimal = ZERO
    points_issued: int | None = None
    points_redeemed: int = 0
    points_expired: int | None = None
    liability_points: int | None = None
    liability_money: Decimal | None = None

    @property
    def revenue(self) -> Decimal:
        return self.bill_total - self.refund_total

    @property
    def average_check(self) -> Decimal | None:
        return ratio(self.bill_total, self.visits)

    @property
    def purchase_frequency(self) -> Decimal | None:
        return ratio(self.visits, self.buyers)

    @property
    def repeat_rate(self) -> Decimal | None:
        return percent(self.repeat_buyers, self.buyers)

    @property
    def redemption_rate(self) -> Decimal | None:
        return percent(self.points_redeemed, self.points_issued) if self.points_issued is not None else None

    @property
    def points_bill_share(self) -> Decimal | None:
        return percent(self.points_bills, self.visits)


def point_value(*, merchant) -> Decimal | None:
    """Money value of one point under the current rules (None: the program has no points).
    Read only: a merchant without a program yet has no points to value."""
    version_id = Program.objects.for_merchant(merchant).values_list("current_version_id", flat=True).first()
    if version_id is None:
        return None
    rules = rules_for_version(ProgramVersion.objects.get(pk=version_id))
    if rules.mechanic not in Mechanic.with_points():
        return None
    return rules.point_value


def _buyers(*, merchant, period: Period, location) -> tuple[int, int]:
    """Distinct buyers and repeat buyers of the period, exactly, from the buyer counts
    the summaries keep (analytics.models.BuyerCount explains the two sums): a few
    hundred small rows per merchant, whatever the range, the current month included."""
    a, b = period.first_month, period.last_month
    sums = (
        BuyerCount.objects.for_merchant(merchant)
        .filter(location=location)
        .aggregate(
            buyers=Sum(
                "customers",
                filter=Q(kind=BuyerCount.Kind.BUYERS, month__gte=a, month__lte=b)
                & (Q(prev_month__isnull=True) | Q(prev_month__lt=a)),
            ),
            single=Sum(
                "customers",
                filter=Q(kind=BuyerCount.Kind.SINGLE_FIRST, first_month__gte=a, month__lte=b)
                & (Q(next_month__isnull=True) | Q(next_month__gt=b)),
            ),
        )
    )
    buyers = sums["buyers"] or 0
    return buyers, buyers - (sums["single"] or 0)


def period_figures(*, merchant, period: Period, location=None) -> Figures:
    figures = Figures(period=period)
    if location is None:
        daily = DailyMerchantStats.objects.for_merchant(merchant)
    else:
        daily = DailyLocationStats.objects.for_merchant(merchant).filter(location=location)
    sums = daily.filter(day__gte=period.start, day__lte=period.end).aggregate(
        joined=Sum("joined"),
        visits=Sum("visits"),
        bill=Sum("bill_total"),
        refund=Sum("refund_total"),
        points_bills=Sum("points_bills"),
        points_paid=Sum("points_paid_total"),
        earned=Sum("points_earned"),
        redeemed=Sum("points_redeemed"),
        **({"bonus": Sum("points_bonus"), "expired": Sum("points_expired")} if location is None else {}),
    )
    figures.customers_new = sums["joined"] or 0
    figures.visits = sums["visits"] or 0
    figures.bill_total = sums["bill"] or ZERO
    figures.refund_total = sums["refund"] or ZERO
    figures.points_bills = sums["points_bills"] or 0
    figures.points_paid_total = sums["points_paid"] or ZERO
    figures.points_redeemed = sums["redeemed"] or 0
    if location is None:
        figures.points_issued = (sums["earned"] or 0) + (sums["bonus"] or 0)
        figures.points_expired = sums["expired"] or 0
    else:
        figures.points_issued = sums["earned"] or 0
    upto = daily.filter(day__lte=period.end).aggregate(
        joined=Sum("joined"), **({"net": Sum("points_net")} if location is None else {})
    )
    figures.customers_total = upto["joined"] or 0
    if location is None:
        figures.liability_points = upto["net"] or 0
        value = point_value(merchant=merchant)
        if value is not None:
            figures.liability_money = (Decimal(figures.liability_points) * value).quantize(CENT)
    figures.buyers, figures.repeat_buyers = _buyers(merchant=merchant, period=period, location=location)
    return figures


def churn_window_days(*, merchant) -> int:
    settings_row = AnalyticsSettings.objects.for_merchant(merchant).first()
    return settings_row.churn_window_days if settings_row else DEFAULT_CHURN_WINDOW_DAYS


@dataclass
class Standing:
    """Figures as of now (not of a period): active customers, churn, LTV."""

    ever_buyers: int
    active_30: int
    active_90: int
    churn_window_days: int
    churned: int
    lost_in_period: int
    revenue_to_date: Decimal

    @property
    def churn_rate(self) -> Decimal | None:
        return percent(self.churned, self.ever_buyers)

    @property
    def ltv(self) -> Decimal | None:
        return ratio(self.revenue_to_date, self.ever_buyers)


def standing(*, merchant, period: Period, now: datetime | None = None) -> Standing:
    now = now or timezone.now()
    window = churn_window_days(merchant=merchant)
    lost_from = local_midnight(merchant, period.start) - timedelta(days=window)
    lost_to = local_midnight(merchant, period.end + timedelta(days=1)) - timedelta(days=window)
    # Each count reads only the range of the (merchant, last purchase) index it needs (an
    # index-only scan after the nightly VACUUM); everyone who ever bought comes from the
    # buyer counts (each customer's first month), not from a count of a million rows.
    ever = (
        BuyerCount.objects.for_merchant(merchant)
        .filter(location=None, kind=BuyerCount.Kind.BUYERS, prev_month__isnull=True)
        .aggregate(n=Sum("customers"))["n"]
        or 0
    )
    stats = CustomerStats.objects.for_merchant(merchant)
    churn_line = now - timedelta(days=window)
    recent = stats.filter(last_purchase_at__gte=min(churn_line, now - timedelta(days=90))).aggregate(
        active_30=Count("last_purchase_at", filter=Q(last_purchase_at__gte=now - timedelta(days=30))),
        active_90=Count("last_purchase_at", filter=Q(last_purchase_at__gte=now - timedelta(days=90))),
        kept=Count("last_purchase_at", filter=Q(last_purchase_at__gte=churn_line)),
    )
    lost = stats.filter(last_purchase_at__gte=lost_from, last_purchase_at__lt=min(lost_to, churn_line)).count()
    counts = {
        "ever": ever,
        "active_30": recent["active_30"],
        "active_90": recent["active_90"],
        "churned": ever - recent["kept"],
        "lost": lost,
    }
    money = DailyMerchantStats.objects.for_merchant(merchant).aggregate(
        bill=Sum("bill_total"), refund=Sum("refund_total")
    )
    return Standing(
        ever_buyers=counts["ever"],
        active_30=counts["active_30"],
        active_90=counts["active_90"],
        churn_window_days=window,
        churned=counts["churned"],
        lost_in_period=counts["lost"],
        revenue_to_date=(money["bill"] or ZERO) - (money["refund"] or ZERO),
    )


# --- series for the charts ----------------------------------------------------------------


@dataclass(frozen=True)
class SeriesPoint:
    label: date
    revenue: Decimal
    visits: int
    bill_total: Decimal


def revenue_series(*, merchant, period: Period, location=None) -> list[SeriesPoint]:
    """Revenue and visits per month over the period (per day for a one-month period)."""
    if location is None:
        daily = DailyMerchantStats.objects.for_merchant(merchant)
    else:
        daily = DailyLocationStats.objects.for_merchant(merchant).filter(location=location)
    daily = daily.filter(day__gte=period.start, day__lte=period.end)
    if period.months == 1:
        rows = {
            r["day"]: r
            for r in daily.values("day").annotate(v=Sum("visits"), b=Sum("bill_total"), r=Sum("refund_total"))
        }
        labels = [period.start + timedelta(days=i) for i in range((period.end - period.start).days + 1)]
    else:
        rows = {
            r["m"]: r
            for r in daily.annotate(m=TruncMonth("day"))
            .values("m")
            .annotate(v=Sum("visits"), b=Sum("bill_total"), r=Sum("refund_total"))
        }
        labels = [add_months(period.first_month, i) for i in range(period.months)]
    points = []
    for label in labels:
        row = rows.get(label)
        bill = row["b"] if row else ZERO
        refund = row["r"] if row else ZERO
        points.append(SeriesPoint(label=label, revenue=bill - refund, visits=row["v"] if row else 0, bill_total=bill))
    return points


@dataclass
class CohortRow:
    cohort: date
    size: int
    bill_total: Decimal
    counts: list[int | None] = field(default_factory=list)  # customers buying k months after

    @property
    def ltv(self) -> Decimal | None:
        return ratio(self.bill_total, self.size)

    @property
    def shares(self) -> list[Decimal | None]:
        return [None if c is None else percent(c, self.size) for c in self.counts]


def cohort_triangle(*, merchant, last_month: date, cohorts: int = 12) -> list[CohortRow]:
    """The retention triangle for the ``cohorts`` months up to ``last_month``
    (from the nightly cohort cells)."""
    first = add_months(month_start(last_month), -(cohorts - 1))
    cells = CohortCell.objects.for_merchant(merchant).filter(cohort__gte=first, cohort__lte=last_month)
    by_cohort: dict[date, dict[int, tuple[int, Decimal]]] = {}
    for cell in cells:
        offset = months_between(cell.cohort, cell.month) - 1
        by_cohort.setdefault(cell.cohort, {})[offset] = (cell.customers, cell.bill_total)
    rows = []
    for i in range(cohorts):
        cohort = add_months(first, i)
        cells_of = by_cohort.get(cohort, {})
        size = cells_of.get(0, (0, ZERO))[0]
        if not size:
            continue
        span = months_between(cohort, month_start(last_month))
        rows.append(
            CohortRow(
                cohort=cohort,
                size=size,
                bill_total=sum((bill for _, bill in cells_of.values()), ZERO),
                counts=[cells_of.get(k, (0, ZERO))[0] if k < span else None for k in range(cohorts)],
            )
        )
    return rows


def tier_distribution(*, merchant) -> list[TierCount]:
    return list(TierCount.objects.for_merchant(merchant).order_by("threshold", "tier_name"))


# --- the home page: this month against last month and last year -----------------------------------


@dataclass
class Comparison:
    key: str
    now: Decimal | int | None
    last_month: Decimal | int | None
    last_year: Decimal | int | None
    money: bool = False
    suffix: str = ""

    @property
    def trend_month(self) -> Decimal | None:
        return change_percent(self.now, self.last_month)

    @property
    def trend_year(self) -> Decimal | None:
        return change_percent(self.now, self.last_year)


@dataclass
class HomeFigures:
    this_month: date
    rows: list[Comparison]


def _active(*, merchant, month: date, months: int) -> int:
    return _buyers(merchant=merchant, period=Period(add_months(month, -(months - 1)), month), location=None)[0]


def home_figures(*, merchant, now: datetime | None = None) -> HomeFigures:
    this = month_start(local_today(merchant, now))
    months = [this, add_months(this, -1), add_months(this, -12)]
    figures = [period_figures(merchant=merchant, period=Period.month(m)) for m in months]
    active_1 = [f.buyers for f in figures]  # buyers of the month: already counted
    active_3 = [_active(merchant=merchant, month=m, months=3) for m in months]

    def row(key, values, **kwargs) -> Comparison:
        return Comparison(key, values[0], values[1], values[2], **kwargs)

    return HomeFigures(
        this_month=this,
        rows=[
            row("revenue", [f.revenue for f in figures], money=True),
            row("visits", [f.visits for f in figures]),
            row("average_check", [f.average_check for f in figures], money=True),
            row("active_month", active_1),
            row("active_3_months", active_3),
            row("new_customers", [f.customers_new for f in figures]),
            row("repeat_rate", [f.repeat_rate for f in figures], suffix="%"),
            row("liability", [f.liability_money for f in figures], money=True),
        ],
    )
