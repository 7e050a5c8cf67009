from decimal import Decimal

import pytest

from loyalty.money import money_to_points, percent_of, points_to_money, proportional_points


@pytest.mark.parametrize(
    ("amount", "rate", "divisor", "expected"),
    [
        ("299.99", "5", "100", 14),  # 14.9995 rounds down
        ("300.00", "5", "100", 15),
        ("19.99", "0.05", "1", 0),
        ("20.00", "0.05", "1", 1),
        ("9", "1", "3", 3),  # exact division is never off by one
        ("10", "1", "3", 3),
        ("0", "5", "100", 0),
        ("-5", "5", "100", 0),
        ("1000000000.00", "10", "100", 100000000),
    ],
)
def test_money_to_points_rounds_down_exactly(amount, rate, divisor, expected):
    assert money_to_points(Decimal(amount), rate=Decimal(rate), divisor=Decimal(divisor)) == expected


def test_points_to_money_and_percent():
    assert points_to_money(90, point_value=Decimal("1.00")) == Decimal("90.00")
    assert points_to_money(3, point_value=Decimal("0.50")) == Decimal("1.50")
    assert percent_of(Decimal("333.33"), Decimal("5")) == Decimal("16.67")  # 16.6665 half-up
    assert percent_of(Decimal("100"), Decimal("0")) == Decimal("0.00")


def test_proportional_points_running_totals_end_exact():
    # Three refunds of a third each: floor on running totals, exact at the end.
    total, whole = 100, Decimal("300.00")
    done = 0
    for cumulative in (Decimal("100"), Decimal("200"), Decimal("300")):
        step = proportional_points(total, part=cumulative, whole=whole) - done
        done += step
    assert done == 100
    assert proportional_points(100, part=Decimal("100"), whole=whole) == 33
