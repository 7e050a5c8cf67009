"""A currency's minor unit, in one place for the whole product.

How many digits follow the decimal point in an amount of a currency (ISO 4217's
"exponent": JPY 0, RUB 2, KWD 3) comes from CLDR through babel, the library that
also formats amounts for people, so that what is accepted, stored and shown
always agree. CLDR follows ISO 4217 except where a currency's minor unit is no
longer used in practice (IQD, for example: ISO says 3, CLDR and everyone's
receipts say 0); we follow CLDR there.

The money columns hold three decimals, the most any currency in use has.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from babel.numbers import get_currency_precision

MAX_MINOR_UNIT = 3


@lru_cache(maxsize=512)
def minor_unit(currency: str | None) -> int:
    """Digits after the decimal point in an amount of ``currency`` (2 for an unknown code)."""
    if not currency:
        return 2
    return min(get_currency_precision(currency.strip().upper()), MAX_MINOR_UNIT)


def quantum(currency: str | None) -> Decimal:
    """The smallest amount of ``currency``: 1 (JPY), 0.01 (RUB), 0.001 (KWD)."""
    return Decimal(1).scaleb(-minor_unit(currency))
