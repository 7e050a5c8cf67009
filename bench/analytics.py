#!/usr/bin/env python
"""Analytics benchmark: the dashboard's numbers for a merchant with a million customers.

    .venv/bin/python bench/analytics.py [--customers 1000000] [--purchases 10000000] [--reuse]

What it does, on PostgreSQL at 127.0.0.1:

1. Drops and recreates the database ``loyalty_bench_analytics`` (``--db``) and migrates it
   (``--reuse``: keeps it if it already holds the data set).
2. Loads with COPY one merchant (Moscow time, three locations) with ``--customers``
   customers and cards joining over three years, and ``--purchases`` purchases spread
   from each customer's join to the end (about 10 % paid partly with points, 1 %
   partly refunded), with their ledger entries (a welcome bonus per card, an earn
   entry per purchase, a redeem entry where points paid, a refund reversal per
   refund). Lots are not generated: nothing here reads them. Then VACUUM ANALYZE.
3. Times the nightly jobs (``analytics.summaries.rebuild`` then ``rebuild_cohorts``):
   wall time, and peak memory of this process (ru_maxrss) and of its PostgreSQL
   backend (VmHWM from /proc; it includes the shared buffers the backend touched).
4. Loads 10,000 more purchases with COPY and times the incremental refresh that adds them.
5. Opens each dashboard page through the real stack (Django test client, DEBUG off,
   the owner logged in): "cold" = a new database connection and an empty page cache
   (PostgreSQL's buffers and the OS page cache are not dropped: the machine is shared),
   "uncached" = the same request again with the page cache emptied (the database warm),
   "warm" = again with the page cache kept (what a second visitor gets).

Targets (issue 10): pages < 1 s warm and < 3 s cold; the nightly jobs together < 10 min
and < 2 GB of memory.
"""

from __future__ import annotations

import argparse
import io
import os
import random
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


def _cell(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def _columns(model, given: list[str]) -> tuple[list[str], list]:
    """Every concrete column: ``given`` first (filled by the caller), then the others with
    the field's default (COPY bypasses Django, which keeps defaults in Python)."""
    names, defaults = list(given), []
    for field in model._meta.concrete_fields:
        if field.column in given or field.primary_key:
            continue
        names.append(field.column)
        defaults.append(field.get_default())
    return names, defaults


class Copier:
    """Streams rows into ``COPY table FROM STDIN`` in 4 MB chunks (never the whole set in memory)."""

    def __init__(self, cursor, table: str, columns: list[str]):
        self.copy_cm = cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN")
        self.copy = self.copy_cm.__enter__()
        self.buffer = io.StringIO()
        self.rows = 0

    def add(self, row) -> None:
        self.buffer.write("\t".join(_cell(v) for v in row))
        self.buffer.write("\n")
        self.rows += 1
        if self.buffer.tell() > 4 << 20:
            self.flush()

    def flush(self) -> None:
        self.copy.write(self.buffer.getvalue())
        self.buffer = io.StringIO()

    def close(self) -> None:
        self.flush()
        self.copy_cm.__exit__(None, None, None)


def load(customers: int, purchases: int, seed: int) -> None:
    import psycopg
    from django.db import connection

    from loyalty.models import Card, Customer, LedgerEntry, Purchase, Refund
    from loyalty.program.services import program_for
    from merchants.models import Location, Merchant, User

    rng = random.Random(seed)
    merchant = Merchant.objects.create(
        name="Bench Analytics", slug=SLUG, country="RU", currency="RUB", time_zone="Europe/Moscow"
    )
    User.objects.create_user("owner@bench.test", "bench-password", merchant=merchant, role="owner")
    locations = [Location.objects.create(merchant=merchant, name=f"Shop {i}").pk for i in range(3)]
    version_id = program_for(merchant=merchant).current_version_id
    mid = merchant.pk
    started = time.perf_counter()
    per_customer = purchases / customers
    span = SPAN_DAYS * 86400
    start = END - timedelta(seconds=span)
    cust_cols, cust_def = _columns(
        Customer, ["id", "merchant_id", "phone", "name", "referral_code", "joined_location_id", "created_at"]
    )
    card_cols, card_def = _columns(
        Card,
        [
            "id",
            "merchant_id",
            "customer_id",
            "number",
            "barcode",
            "purchase_count",
            "last_purchase_at",
            "created_at",
            "updated_at",
            "balance",
            "lifetime_spend",
        ],
    )
    p_cols, p_def = _columns(
        Purchase,
        [
            "id",
            "merchant_id",
            "card_id",
            "location_id",
            "receipt_id",
            "currency",
            "bill_amount",
            "points_redeemed",
            "points_amount",
            "amount_paid",
            "points_earned",
            "refunded_amount",
            "points_reversed",
            "program_version_id",
            "idempotency_key",
            "created_at",
        ],
    )
    e_cols, e_def = _columns(
        LedgerEntry,
        [
            "id",
            "merchant_id",
            "card_id",
            "kind",
            "points",
            "purchase_id",
            "refund_id",
            "program_version_id",
            "created_at",
        ],
    )
    r_cols, r_def = _columns(
        Refund,
        ["id", "merchant_id", "purchase_id", "card_id", "amount", "points_reversed", "idempotency_key", "created_at"],
    )
    purchase_id = entry_id = refund_id = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor
        cursor.execute("SET session_replication_role = replica")
        # One COPY at a time per connection: the cards go through a second one.
        cards_conn = psycopg.connect(os.environ["DATABASE_URL"])
        cards_conn.execute("SET session_replication_role = replica")
        copies = {
            "customer": Copier(raw, Customer._meta.db_table, cust_cols),
            "card": Copier(cards_conn.cursor(), Card._meta.db_table, card_cols),
        }
        # Customers and cards first (their COPY must end before the purchases' begins on this connection):
        # keep each customer's join moment and purchase count in compact lists.
        joins: list[float] = []
        counts: list[int] = []
        remaining = purchases
        for k in range(1, customers + 1):
            joined = rng.random() * span
            # Purchase counts: geometric around the mean, the last customer takes the remainder.
            n = min(remaining, int(rng.expovariate(1 / per_customer))) if k < customers else remaining
            remaining -= n
            joins.append(joined)
            counts.append(n)
            at = (start + timedelta(seconds=joined)).isoformat()
            loc = locations[k % 3]
            copies["customer"].add([k, mid, f"+7900{k:07d}", f"Customer {k}", f"B{k:x}".upper(), loc, at, *cust_def])
            copies["card"].add([k, mid, k, f"{100000000000 + k}", f"bench{k:x}", n, None, at, at, 0, 0, *card_def])
        for c in copies.values():
            c.close()
        cards_conn.commit()
        cards_conn.close()
        print(f"  customers and cards: {time.perf_counter() - started:.1f} s", flush=True)

        # The ledger entries stream through a second connection while the purchases are copied.
        # Both sessions skip the foreign-key triggers (session_replication_role = replica): the
        # generated rows are consistent by construction, and checking 25 million references
        # would take longer than loading them.
        entries_conn = psycopg.connect(os.environ["DATABASE_URL"])
        entries_conn.execute("SET session_replication_role = replica")
        ec = Copier(entries_conn.cursor(), LedgerEntry._meta.db_table, e_cols)

        def entry(card, kind, points, pid, rid, at):
            nonlocal entry_id
            entry_id += 1
            ec.add([entry_id, mid, card, kind, points, pid, rid, version_id, at, *e_def])

        pc = Copier(raw, Purchase._meta.db_table, p_cols)
        refunds_later: list[tuple] = []
        for k in range(1, customers + 1):
            joined, n = joins[k - 1], counts[k - 1]
            loc = locations[k % 3]
            entry(k, "bonus_welcome", 100, None, None, (start + timedelta(seconds=joined)).isoformat())
            if not n:
                continue
            moments = sorted(joined + rng.random() * (span - joined) for _ in range(n))
            for moment in moments:
                purchase_id += 1
                bill = Decimal(rng.randrange(150, 2500))
                redeem = rng.randrange(10, 60) if rng.random() < 0.1 else 0
                paid = bill - redeem
                earned = int(paid * 5 / 100)
                at = (start + timedelta(seconds=moment)).isoformat()
                where = loc if rng.random() < 0.8 else locations[rng.randrange(3)]
                refunded = Decimal(100) if rng.random() < 0.01 else Decimal(0)
                reversed_points = int(earned * refunded / bill) if refunded else 0
                pc.add(
                    [
                        purchase_id,
                        mid,
                        k,
                        where,
                        f"R{purchase_id}",
                        "RUB",
                        bill,
                        redeem,
                        Decimal(redeem),
                        paid,
                        earned,
                        refunded,
                        reversed_points,
                        version_id,
                        f"P{purchase_id}",
                        at,
                        *p_def,
                    ]
                )
                entry(k, "earn", earned, purchase_id, None, at)
                if redeem:
                    entry(k, "redeem", -redeem, purchase_id, None, at)
                if refunded:
                    refunds_later.append((purchase_id, k, refunded, reversed_points, moment))
            if k % 100_000 == 0:
                print(f"  {k:,} customers' purchases: {time.perf_counter() - started:.0f} s", flush=True)
        pc.close()
        print(f"  purchases: {pc.rows:,} in {time.perf_counter() - started:.1f} s", flush=True)

        rc = Copier(raw, Refund._meta.db_table, r_cols)
        for pid, k, amount, points, moment in refunds_later:
            refund_id += 1
            at = (start + timedelta(seconds=min(span, moment + 2 * 86400))).isoformat()
            rc.add([refund_id, mid, pid, k, amount, points, f"F{refund_id}", at, *r_def])
            entry(k, "refund_reversal", -points, pid, refund_id, at)
        rc.close()
        ec.close()
        entries_conn.commit()
        entries_conn.close()
        for table, top in (
            ("loyalty_customer", customers),
            ("loyalty_card", customers),
            ("loyalty_purchase", purchase_id),
            ("loyalty_refund", refund_id),
            ("loyalty_ledgerentry", entry_id),
        ):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [max(top, 1)])
    connection.close()
    print(
        f"loaded {customers:,} customers, {purchase_id:,} purchases, {refund_id:,} refunds, {entry_id:,} ledger "
        f"entries with COPY in {time.perf_counter() - started:.1f} s",
        flush=True,
    )


def add_purchases(count: int, seed: int) -> None:
    """``count`` more purchases (and their earn entries) after the data set, with COPY."""
    from django.db import connection

    from loyalty.models import LedgerEntry, Purchase
    from merchants.models import Merchant

    rng = random.Random(seed)
    merchant = Merchant.objects.get(slug=SLUG)
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id), max(card_id), min(location_id), max(program_version_id) FROM loyalty_purchase")
        top, cards, loc, version_id = cursor.fetchone()
        cursor.execute("SELECT max(id) FROM loyalty_ledgerentry")
        (entry_top,) = cursor.fetchone()
        p_cols, p_def = _columns(
            Purchase,
            [
                "id",
                "merchant_id",
                "card_id",
                "location_id",
                "receipt_id",
                "currency",
                "bill_amount",
                "amount_paid",
                "points_earned",
                "program_version_id",
                "idempotency_key",
                "created_at",
            ],
        )
        e_cols, e_def = _columns(
            LedgerEntry,
            ["id", "merchant_id", "card_id", "kind", "points", "purchase_id", "program_version_id", "created_at"],
        )
        at = (END + timedelta(hours=1)).isoformat()
        rows = []
        pc = Copier(cursor.cursor, Purchase._meta.db_table, p_cols)
        for i in range(1, count + 1):
            card = rng.randrange(1, cards + 1)
            bill = Decimal(rng.randrange(150, 2500))
            pc.add(
                [
                    top + i,
                    merchant.pk,
                    card,
                    loc,
                    f"N{top + i}",
                    "RUB",
                    bill,
                    bill,
                    int(bill * 5 / 100),
                    version_id,
                    f"N{top + i}",
                    at,
                    *p_def,
                ]
            )
            rows.append((card, int(bill * 5 / 100), top + i))
        pc.close()
        ec = Copier(cursor.cursor, LedgerEntry._meta.db_table, e_cols)
        for j, (card, points, pid) in enumerate(rows, start=1):
            ec.add([entry_top + j, merchant.pk, card, "earn", points, pid, version_id, at, *e_def])
        ec.close()
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


def pages() -> None:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

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
        ("analytics, one location", f"/dashboard/analytics/?location={location.pk}"),
        ("CSV of the figures", "/dashboard/analytics/csv/?chart=figures"),
        ("CSV of the cohorts", "/dashboard/analytics/csv/?chart=cohorts"),
    ]
    print(f"{'page':<28} {'cold':>9} {'uncached':>9} {'warm':>9}   (targets: warm < 1 s, cold < 3 s)")
    for name, url in urls:
        times = []
        for mode in ("cold", "uncached", "warm"):
            if mode == "cold":
                connection.close()
            if mode != "warm":
                cache.clear()
            started = time.perf_counter()
            response = client.get(url, secure=True)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code)
        print(f"{name:<28} {times[0]:8.3f}s {times[1]:8.3f}s {times[2]:8.3f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=10_000_000)
    parser.add_argument("--db", default="loyalty_bench_analytics")
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

    from analytics import summaries

    now = END + timedelta(days=1)
    total = job("nightly: summaries rebuild", lambda: summaries.rebuild(now=now, lag=timedelta(0)))
    total += job("nightly: cohorts and tiers", lambda: summaries.rebuild_cohorts(now=now))

    def warm() -> None:
        import time_machine

        from analytics import metrics
        from merchants.models import Merchant

        with time_machine.travel(END + timedelta(hours=3), tick=True):
            metrics.warm_closed_periods(merchant=Merchant.objects.get(slug=SLUG))

    total += job("nightly: home's closed months", warm)
    print(f"nightly jobs together: {total:.1f} s (target < 600 s)", flush=True)
    add_purchases(10_000, args.seed + 1)
    job("refresh: 10,000 new purchases", lambda: summaries.refresh(now=now + timedelta(hours=2), lag=timedelta(0)))
    job("refresh: nothing new", lambda: summaries.refresh(now=now + timedelta(hours=2), lag=timedelta(0)))
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
        pages()


if __name__ == "__main__":
    main()
