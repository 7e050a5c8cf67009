"""How numbers are shown to people, in one place for every page: points with
the right plural, money in the merchant's currency, card numbers in groups
of four, phone numbers in international format, times in the merchant's zone.
The pages and their JSON show what the server formats."""

from __future__ import annotations

from datetime import datetime

import phonenumbers
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import ngettext

from merchants.templatetags.merchant_format import money

__all__ = ["card_number_text", "free_visit_text", "local_hhmm", "money", "phone_text", "points_text"]


def free_visit_text(stamps_per_reward: int) -> str:
    """The stamp rule in the customer's words: N = 6 is "buy 5, the next one is free"."""
    paid = max(1, stamps_per_reward - 1)
    return ngettext(
        "Pay for %(paid)d visit, the next one is free", "Pay for %(paid)d visits, the next one is free", paid
    ) % {"paid": paid}


def points_text(points: int) -> str:
    return ngettext("%(count)s point", "%(count)s points", abs(points)) % {
        "count": number_format(points, force_grouping=True)
    }


def card_number_text(number: str) -> str:
    """412345678903 → 4123 4567 8903, as printed on the card."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def phone_text(e164: str) -> str:
    """How a stored number is shown to people: +79161234567 → +7 916 123-45-67."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def local_hhmm(moment: datetime, merchant) -> str:
    """The time of day in the merchant's time zone, 24-hour."""
    return timezone.localtime(moment, merchant.tzinfo).strftime("%H:%M")
