"""Sensible bounds of every program setting, and errors in the merchant's words.

One table serves the dashboard form (so the page answers "at most 100 %" rather
than a validator's "no more than 5 digits in total") and ``save_program`` (so
that no other caller, the admin or a script, can save a welcome bonus of 10^12).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty.money import minor_unit, precision_message, quantum
from merchants.currency import default_amount

MAX_BONUS = 100_000  # points: welcome, birthday and referral bonuses
MAX_MONEY = Decimal("1000000")  # a bill-sized amount in the currency's unit
MAX_TIER_THRESHOLD = Decimal("100000000")
MAX_DAYS = 3650  # ten years
# The most a money column holds (13 digits, 3 of them decimals).
MONEY_COLUMN_MAX = Decimal("9999999999")


@dataclass(frozen=True)
class Limit:
    kind: str  # points, percent, days, hours, months, money, count, multiplier, rate
    low: Decimal
    high: Decimal
    places: int = 0
    currency: str = ""  # money: the merchant's currency, whose minor unit ``places`` follows

    def _number(self, value: Decimal) -> str:
        return number_format(value, decimal_pos=None, use_l10n=True, force_grouping=True)

    def too_high(self) -> str:
        high, n = self._number(self.high), int(self.high)
        messages = {
            "points": ngettext("At most %(max)s point.", "At most %(max)s points.", n),
            "percent": _("At most %(max)s %%."),
            "days": ngettext("At most %(max)s day.", "At most %(max)s days.", n),
            "hours": ngettext("At most %(max)s hour.", "At most %(max)s hours.", n),
            "months": ngettext("At most %(max)s month.", "At most %(max)s months.", n),
            "multiplier": _("At most ×%(max)s."),
        }
        return messages.get(self.kind, _("At most %(max)s.")) % {"max": high}

    def too_low(self) -> str:
        low, n = self._number(self.low), int(self.low)
        messages = {
            "points": ngettext("At least %(min)s point.", "At least %(min)s points.", n),
            "percent": _("At least %(min)s %%."),
            "days": ngettext("At least %(min)s day.", "At least %(min)s days.", n),
            "hours": ngettext("At least %(min)s hour.", "At least %(min)s hours.", n),
            "months": ngettext("At least %(min)s month.", "At least %(min)s months.", n),
            "multiplier": _("At least ×%(min)s."),
        }
        return messages.get(self.kind, _("At least %(min)s.")) % {"min": low}

    def too_precise(self) -> str:
        if self.kind == "money" and self.currency:
            return precision_message(self.currency)
        if self.places == 0:
            if self.kind == "points":
                return _("Points are whole numbers.")
            return _("Enter a whole number.")
        return ngettext(
            "At most %(places)d digit after the decimal point.",
            "At most %(places)d digits after the decimal point.",
            self.places,
        ) % {"places": self.places}

    def problem(self, value) -> str | None:
        """Why ``value`` is out of bounds, or None. Values that are not numbers
        are left to the field's own validation."""
        if value is None or isinstance(value, bool):
            return None
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):
            return None
        if not number.is_finite():
            return None
        if number > self.high:
            return self.too_high()
        if number < self.low:
            return self.too_low()
        if number != number.quantize(Decimal(1).scaleb(-self.places)):
            return self.too_precise()
        return None

    def __call__(self, value) -> None:
        """As a form field validator."""
        message = self.problem(value)
        if message is not None:
            raise ValidationError(message, code="out_of_bounds")


def _limit(kind: str, low, high, places: int = 0) -> Limit:
    return Limit(kind, Decimal(low), Decimal(high), places)


PROGRAM_LIMITS: dict[str, Limit] = {
    "points_per_unit": _limit("rate", 0, 1000, 4),
    "cashback_percent": _limit("percent", 0, 100, 2),
    "point_value": _limit("money", "0.01", MAX_MONEY, 2),
    "points_expiry_days": _limit("days", 1, MAX_DAYS),
    "stamps_per_reward": _limit("count", 1, 100),
    "stamp_min_bill": _limit("money", 0, MAX_MONEY, 2),
    "stamp_expiry_days": _limit("days", 1, MAX_DAYS),
    "tier_window_months": _limit("months", 1, 120),
    "welcome_bonus": _limit("points", 0, MAX_BONUS),
    "birthday_bonus": _limit("points", 0, MAX_BONUS),
    "birthday_days_before": _limit("days", 0, 60),
    "birthday_valid_days": _limit("days", 1, 365),
    "referral_referrer_bonus": _limit("points", 0, MAX_BONUS),
    "referral_friend_bonus": _limit("points", 0, MAX_BONUS),
    "referral_cap": _limit("count", 0, 1000),
    "returning_after_days": _limit("days", 1, MAX_DAYS),
    "returning_multiplier": _limit("multiplier", 1, 10, 2),
    "returning_purchases": _limit("count", 1, 100),
    "max_redeem_percent": _limit("percent", 0, 100, 2),
    "min_bill_to_earn": _limit("money", 0, MAX_MONEY, 2),
    "min_balance_to_redeem": _limit("points", 0, MAX_BONUS),
    "daily_earn_cap": _limit("points", 1, 1_000_000),
    "activation_delay_hours": _limit("hours", 0, 24 * 90),
}

TIER_LIMITS: dict[str, Limit] = {
    "threshold": _limit("money", 0, MAX_TIER_THRESHOLD, 2),
    "earn_rate": _limit("rate", 0, 1000, 4),
    "discount_percent": _limit("percent", 0, 100, 2),
}
# Under the cashback mechanic a tier's earn rate is a percentage.
CASHBACK_TIER_EARN_RATE = _limit("percent", 0, 100, 2)


def in_currency(limits: dict[str, Limit], currency: str) -> dict[str, Limit]:
    """``limits`` with every amount of money held to ``currency``'s minor unit: a minimum bill
    of 1.5 is refused for JPY, 1.234 accepted for KWD; a point is worth at least one minor unit."""
    places = minor_unit(currency)
    return {
        name: replace(
            limit,
            places=places,
            low=quantum(currency) if limit.low > 0 else limit.low,
            high=_high_in(limit.high, currency),
            currency=currency,
        )
        if limit.kind == "money"
        else limit
        for name, limit in limits.items()
    }


def _high_in(high: Decimal, currency: str) -> Decimal:
    """The bounds above are written for roubles; a currency with many more units to the rouble (dong,
    rial) gets a bound as large in value (a 1,000,000 dong bill is a modest one). Never less than written."""
    return min(max(high, default_amount(high, currency)), MONEY_COLUMN_MAX)


def program_limits(currency: str) -> dict[str, Limit]:
    return in_currency(PROGRAM_LIMITS, currency)


def tier_limits(currency: str) -> dict[str, Limit]:
    return in_currency(TIER_LIMITS, currency)


PROGRAM_NAME_MAX = 120
TIER_NAME_MAX = 60


def program_name_problem(name) -> str | None:
    text = (name or "").strip()
    if not text:
        return _("Give the program a name: customers see it on their card.")
    if len(text) > PROGRAM_NAME_MAX:
        return _("At most %(max)d characters.") % {"max": PROGRAM_NAME_MAX}
    return None
