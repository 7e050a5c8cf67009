#!/usr/bin/env python
"""Analytics benchmark: the dashboard's numbers for a merchant with a million customers.

    .venv/bin/python bench/analytics.py [--customers 1000000] [--purchases 10000000] [--db NAME]
                                        [--reuse] [--pages-only] [--skip-predictions] [--explain]

What it does, on PostgreSQL at 127.0.0.1:

1. Drops and recreates the database ``--db`` and migrates it (``--reuse``: keeps it if it
   already holds the data set).
2. Generates, inside PostgreSQL (generate_series and INSERT … SELECT; no row passes
   through Python), one merchant (Moscow time, three locations) with ``--customers``
   customers and cards joining over three years, and ``--purchases`` purchases spread
   from each customer's join to the end (purchase counts exponential around the mean,
   shared out so that they add up exactly; 80 % at the customer's own shop, about 10 %
   paid partly with points, 1 % partly refunded), with their ledger entries (a welcome
   bonus per card, an earn entry per purchase, a redeem entry where points paid, a
   refund reversal per refund) and the cards' running totals (balance, purchase count,
   last purchase, lifetime spend). Ids follow time, as sequences hand them out. Every
   random draw is PostgreSQL's 64-bit hash of the row number and a salt: the same seed
   gives the same rows. The secondary indexes are dropped for the load and rebuilt once
   after it. Lots are not generated: nothing here reads them. Then VACUUM ANALYZE.
3. Times the nightly jobs: the summaries rebuild (with its VACUUM ANALYZE), cohorts and
   tiers, RFM scores and the prediction fit: wall time, CPU of this process and of its
   PostgreSQL backend, peak memory of this process (ru_maxrss) and of the backend (VmHWM
   from /proc; it includes the shared buffers the backend touched), and the load average.
4. Adds 10,000 purchases and times the incremental refresh that counts them.
5. Opens each dashboard page through the real stack (Django test client, DEBUG off,
   the owner logged in): "cold" = a new database connection and an empty page cache
   (PostgreSQL's buffers and the OS page cache are not dropped: the machine is shared),
   "uncached" = the same request again with the page cache emptied (the database warm),
   "warm" = again with the page cache kept (what a second visitor gets); beside them the
   SQL time and query count of the cold request, and the slowest query of each page
   (``--explain``: with its EXPLAIN (ANALYZE, BUFFERS)).

Targets (issue 10): pages < 1 s warm and < 3 s cold; the nightly jobs together < 10 min
and < 2 GB of memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
SERVER = "postgres://postgres@127.0.0.1:5432"
SLUG = "bench-analytics"
END = datetime(2026, 11, 30, 12, tzinfo=UTC)
SPAN_DAYS = 3 * 365


def setup_django(db: str, *, create: bool) -> None:
    os.environ["DATABASE_URL"] = f"{SERVER}/{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    if "SECRETS_ENCRYPTION_KEY" not in os.environ:
        from cryptography.fernet import Fernet

        os.environ["SECRETS_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    if create:
        import psycopg

        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
            conn.execute(f'CREATE DATABASE "{db}"')
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrate {time.perf_counter() - started:.1f} s", flush=True)


def _columns(model, given: list[str]) -> tuple[list[str], list]:
    """Every concrete column: ``given`` first (filled by the caller), then the others with
    the field's default (bulk loads bypass Django, which keeps defaults in Python)."""
    names, defaults = list(given), []
    for field in model._meta.concrete_fields:
        if field.column in given or field.primary_key:
            continue
        names.append(field.column)
        defaults.append(field.get_default())
    return names, defaults


def _literal(value) -> str:
    """A Python default as an SQL literal (bools, numbers, plain strings, None)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | Decimal):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _insert(cursor, model, given: dict[str, str], source: str, params=()) -> int:
    """``INSERT INTO <model table> SELECT <given expressions>, <defaults> FROM <source>``."""
    names, defaults = _columns(model, list(given))
    select = [f"{expr} AS {col}" for col, expr in given.items()] + [_literal(d) for d in defaults]
    cursor.execute(
        f"INSERT INTO {model._meta.db_table} ({', '.join(names)}) SELECT {', '.join(select)} FROM {source}", params
    )
    return cursor.rowcount


def _u(expr: str, salt: int) -> str:
    """A deterministic uniform number in [0, 1) from an integer and a salt (PostgreSQL's own
    64-bit hash): the same seed gives the same data set, row for row, on any run."""
    return f"((hashint8extended(({expr})::bigint, {salt}) & 9007199254740991)::float8 / 9007199254740992.0)"


LOADED_TABLES = ("loyalty_customer", "loyalty_card", "loyalty_purchase", "loyalty_refund", "loyalty_ledgerentry")


def _set_aside_indexes(cursor, tables) -> list[str]:
    """Drop every index of ``tables`` but the primary keys (rows load faster into bare tables,
    and a sorted index build is much cheaper than millions of inserts into it); return the
    statements that recreate them exactly, under the same names."""
    restore = []
    for table in tables:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'u'",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
            restore.append(definition)
    return restore


def load(customers: int, purchases: int, seed: int) -> None:
    """The data set, generated by PostgreSQL itself (generate_series, INSERT … SELECT): no row
    passes through Python. Every random draw is a hash of the row's number and a salt
    (``_u``), so a seed always gives the same rows and ids, whatever the plan."""
    from django.db import connection

    from loyalty.models import Card, Customer, LedgerEntry, Purchase, Refund
    from loyalty.program.services import program_for
    from merchants.models import Location, Merchant, User

    merchant = Merchant.objects.create(
        name="Bench Analytics", slug=SLUG, country="RU", currency="RUB", time_zone="Europe/Moscow"
    )
    User.objects.create_user("owner@bench.test", "bench-password", merchant=merchant, role="owner")
    locations = [Location.objects.create(merchant=merchant, name=f"Shop {i}").pk for i in range(3)]
    version_id = program_for(merchant=merchant).current_version_id
    mid = merchant.pk
    span = SPAN_DAYS * 86400
    start = END - timedelta(seconds=span)
    s = seed * 100
    locs = "ARRAY[" + ", ".join(str(pk) for pk in locations) + "]::bigint[]"
    t0 = time.perf_counter()

    def step(label: str) -> None:
        print(f"  {label}: {time.perf_counter() - t0:.1f} s", flush=True)

    with connection.cursor() as cursor:
        # Generated rows are consistent by construction: skip the foreign-key triggers.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SET work_mem = '512MB'")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute("SET synchronous_commit = off")
        restore = _set_aside_indexes(cursor, LOADED_TABLES)
        # Customers: a join moment over the three years and a weight (exponential); the
        # purchases are shared out in proportion to the weights, so they add up exactly.
        cursor.execute(
            f"""
            CREATE TEMP TABLE bench_customer AS
            SELECT k, joined_s, loc,
                   (round(%(p)s * cum / total) - round(%(p)s * (cum - w) / total))::bigint AS n,
                   round(%(p)s * (cum - w) / total)::bigint AS slot0
            FROM (SELECT k, joined_s, loc, w, sum(w) OVER (ORDER BY k) AS cum, sum(w) OVER () AS total
                  FROM (SELECT k, {_u("k", s + 1)} * %(span)s AS joined_s, ({locs})[1 + k %% 3] AS loc,
                               -ln(1 - {_u("k", s + 2)}) AS w
                        FROM generate_series(1, %(n)s) k) g) c
            """,
            {"p": purchases, "n": customers, "span": span},
        )
        # Purchases: spread from the customer's join to the end, ids in time order (as the
        # sequence hands them out); 10 %% paid partly with points, 1 %% partly refunded,
        # 80 %% at the customer's own shop.
        cursor.execute(
            f"""
            CREATE TEMP TABLE bench_purchase AS
            SELECT row_number() OVER (ORDER BY at, r) AS id, r, k, at, bill, redeem, loc, refunded,
                   (bill - redeem) * 5 / 100 AS earned
            FROM (SELECT r, c.k,
                         %(start)s::timestamptz
                           + (c.joined_s + {_u("r", s + 3)} * (%(span)s - c.joined_s)) * interval '1 second' AS at,
                         150 + floor({_u("r", s + 4)} * 2350)::int AS bill,
                         CASE WHEN {_u("r", s + 5)} < 0.1 THEN 10 + floor({_u("r", s + 6)} * 50)::int ELSE 0 END
                           AS redeem,
                         CASE WHEN {_u("r", s + 7)} < 0.8 THEN c.loc
                              ELSE ({locs})[1 + floor({_u("r", s + 8)} * 3)::int] END AS loc,
                         CASE WHEN {_u("r", s + 9)} < 0.01 THEN 100 ELSE 0 END AS refunded
                  FROM bench_customer c CROSS JOIN LATERAL generate_series(c.slot0 + 1, c.slot0 + c.n) r) g
            """,
            {"start": start, "span": span},
        )
        step("generated")
        _insert(
            cursor,
            Customer,
            {
                "id": "k",
                "merchant_id": str(mid),
                "phone": "'+7900' || lpad(k::text, 7, '0')",
                "name": "'Customer ' || k",
                "referral_code": "'B' || upper(to_hex(k))",
                "joined_location_id": "loc",
                "created_at": "%(start)s::timestamptz + joined_s * interval '1 second'",
            },
            "bench_customer ORDER BY k",
            {"start": start},
        )
        _insert(
            cursor,
            Card,
            {
                "id": "c.k",
                "merchant_id": str(mid),
                "customer_id": "c.k",
                "number": "(100000000000 + c.k)::text",
                "barcode": "'bench' || to_hex(c.k)",
                "purchase_count": "coalesce(a.n, 0)",
                "last_purchase_at": "a.last_at",
                "balance": "100 + coalesce(a.points, 0)",
                "lifetime_spend": "coalesce(a.spend, 0)",
                "created_at": "%(start)s::timestamptz + c.joined_s * interval '1 second'",
                "updated_at": "%(start)s::timestamptz + c.joined_s * interval '1 second'",
            },
            """bench_customer c LEFT JOIN (
                   SELECT k, count(*) AS n, max(at) AS last_at, sum(bill - refunded) AS spend,
                          sum(earned - redeem - CASE WHEN refunded > 0 THEN earned * refunded / bill ELSE 0 END)
                            AS points
                   FROM bench_purchase GROUP BY k) a ON a.k = c.k
               ORDER BY c.k""",
            {"start": start},
        )
        step("customers and cards")
        _insert(
            cursor,
            Purchase,
            {
                "id": "id",
                "merchant_id": str(mid),
                "card_id": "k",
                "location_id": "loc",
                "receipt_id": "'R' || id",
                "currency": "'RUB'",
                "bill_amount": "bill",
                "points_redeemed": "redeem",
                "points_amount": "redeem",
                "amount_paid": "bill - redeem",
                "points_earned": "earned",
                "refunded_amount": "refunded",
                "points_reversed": "CASE WHEN refunded > 0 THEN earned * refunded / bill ELSE 0 END",
                "program_version_id": str(version_id),
                "idempotency_key": "'P' || id",
                "created_at": "at",
            },
            "bench_purchase ORDER BY id",
        )
        step("purchases")
        # A refund two days after its purchase (within the data set's end).
        cursor.execute(
            """
            CREATE TEMP TABLE bench_refund AS
            SELECT row_number() OVER (ORDER BY at, purchase_id) AS id, purchase_id, k, amount, points, at
            FROM (SELECT id AS purchase_id, k, refunded AS amount, earned * refunded / bill AS points,
                         least(at + interval '2 days', %s::timestamptz) AS at
                  FROM bench_purchase WHERE refunded > 0) r
            """,
            [END],
        )
        refunds = _insert(
            cursor,
            Refund,
            {
                "id": "id",
                "merchant_id": str(mid),
                "purchase_id": "purchase_id",
                "card_id": "k",
                "amount": "amount",
                "points_reversed": "points",
                "idempotency_key": "'F' || id",
                "created_at": "at",
            },
            "bench_refund ORDER BY id",
        )
        # Ledger entries in time order: a welcome bonus per card, an earn entry per purchase,
        # a redeem entry where points paid, a reversal per refund.
        entries = _insert(
            cursor,
            LedgerEntry,
            {
                "id": "row_number() OVER (ORDER BY at, purchase_id, refund_id, kind)",
                "merchant_id": str(mid),
                "card_id": "k",
                "kind": "kind",
                "points": "points",
                "purchase_id": "purchase_id",
                "refund_id": "refund_id",
                "program_version_id": str(version_id),
                "created_at": "at",
            },
            """(SELECT k, 'bonus_welcome' AS kind, 100 AS points, NULL::bigint AS purchase_id,
                       NULL::bigint AS refund_id, %(start)s::timestamptz + joined_s * interval '1 second' AS at
                FROM bench_customer
                UNION ALL SELECT k, 'earn', earned, id, NULL, at FROM bench_purchase
                UNION ALL SELECT k, 'redeem', -redeem, id, NULL, at FROM bench_purchase WHERE redeem > 0
                UNION ALL SELECT k, 'refund_reversal', -points, purchase_id, id, at FROM bench_refund) e
               ORDER BY at, purchase_id, refund_id, kind""",
            {"start": start},
        )
        step("refunds and ledger entries")
        for statement in restore:
            cursor.execute(statement)
        step(f"{len(restore)} indexes rebuilt")
        for table in LOADED_TABLES:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cursor.execute("DROP TABLE bench_customer, bench_purchase, bench_refund")
        cursor.execute("RESET session_replication_role")
    print(
        f"loaded {customers:,} customers, {purchases:,} purchases, {refunds:,} refunds, {entries:,} ledger "
        f"entries in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )


def add_purchases(count: int, seed: int) -> None:
    """``count`` more purchases (and their earn entries) an hour after the data set."""
    from django.db import connection

    from loyalty.models import LedgerEntry, Purchase

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(id), max(card_id), min(location_id), max(program_version_id), max(merchant_id) "
            "FROM loyalty_purchase"
        )
        top, cards, loc, version_id, mid = cursor.fetchone()
        cursor.execute("SELECT max(id) FROM loyalty_ledgerentry")
        (entry_top,) = cursor.fetchone()
        at = END + timedelta(hours=1)
        source = (
            f"(SELECT {top} + i AS id, 1 + floor({_u('i', seed * 100 + 11)} * {cards})::bigint AS card, "
            f"150 + floor({_u('i', seed * 100 + 12)} * 2350)::int AS bill FROM generate_series(1, {count}) i) g"
        )
        _insert(
            cursor,
            Purchase,
            {
                "id": "id",
                "merchant_id": str(mid),
                "card_id": "card",
                "location_id": str(loc),
                "receipt_id": "'N' || id",
                "currency": "'RUB'",
                "bill_amount": "bill",
                "amount_paid": "bill",
                "points_earned": "bill * 5 / 100",
                "program_version_id": str(version_id),
                "idempotency_key": "'N' || id",
                "created_at": "%(at)s::timestamptz",
            },
            source,
            {"at": at},
        )
        _insert(
            cursor,
            LedgerEntry,
            {
                "id": f"{entry_top} - {top} + id",
                "merchant_id": str(mid),
                "card_id": "card",
                "kind": "'earn'",
                "points": "bill * 5 / 100",
                "purchase_id": "id",
                "program_version_id": str(version_id),
                "created_at": "%(at)s::timestamptz",
            },
            source,
            {"at": at},
        )
        for table, value in (("loyalty_purchase", top + count), ("loyalty_ledgerentry", entry_top + count)):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [value])


def vacuum_analyze() -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("loyalty_customer", "loyalty_card", "loyalty_purchase", "loyalty_refund", "loyalty_ledgerentry"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"VACUUM ANALYZE {time.perf_counter() - started:.1f} s", flush=True)


# --- measuring ---------------------------------------------------------------------------------


def backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def backend_peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def backend_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a PostgreSQL backend (this machine is shared:
    CPU beside wall tells load from work)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def job(name: str, fn) -> float:
    from django.db import connection

    connection.close()
    pid = backend_pid()
    cpu = time.process_time()
    db_cpu = backend_cpu_s(pid)
    started = time.perf_counter()
    fn()
    wall = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"job {name:<28} wall {wall:8.1f} s   CPU: app {time.process_time() - cpu:6.1f} s, "
        f"PostgreSQL backend {backend_cpu_s(pid) - db_cpu:6.1f} s   "
        f"peak memory: app {own:6.0f} MB, PostgreSQL backend {backend_peak_mb(pid):6.0f} MB   "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return wall


def pages(explain: bool) -> None:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from merchants.models import Location, Merchant, User

    setup_test_environment()
    owner = User.objects.get(email="owner@bench.test")
    location = Location.objects.filter(merchant=Merchant.objects.get(slug=SLUG)).order_by("pk").first()
    client = Client()
    client.force_login(owner)
    urls = [
        ("home", "/dashboard/"),
        ("analytics, last 12 months", "/dashboard/analytics/"),
        ("analytics, one month", "/dashboard/analytics/?from=2026-10&to=2026-10"),
        ("analytics, 36 months", "/dashboard/analytics/?from=2023-12&to=2026-11"),
        ("analytics, closed 36 months", "/dashboard/analytics/?from=2023-11&to=2026-10"),
        ("analytics, one location", f"/dashboard/analytics/?location={location.pk}"),
        ("analytics, location 36 months", f"/dashboard/analytics/?location={location.pk}&from=2023-12&to=2026-11"),
        ("CSV of the figures", "/dashboard/analytics/csv/?chart=figures"),
        ("CSV of the figures, 36 mo", "/dashboard/analytics/csv/?chart=figures&from=2023-12&to=2026-11"),
        ("CSV of the cohorts", "/dashboard/analytics/csv/?chart=cohorts"),
    ]
    print(
        f"{'page':<30} {'cold':>8} {'uncached':>9} {'warm':>8}  {'SQL (cold)':>10} {'queries':>7}  load   "
        "(targets: warm < 1 s, cold < 3 s)"
    )
    slowest: list[tuple[float, str, str]] = []
    for name, url in urls:
        times = []
        for mode in ("cold", "uncached", "warm"):
            if mode == "cold":
                connection.close()
            if mode != "warm":
                cache.clear()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url, secure=True)
                times.append(time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code)
            if mode == "cold":
                sql_s = sum(float(q["time"]) for q in captured.captured_queries)
                count = len(captured.captured_queries)
                top = max(captured.captured_queries, key=lambda q: float(q["time"]))
                slowest.append((float(top["time"]), name, top["sql"]))
        print(
            f"{name:<30} {times[0]:7.3f}s {times[1]:8.3f}s {times[2]:7.3f}s  {sql_s:9.3f}s {count:7d}  "
            f"{os.getloadavg()[0]:.1f}",
            flush=True,
        )
    print("slowest query of each cold page:")
    for seconds, name, sql in slowest:
        print(f"  {seconds:6.3f} s  {name}: {sql[:160]}")
        if explain and sql.lstrip().upper().startswith("SELECT"):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                for (line,) in cursor.fetchall():
                    print("      " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=10_000_000)
    parser.add_argument("--db", default="loyalty_bench_analytics")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS) each page's slowest query")
    parser.add_argument("--pages-only", action="store_true", help="time the pages only (after an earlier run)")
    parser.add_argument("--skip-predictions", action="store_true", help="leave out the nightly prediction fit")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--reuse", action="store_true", help="keep the database if it holds the data set")
    args = parser.parse_args()

    fresh = True
    if args.reuse:
        import psycopg

        try:
            with psycopg.connect(f"{SERVER}/{args.db}") as conn:
                fresh = not conn.execute("SELECT 1 FROM merchants_merchant WHERE slug = %s", [SLUG]).fetchone()
        except psycopg.OperationalError:
            fresh = True
    setup_django(args.db, create=fresh)
    if fresh:
        load(args.customers, args.purchases, args.seed)
        vacuum_analyze()

    from django.utils import timezone

    now = END + timedelta(days=1)
    if not args.pages_only:
        nightly(args, now)
    # The pages read "this month" from the clock: pin it to the data set's last month.
    import time_machine
    from django.test.utils import override_settings

    # DEBUG is off: serve static URLs without the collectstatic manifest (the bench times views, not files).
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with (
        time_machine.travel(END + timedelta(hours=3), tick=True),
        override_settings(
            STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}, "staticfiles": plain}
        ),
    ):
        assert timezone.now() > END
        pages(args.explain)


def nightly(args, now: datetime) -> None:
    from analytics import summaries

    total = job("nightly: summaries rebuild", lambda: summaries.rebuild(now=now, lag=timedelta(0)))
    total += job("nightly: cohorts and tiers", lambda: summaries.rebuild_cohorts(now=now))

    from campaigns.segments.rfm import recompute_rfm
    from merchants.models import Merchant

    merchant = Merchant.objects.get(slug=SLUG)
    total += job("nightly: RFM scores", lambda: recompute_rfm(merchant=merchant, now=now))
    if not args.skip_predictions:
        from analytics import predictions

        total += job("nightly: predictions", lambda: predictions.fit_merchant(merchant=merchant, now=now))
    print(f"nightly jobs together: {total:.1f} s (target < 600 s)", flush=True)
    add_purchases(10_000, args.seed + 1)
    job("refresh: 10,000 new purchases", lambda: summaries.refresh(now=now + timedelta(hours=2), lag=timedelta(0)))
    job("refresh: nothing new", lambda: summaries.refresh(now=now + timedelta(hours=2), lag=timedelta(0)))


if __name__ == "__main__":
    main()
