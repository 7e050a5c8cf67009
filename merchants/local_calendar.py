"""The merchant's local calendar in SQL on SQLite (the quick start's database).

PostgreSQL turns a stored UTC instant into the merchant's local day with
``(created_at AT TIME ZONE m.time_zone)::date``; SQLite has no time zones, so
the hand-written SQL that needs a local day (analytics' summaries and predictions,
campaigns' RFM recency) calls these two functions there instead, registered on every
new SQLite connection (``MerchantsConfig.ready``). zoneinfo reads the same IANA
database PostgreSQL does, so both give the same day around midnight and DST."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local(stored: str, zone: str) -> datetime:
    # Django stores aware datetimes on SQLite as naive UTC text ("2026-03-05 09:00:00[.ffffff]");
    # a parameter with an offset keeps it.
    moment = datetime.fromisoformat(stored)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_zone(zone))


def local_day(stored: str | None, zone: str) -> str | None:
    """The ISO date (as a DateField stores it) of ``stored`` in time zone ``zone``."""
    return None if stored is None else _local(stored, zone).date().isoformat()


def local_month(stored: str | None, zone: str) -> str | None:
    """The first day of the local month of ``stored``, as an ISO date."""
    return None if stored is None else _local(stored, zone).date().replace(day=1).isoformat()


def register(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: give a new SQLite connection the two functions."""
    if connection.vendor != "sqlite":
        return
    connection.connection.create_function("local_day", 2, local_day, deterministic=True)
    connection.connection.create_function("local_month", 2, local_month, deterministic=True)
