"""Where the campaigns' hand-written SQL differs between production PostgreSQL and the quick
start's SQLite file. The sending pipeline, the RFM recompute and the segment count run the same
functions on both; each switch here covers one construct SQLite lacks, and PostgreSQL's SQL and
parameters pass through unchanged.

SQLite's twin of the hold-out bucket (PostgreSQL computes it with sha256/encode/bit(64),
``reach_sql.holdout_sql``) is a function registered on each new SQLite connection
(``register_functions``, connected in ``CampaignsConfig.ready``); the local day of a stored time
(PostgreSQL's ``AT TIME ZONE … ::date``) is merchants.local_calendar's ``local_day``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

HOLDOUT_BUCKET = "campaigns_holdout_bucket"
# merchants/local_calendar.py, registered for every SQLite connection.
LOCAL_DAY = "local_day"


def holdout_bucket(campaign_id: int, customer_id: int) -> int:
    """The first 8 bytes of sha256("<campaign>:<customer>") as an unsigned big-endian number,
    modulo 100: a customer is held out of a campaign when this is below its percentage."""
    digest = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def register_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: SQLite's twin of the hold-out bucket."""
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    raw.create_function(HOLDOUT_BUCKET, 2, holdout_bucket, deterministic=True)


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def in_list(values: Sequence[Any]) -> tuple[str, list]:
    """``= ANY(%s)`` with the list as one array parameter on PostgreSQL (one statement text for
    any number of ids); ``IN (%s, …)`` with a parameter each on SQLite, which has no arrays."""
    if is_postgresql():
        return "= ANY(%s)", [list(values)]
    return f"IN ({', '.join(['%s'] * len(values))})", list(values)


def params(values: Sequence[Any]) -> list:
    """Parameters of a raw statement: as they are on PostgreSQL (psycopg adapts them); on SQLite
    times become the text Django stores (UTC, no offset), so that they compare with the stored
    ones as text the way the ORM's do."""
    if is_postgresql():
        return list(values)
    adapt = connection.ops.adapt_datetimefield_value
    return [adapt(value) if isinstance(value, datetime) else value for value in values]
