"""Money in the merchant's currency and times in the merchant's time zone.

    {% load merchant_format %}
    {{ purchase.amount|money:merchant }}        1 250,00 ₽  (ru) / RUB 1,250.00 (en)
    {{ purchase.amount|money:"EUR" }}
    {{ entry.created_at|local_time:merchant }}  24.11.2026 14:05
    {{ entry.created_at|local_time:location }}  the location's own time zone, if it has one
    {{ entry.created_at|local_time }}           the active time zone (the merchant's on dashboard pages)
    {{ customer.birthday|local_date }}          24.11.2026

``money`` takes a Merchant (or anything with ``currency``) or an ISO 4217 code
and formats with babel in the active language. The time filters take a
Merchant, a Location (its override, else the merchant's zone) or a zone name.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, format_decimal
from django import template
from django.utils import formats, timezone, translation

register = template.Library()

EMPTY = "—"
# CLDR's currencySpacing rule, which babel leaves out: a letter symbol gets a
# space before the digits ("RUB 1,250.00", not "RUB1,250.00").
_LETTERS_THEN_DIGIT = re.compile(r"([^\W\d_]{2,})(?=\d)")


def _babel_locale() -> str:
    return (translation.get_language() or "en").replace("-", "_")


def _currency_of(where) -> str | None:
    if where is None or where == "":
        return None
    if isinstance(where, str):
        return where.upper()
    return getattr(where, "currency", None)


def _zone_of(where) -> zoneinfo.ZoneInfo | None:
    if where is None or where == "":
        return None
    if isinstance(where, str):
        name = where
    else:
        name = getattr(where, "effective_time_zone", None) or getattr(where, "time_zone", None)
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


@register.filter
def money(value, where=None) -> str:
    if value is None or value == "":
        return EMPTY
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    currency = _currency_of(where)
    locale = _babel_locale()
    if not currency:
        return format_decimal(amount, locale=locale)
    return _LETTERS_THEN_DIGIT.sub("\\1\xa0", format_currency(amount, currency, locale=locale))


@register.filter
def local_time(value, where=None) -> str:
    if not isinstance(value, datetime):
        return EMPTY if value in (None, "") else str(value)
    zone = _zone_of(where)
    if timezone.is_aware(value):
        value = timezone.localtime(value, zone) if zone else timezone.localtime(value)
    return formats.date_format(value, "SHORT_DATETIME_FORMAT")


@register.filter
def local_date(value, where=None) -> str:
    if isinstance(value, datetime):
        zone = _zone_of(where)
        if timezone.is_aware(value):
            value = timezone.localtime(value, zone) if zone else timezone.localtime(value)
        value = value.date()
    if not isinstance(value, date):
        return EMPTY if value in (None, "") else str(value)
    return formats.date_format(value, "SHORT_DATE_FORMAT")
