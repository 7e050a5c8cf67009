"""The ROI calculator: what the loyalty subscription must bring back to pay for itself.

All arithmetic is Decimal. Definitions (the page shows them in words):

- profit per returning visit = average check × margin;
- break-even = the smallest whole number of *extra* returning customers a month
  whose visits pay the subscription: ceil(subscription / profit per visit);
- extra returning customers a month = customers a month × expected rise of the
  return rate (percentage points), e.g. 400 × 5 % = 20;
- extra profit a month = extra returning customers × profit per visit;
- payback period = subscription / extra profit a month, in months (0.5: the
  month's fee is earned back by mid-month); none when the extra profit is zero;
- annual ROI = (12 × extra profit − 12 × subscription) / (12 × subscription),
  as a percentage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from analytics.metrics import Period, add_months, local_today, month_start, period_figures

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class RoiInputs:
    average_check: Decimal
    margin_percent: Decimal
    customers_per_month: int
    return_rate_percent: Decimal
    subscription_price: Decimal
    uplift_points: Decimal  # expected rise of the return rate, percentage points


@dataclass(frozen=True)
class RoiResult:
    profit_per_visit: Decimal
    current_returning: Decimal
    break_even_customers: int | None
    extra_returning: Decimal
    extra_profit_month: Decimal
    payback_months: Decimal | None
    annual_roi_percent: Decimal | None


def calculate(inputs: RoiInputs) -> RoiResult:
    profit_per_visit = (inputs.average_check * inputs.margin_percent / HUNDRED).quantize(CENT, ROUND_HALF_UP)
    current_returning = (inputs.customers_per_month * inputs.return_rate_percent / HUNDRED).quantize(
        Decimal("0.1"), ROUND_HALF_UP
    )
    break_even = None
    if profit_per_visit > 0:
        break_even = int((inputs.subscription_price / profit_per_visit).to_integral_value(ROUND_CEILING))
    extra_returning = (inputs.customers_per_month * inputs.uplift_points / HUNDRED).quantize(
        Decimal("0.1"), ROUND_HALF_UP
    )
    extra_profit = (extra_returning * profit_per_visit).quantize(CENT, ROUND_HALF_UP)
    payback = None
    if extra_profit > 0:
        payback = (inputs.subscription_price / extra_profit).quantize(CENT, ROUND_HALF_UP)
    roi = None
    if inputs.subscription_price > 0:
        yearly_cost = 12 * inputs.subscription_price
        roi = ((12 * extra_profit - yearly_cost) / yearly_cost * HUNDRED).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return RoiResult(
        profit_per_visit=profit_per_visit,
        current_returning=current_returning,
        break_even_customers=break_even,
        extra_returning=extra_returning,
        extra_profit_month=extra_profit,
        payback_months=payback,
        annual_roi_percent=roi,
    )


# --- prefilled from the merchant's own figures ---------------------------------------------------

DEFAULT_MARGIN_PERCENT = Decimal(30)
DEFAULT_UPLIFT_POINTS = Decimal(5)
# The platform's monthly price by currency (what the calculator starts from; the merchant may change it).
DEFAULT_SUBSCRIPTION = {"RUB": Decimal(2990), "KZT": Decimal(15000), "BYN": Decimal(99), "UZS": Decimal(390000)}
DEFAULT_SUBSCRIPTION_OTHER = Decimal(30)


@dataclass(frozen=True)
class Prefill:
    inputs: RoiInputs
    month: date | None  # the month the figures come from (None: no purchases yet)


def prefill(*, merchant, now=None) -> Prefill:
    """The last complete month's figures from the summaries (no scan of purchases):
    average check, customers who bought, the share of them who had bought before."""
    month = add_months(month_start(local_today(merchant, now)), -1)
    figures = period_figures(merchant=merchant, period=Period.month(month))
    has_data = figures.visits > 0
    return Prefill(
        inputs=RoiInputs(
            average_check=figures.average_check or Decimal(0),
            margin_percent=DEFAULT_MARGIN_PERCENT,
            customers_per_month=figures.buyers,
            return_rate_percent=figures.repeat_rate or Decimal(0),
            subscription_price=DEFAULT_SUBSCRIPTION.get(merchant.currency, DEFAULT_SUBSCRIPTION_OTHER),
            uplift_points=DEFAULT_UPLIFT_POINTS,
        ),
        month=month if has_data else None,
    )
