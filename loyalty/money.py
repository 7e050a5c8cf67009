"""Money ↔ points, in exactly one place, with the rounding stated.

* Earning rounds DOWN (floor): 299.99 RUB at 5 % cashback is 14 points, not 15.
  A customer never gets a fraction of a point, and a retry can never round a
  different way.
* The maximum redeemable points round DOWN too: points may pay at most the
  cap, never a kopeck over it.
* Money amounts (discounts, the value of redeemed points) are rounded to the
  currency's minor unit HALF-UP.

No floats anywhere: every argument is a Decimal or an int.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


def money_to_points(amount: Decimal, *, rate: Decimal, divisor: Decimal = Decimal(1)) -> int:
    """floor(amount × rate ÷ divisor), computed exactly.

    Earning at "X points per currency unit": ``rate=X``.
    Cashback "p %" with points worth ``v`` each: ``rate=p, divisor=100·v``.
    Points that pay for ``amount`` of money: ``rate=1, divisor=v``.
    Multipliers (tier, returning customer) are folded into ``rate`` by the
    caller so that the result is rounded once.
    """
    if amount <= 0 or rate <= 0:
        return 0
    with localcontext() as ctx:
        ctx.prec = 50
        value = (Decimal(amount) * Decimal(rate)) / Decimal(divisor)
        return int(value.to_integral_value(rounding=ROUND_FLOOR))


def points_to_money(points: int, *, point_value: Decimal) -> Decimal:
    """The money value of ``points`` on redemption (exact: point_value has cents)."""
    return (Decimal(points) * point_value).quantize(CENT, rounding=ROUND_HALF_UP)


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    """``percent`` % of ``amount``, rounded half-up to the cent (discounts)."""
    with localcontext() as ctx:
        ctx.prec = 50
        return (Decimal(amount) * Decimal(percent) / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


def proportional_points(total: int, *, part: Decimal, whole: Decimal) -> int:
    """floor(total × part ÷ whole): the share of a purchase's points that a
    cumulative refund of ``part`` out of a ``whole`` bill corresponds to.
    Refunds use it on running totals, so a full refund always comes out exact."""
    if whole <= 0 or total <= 0 or part <= 0:
        return 0
    if part >= whole:
        return total
    with localcontext() as ctx:
        ctx.prec = 50
        return int((Decimal(total) * part / whole).to_integral_value(rounding=ROUND_FLOOR))
