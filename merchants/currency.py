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


# Roughly how many units of each currency a US dollar buys (late 2025, one or two significant
# figures). It only scales the product's *defaults* (tier thresholds, the value of a point, the
# largest usual bill) so that a new merchant starts with amounts that mean the same in yen or in
# dinars as the rouble defaults mean in Moscow; nothing is ever converted with it, and an owner
# changes every default on the program and till pages. Being 30 % off is harmless: defaults are
# rounded to 1, 2, 3 or 5 × 10ⁿ anyway. Hand-kept because no maintained library ships offline
# rates (the ones on PyPI fetch them from a web service); a currency missing here keeps the
# rouble figures.
APPROXIMATE_PER_USD: dict[str, str] = {
    "AED": "3.7", "AFN": "70", "ALL": "90", "AMD": "390", "AOA": "900", "ARS": "1000", "AUD": "1.5",
    "AWG": "1.8", "AZN": "1.7", "BAM": "1.7", "BBD": "2", "BDT": "120", "BGN": "1.7", "BHD": "0.38",
    "BIF": "2900", "BMD": "1", "BND": "1.3", "BOB": "6.9", "BRL": "5.5", "BSD": "1", "BTN": "85",
    "BWP": "13.5", "BYN": "3.3", "BZD": "2", "CAD": "1.4", "CDF": "2800", "CHF": "0.85", "CLP": "950",
    "CNY": "7.2", "COP": "4000", "CRC": "500", "CUP": "24", "CVE": "95", "CZK": "22", "DJF": "178",
    "DKK": "6.5", "DOP": "60", "DZD": "130", "EGP": "50", "ERN": "15", "ETB": "130", "EUR": "0.9",
    "FJD": "2.3", "FKP": "0.8", "GBP": "0.8", "GEL": "2.7", "GHS": "12", "GIP": "0.8", "GMD": "70",
    "GNF": "8600", "GTQ": "7.7", "GYD": "210", "HKD": "7.8", "HNL": "26", "HTG": "130", "HUF": "360",
    "IDR": "16000", "ILS": "3.6", "INR": "85", "IQD": "1300", "IRR": "42000", "ISK": "135", "JMD": "157",
    "JOD": "0.71", "JPY": "150", "KES": "130", "KGS": "87", "KHR": "4000", "KMF": "450", "KPW": "900",
    "KRW": "1400", "KWD": "0.31", "KYD": "0.83", "KZT": "500", "LAK": "21000", "LBP": "89500", "LKR": "300",
    "LRD": "190", "LSL": "18", "LYD": "5.5", "MAD": "9.5", "MDL": "18", "MGA": "4600", "MKD": "55",
    "MMK": "2100", "MNT": "3400", "MOP": "8", "MRU": "40", "MUR": "46", "MVR": "15.4", "MWK": "1750",
    "MXN": "19", "MYR": "4.3", "MZN": "64", "NAD": "18", "NGN": "1550", "NIO": "37", "NOK": "11",
    "NPR": "137", "NZD": "1.7", "OMR": "0.38", "PAB": "1", "PEN": "3.7", "PGK": "4", "PHP": "58",
    "PKR": "280", "PLN": "3.9", "PYG": "7800", "QAR": "3.64", "RON": "4.6", "RSD": "105", "RUB": "90",
    "RWF": "1400", "SAR": "3.75", "SBD": "8.4", "SCR": "14", "SDG": "600", "SEK": "10.5", "SGD": "1.3",
    "SHP": "0.8", "SLE": "23", "SOS": "570", "SRD": "36", "SSP": "4500", "STN": "22", "SYP": "13000",
    "SZL": "18", "THB": "34", "TJS": "10.5", "TMT": "3.5", "TND": "3", "TOP": "2.4", "TRY": "35",
    "TTD": "6.8", "TWD": "32", "TZS": "2600", "UAH": "41", "UGX": "3700", "USD": "1", "UYU": "40",
    "UZS": "12800", "VES": "100", "VND": "25000", "VUV": "120", "WST": "2.8", "XAF": "600", "XCD": "2.7",
    "XCG": "1.79", "XOF": "600", "XPF": "110", "YER": "250", "ZAR": "18", "ZMW": "27", "ZWG": "27",
}  # fmt: skip

# The product's defaults are written in roubles (where it started); other currencies scale them.
DEFAULTS_CURRENCY = "RUB"
AMOUNT_STEPS = (Decimal(1), Decimal(2), Decimal(3), Decimal(5), Decimal(10))
# The value of a point reads best as 1 or 5 of something: 1 yen, 1 cent, 5 tenge, 5 fils.
POINT_VALUE_STEPS = (Decimal(1), Decimal(5), Decimal(10))


def _nice(value: Decimal, steps: tuple[Decimal, ...] = AMOUNT_STEPS) -> Decimal:
    """``value`` rounded to the nearest (on a log scale) step × 10ⁿ: 111 → 100, 16 667 → 20 000."""
    exponent = value.adjusted()
    mantissa = value.scaleb(-exponent)
    step = min(steps, key=lambda s: abs((mantissa / s).ln()))
    return (step.scaleb(exponent)).normalize()


def rouble_factor(currency: str | None) -> Decimal | None:
    """Roughly how many units of ``currency`` one rouble is worth, or None when unknown (or roubles)."""
    code = (currency or "").strip().upper()
    if code == DEFAULTS_CURRENCY or code not in APPROXIMATE_PER_USD:
        return None
    return Decimal(APPROXIMATE_PER_USD[code]) / Decimal(APPROXIMATE_PER_USD[DEFAULTS_CURRENCY])


def default_amount(
    rouble_amount: Decimal | int | str, currency: str | None, *, steps: tuple[Decimal, ...] = AMOUNT_STEPS
) -> Decimal:
    """A default amount written in roubles (a tier threshold, the value of a point, the largest usual
    bill), as the round amount that plays the same part in ``currency``: 10 000 RUB → 100 USD, 100 EUR,
    20 000 JPY, 30 KWD, 50 000 KZT. At least one minor unit of the currency; roubles (and currencies
    we have no rate for) keep the figure as written."""
    amount = Decimal(rouble_amount)
    factor = rouble_factor(currency)
    if factor is None or amount <= 0:
        return amount
    scaled = max(_nice(amount * factor, steps), quantum(currency))
    return scaled.quantize(quantum(currency))
