"""The ROI calculator: formulas against numbers worked out by hand, the page
prefilled from the merchant's own last month, and who may open it."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from analytics import roi, summaries
from loyalty import ledger
from loyalty.enrollment.services import NewCustomer, enroll_many

pytestmark = pytest.mark.django_db


def test_a_cafe_that_just_breaks_even():
    result = roi.calculate(
        roi.RoiInputs(
            average_check=Decimal("400"),
            margin_percent=Decimal("30"),
            customers_per_month=500,
            return_rate_percent=Decimal("20"),
            subscription_price=Decimal("2990"),
            uplift_points=Decimal("5"),
        )
    )
    # By hand: a returning visit earns 400 x 30 % = 120.00; 2990 / 120 = 24.92 -> 25 customers to break even.
    # 500 customers x 20 % = 100.0 return now; x 5 points = 25.0 more, earning 25 x 120 = 3000.00 a month.
    # Payback 2990 / 3000 = 0.9967 -> 1.00 month. ROI (36000 - 35880) / 35880 = 0.334 % -> 0.3 %.
    assert result == roi.RoiResult(
        profit_per_visit=Decimal("120.00"),
        current_returning=Decimal("100.0"),
        break_even_customers=25,
        extra_returning=Decimal("25.0"),
        extra_profit_month=Decimal("3000.00"),
        payback_months=Decimal("1.00"),
        annual_roi_percent=Decimal("0.3"),
    )


def test_a_small_salon_that_loses_money():
    result = roi.calculate(
        roi.RoiInputs(
            average_check=Decimal("250"),
            margin_percent=Decimal("40"),
            customers_per_month=300,
            return_rate_percent=Decimal("35"),
            subscription_price=Decimal("1990"),
            uplift_points=Decimal("3"),
        )
    )
    # 250 x 40 % = 100.00 a visit; 1990 / 100 = 19.9 -> 20. 300 x 35 % = 105.0 now; 300 x 3 % = 9.0 more,
    # 900.00 a month. Payback 1990 / 900 = 2.211 -> 2.21 months. ROI (10800 - 23880) / 23880 = -54.77 -> -54.8 %.
    assert (result.profit_per_visit, result.break_even_customers, result.current_returning) == (
        Decimal("100.00"),
        20,
        Decimal("105.0"),
    )
    assert (result.extra_returning, result.extra_profit_month) == (Decimal("9.0"), Decimal("900.00"))
    assert (result.payback_months, result.annual_roi_percent) == (Decimal("2.21"), Decimal("-54.8"))


def test_no_extra_customers_never_pays_back():
    result = roi.calculate(
        roi.RoiInputs(
            average_check=Decimal("100"),
            margin_percent=Decimal("50"),
            customers_per_month=0,
            return_rate_percent=Decimal("0"),
            subscription_price=Decimal("1000"),
            uplift_points=Decimal("5"),
        )
    )
    assert (result.break_even_customers, result.payback_months, result.annual_roi_percent) == (
        20,
        None,
        Decimal("-100.0"),
    )


def test_the_page_is_prefilled_from_last_month(client, merchant, owner):
    merchant.currency = "RUB"
    merchant.save()
    a, b, c = enroll_many(
        merchant=merchant,
        customers=[NewCustomer(phone=f"+7916000000{i}", name="", email="", birthday=None) for i in range(3)],
        now=datetime.fromisoformat("2026-01-01T10:00:00+03:00"),
    )
    n = iter(range(100))

    def buy(card, when, amount):
        k = next(n)
        ledger.purchase(
            merchant=merchant,
            card=card,
            location=None,
            bill_amount=Decimal(amount),
            receipt_id=f"r{k}",
            idempotency_key=f"k{k}",
            now=datetime.fromisoformat(when),
        )

    buy(a, "2026-02-10T12:00:00+03:00", "500")  # a bought before March: returning in March
    buy(a, "2026-03-05T12:00:00+03:00", "300")
    buy(b, "2026-03-06T12:00:00+03:00", "200")  # b: first purchase in March, once
    buy(c, "2026-03-07T12:00:00+03:00", "400")  # c: twice in March: returning
    buy(c, "2026-03-20T12:00:00+03:00", "300")
    with time_machine.travel(datetime.fromisoformat("2026-04-15T12:00:00+03:00"), tick=False):
        summaries.rebuild(now=datetime.fromisoformat("2026-04-15T12:00:00+03:00") + timedelta(hours=1))
        client.force_login(owner)
        response = client.get("/dashboard/analytics/roi/")

    assert response.status_code == 200
    form = response.context["form"]
    # March by hand: 4 purchases, 1200 in bills -> average check 300.00; 3 buyers, of whom a (bought in
    # February) and c (twice in March) are returning -> 66.7 % (the analytics page rounds to one decimal).
    assert form.initial["average_check"] == Decimal("300.00")
    assert form.initial["customers_per_month"] == 3
    assert form.initial["return_rate_percent"] == Decimal("66.7")
    assert form.initial["subscription_price"] == Decimal("2990")
    result = response.context["result"]
    # 300 x 30 % = 90.00 a visit; 2990 / 90 = 33.2 -> 34.
    assert result.break_even_customers == 34
    assert "34" in response.content.decode()


def test_own_numbers_are_calculated(client, owner):
    client.force_login(owner)
    response = client.get(
        "/dashboard/analytics/roi/",
        {
            "average_check": "250",
            "margin_percent": "40",
            "customers_per_month": "300",
            "return_rate_percent": "35",
            "subscription_price": "1990",
            "uplift_points": "3",
        },
    )
    assert response.context["result"].payback_months == Decimal("2.21")
    bad = client.get("/dashboard/analytics/roi/", {"average_check": "-1"})
    assert bad.context["result"] is None
    assert bad.context["form"].errors["average_check"]


def test_a_cashier_may_not_open_it(client, cashier):
    client.force_login(cashier)
    assert client.get("/dashboard/analytics/roi/").status_code == 403
