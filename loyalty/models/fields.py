"""Shared column sizes for the models' decimal fields.

They are TypedDicts rather than plain dicts so that ``models.DecimalField(...,
**MONEY)`` is type-checked argument by argument (a plain dict splat reads to
mypy as "any of these keywords may be any of these values")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from django.core.validators import MaxValueValidator, MinValueValidator


class DecimalSize(TypedDict):
    max_digits: int
    decimal_places: int


class PercentOptions(DecimalSize):
    validators: list[Callable[[Any], None]]


# Money: up to 9 999 999 999.999 in the currency's unit, with up to three decimals (the most
# any currency has: KWD, BHD, OMR…). Amounts are checked and rounded to their own currency's
# minor unit (merchants.currency) before they are stored: a yen amount is always whole.
MONEY: DecimalSize = {"max_digits": 13, "decimal_places": 3}
# A running total of money (a card's lifetime spend).
MONEY_TOTAL: DecimalSize = {"max_digits": 15, "decimal_places": 3}
# A percentage from 0 to 100 with two decimals.
PERCENT: PercentOptions = {
    "max_digits": 5,
    "decimal_places": 2,
    "validators": [MinValueValidator(0), MaxValueValidator(100)],
}
