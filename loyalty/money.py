"""Money ↔ points, in exactly one place, with the rounding stated.

* Earning rounds DOWN (floor): 299.99 RUB at 5 % cashback is 14 points, not 15.
  A customer never gets a fraction of a point, and a retry can never round a
  different way.
* The maximum redeemable points round DOWN too: points may pay at most the
  cap, never a kopeck over it.
* Money amounts (discounts, the value of redeemed points) are rounded to the
  currency's minor unit HALF-UP: whole yen, cents, thousandths of a dinar.
* An amount someone enters must fit the currency's minor unit exactly: 1.5 JPY
  or 1.2345 KWD is refused (``fits_currency``, ``precision_message``), never
  rounded behind the cashier's back.

The minor unit of each currency comes from ``merchants.currency`` (CLDR via
babel), the same source the amounts are formatted with.

No floats anywhere: every argument is a Decimal or an int.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from merchants.currency import minor_unit, quantum

__all__ = [
    "CENT",
    "HUNDRED",
    "amount_example",
    "amount_for_input",
    "fits_currency",
    "minor_unit",
    "money_to_points",
    "percent_of",
    "points_to_money",
    "precision_message",
    "proportional_points",
    "quantum",
    "round_money",
    "wire_amount",
]

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


def round_money(amount: Decimal, currency: str | None) -> Decimal:
    """``amount`` rounded half-up to the currency's minor unit."""
    return Decimal(amount).quantize(quantum(currency), rounding=ROUND_HALF_UP)


def fits_currency(amount: Decimal, currency: str | None) -> bool:
    """True when ``amount`` has no more decimals than the currency has (450.00 JPY fits: it is 450)."""
    return amount == amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def wire_amount(amount: Decimal, currency: str | None) -> str:
    """An amount as a decimal string with exactly the currency's decimals: "450", "450.00", "450.250"."""
    return str(round_money(amount, currency))


def amount_for_input(amount, currency: str | None):
    """An amount as a form shows it: with the currency's decimals ("1" JPY, "1.00" RUB), or as
    stored if it has more (saved before the currency's rule was checked). Not a number: as given."""
    if not isinstance(amount, Decimal):
        return amount
    return round_money(amount, currency) if fits_currency(amount, currency) else amount.normalize()


def amount_example(currency: str | None, *, localized: bool = False) -> str:
    """How an amount of this currency is typed: "450", "450.50" or "450.250" (``localized``:
    with the active language's decimal separator, "450,50" in Russian, as a cashier types it)."""
    places = minor_unit(currency)
    if places == 0:
        return "450"
    example = round_money(Decimal("450.25") if places == 3 else Decimal("450.5"), currency)
    if localized:
        return number_format(example, decimal_pos=places, use_l10n=True)
    return str(example)


def precision_message(currency: str | None) -> str:
    """Why an amount with too many decimals is refused, in the active language."""
    places = minor_unit(currency)
    code = (currency or "").upper()
    if places == 0:
        return _("Amounts in %(currency)s are whole numbers: enter an amount like 450.") % {"currency": code}
    return ngettext(
        "Amounts in %(currency)s have at most %(places)d digit after the decimal point: enter an amount like "
        "%(example)s.",
        "Amounts in %(currency)s have at most %(places)d digits after the decimal point: enter an amount like "
        "%(example)s.",
        places,
    ) % {"currency": code, "places": places, "example": amount_example(currency)}


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


def points_to_money(points: int, *, point_value: Decimal, currency: str | None = None) -> Decimal:
    """The money value of ``points`` on redemption, rounded half-up to the currency's minor
    unit (a currency of None: cents)."""
    with localcontext() as ctx:
        ctx.prec = 50
        return round_money(Decimal(points) * point_value, currency)


def percent_of(amount: Decimal, percent: Decimal, currency: str | None = None) -> Decimal:
    """``percent`` % of ``amount``, rounded half-up to the currency's minor unit (discounts)."""
    with localcontext() as ctx:
        ctx.prec = 50
        return round_money(Decimal(amount) * Decimal(percent) / HUNDRED, currency)


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
