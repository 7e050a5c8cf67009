"""Choice lists for countries, currencies and time zones, named in the active language.

Country and currency names come from babel (CLDR) so they follow the language the
page is shown in; time zones are the IANA names from zoneinfo, grouped by region
with their current UTC offset.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import get_territory_currencies
from django.utils import timezone, translation

# CLDR "territories" that are not countries: unknown region, EU, the euro area,
# the UN, outlying Oceania and the pseudo-locales.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})
# Deprecated aliases and machine-specific entries in the tz database.
_TZ_ALIAS_PREFIXES = ("Etc/", "SystemV/", "US/", "posix", "right", "Canada/", "Brazil/", "Chile/", "Mexico/")
_TZ_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


def _locale() -> Locale:
    try:
        return Locale.parse(translation.get_language() or "en", sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale("en")


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    territories = get_global("territory_currencies")
    return frozenset(code for code in territories if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES)


def country_choices() -> list[tuple[str, str]]:
    names = _locale().territories
    return sorted(((code, names.get(code, code)) for code in country_codes()), key=lambda item: item[1].casefold())


def country_name(code: str) -> str:
    return _locale().territories.get(code, code)


@lru_cache(maxsize=4)
def _currency_codes(today: date) -> frozenset[str]:
    codes: set[str] = set()
    for country in country_codes():
        codes.update(get_territory_currencies(country, today))
    return frozenset(codes)


def currency_codes() -> frozenset[str]:
    """ISO 4217 codes of the currencies in use somewhere today."""
    return _currency_codes(date.today())


def currency_choices() -> list[tuple[str, str]]:
    names = _locale().currencies
    return [(code, f"{code} — {names.get(code, code)}") for code in sorted(currency_codes())]


def default_currency_for(country: str) -> str | None:
    currencies = get_territory_currencies(country, date.today())
    return currencies[0] if currencies else None


def country_currencies() -> dict[str, str]:
    """Each country's main currency today, for the sign-up form's suggestion."""
    return {code: currency for code in sorted(country_codes()) if (currency := default_currency_for(code))}


# Where most of a country's businesses are, for countries with several zones (CLDR lists them alphabetically).
_MAIN_ZONE = {
    "RU": "Europe/Moscow", "US": "America/New_York", "CA": "America/Toronto", "BR": "America/Sao_Paulo",
    "AU": "Australia/Sydney", "MX": "America/Mexico_City", "KZ": "Asia/Almaty", "ID": "Asia/Jakarta",
    "CN": "Asia/Shanghai", "DE": "Europe/Berlin", "ES": "Europe/Madrid", "PT": "Europe/Lisbon",
    "AR": "America/Argentina/Buenos_Aires", "CL": "America/Santiago", "UA": "Europe/Kyiv", "UZ": "Asia/Tashkent",
    "NZ": "Pacific/Auckland", "MY": "Asia/Kuala_Lumpur", "CY": "Asia/Nicosia", "EC": "America/Guayaquil",
    "MN": "Asia/Ulaanbaatar", "CD": "Africa/Kinshasa", "FR": "Europe/Paris", "GB": "Europe/London",
}  # fmt: skip


def default_time_zone_for(country: str) -> str | None:
    """The time zone a business in ``country`` most likely keeps."""
    if country in _MAIN_ZONE:
        return _MAIN_ZONE[country]
    zones = [zone for zone in get_global("territory_zones").get(country, []) if zone in time_zone_names()]
    return zones[0] if zones else None


def country_time_zones() -> dict[str, str]:
    """Each country's likely time zone, for the sign-up form's suggestion."""
    return {code: zone for code in sorted(country_codes()) if (zone := default_time_zone_for(code))}


@lru_cache(maxsize=1)
def time_zone_names() -> frozenset[str]:
    """Every name zoneinfo knows, except machine-specific entries."""
    return frozenset(zoneinfo.available_timezones() - _TZ_NOT_ZONES)


@lru_cache(maxsize=1)
def _listed_time_zones() -> tuple[str, ...]:
    names = {n for n in time_zone_names() if "/" in n and not n.startswith(_TZ_ALIAS_PREFIXES)}
    return tuple(sorted(names | {"UTC"}))


def _offset_label(name: str, now: datetime) -> str:
    offset = now.astimezone(zoneinfo.ZoneInfo(name)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "−"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def time_zone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped by region (``Europe``, ``Asia``…) for an <optgroup> select."""
    now = timezone.now()
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in _listed_time_zones():
        region, _sep, city = name.partition("/")
        label = f"{city.replace('_', ' ') or name} ({_offset_label(name, now)})"
        groups.setdefault(region if city else "UTC", []).append((name, label))
    return sorted(groups.items())
