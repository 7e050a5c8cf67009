#!/usr/bin/env python
"""Segment count benchmark: the builder's live count at 100,000 customers, and the RFM recompute.

    .venv/bin/python bench/segment_count.py [--customers 100000] [--others 20000] [--repeat 5] [--keep]

What it does, on PostgreSQL at 127.0.0.1:

1. Drops and recreates the database ``loyalty_bench_segments`` (``--db``) and migrates it.
2. Loads with COPY one merchant with ``--customers`` customers (and one other merchant with
   ``--others``, so that every query has to scope): cards whose cached counters (purchases,
   last purchase, lifetime spend, balance, tier) agree with the purchases; 0–15 purchases per
   customer (about 5 on average) over two years, at five locations; one open lot per card
   with points expiring within a year; birthdays for 70 %, consent for 60 %, wallet passes
   for every card, Apple for 30 %, Google for 20 %. Then VACUUM ANALYZE.
3. Recomputes the RFM scores (``campaigns.segments.rfm.recompute_rfm``) and times it.
4. Times typical segments through ``campaigns.segments.selectors.segment_size`` (what the
   live-count endpoint runs: COUNT plus a sample of 8), cold (a new connection) and warm
   (median of ``--repeat``); prints matching customers, wall, the app's CPU and the
   PostgreSQL backend's CPU (from /proc).

Target (issue 9): each count under 1 s at 100,000 customers.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import secrets
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
SERVER = "postgres://postgres@127.0.0.1:5432"
BIG_SLUG = "bench-segments-big"
TARGET_MS = 1000.0
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _copy(cursor, model, columns: list[str], rows: list[list]) -> None:
    def cell(value):
        if value is None:
            return r"\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value)

    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(cell(v) for v in row))
        buffer.write("\n")
    buffer.seek(0)
    table = model._meta.db_table
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        while chunk := buffer.read(1 << 20):
            copy.write(chunk)
    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def _columns(model, given: list[str]) -> tuple[list[str], list]:
    """``given`` columns first, then every other column with the field's default (COPY does not
    know Django's Python-side defaults)."""
    names, defaults = list(given), [None] * len(given)
    for field in model._meta.concrete_fields:
        if field.primary_key or field.column in given:
            continue
        names.append(field.column)
        defaults.append(field.get_default())
    return names, defaults


def load(customers: int, others: int, seed: int) -> None:
    from django.db import connection

    from loyalty.models import AppleDevice, AppleRegistration, Card, Customer, Lot, Purchase, Tier, WalletPass
    from loyalty.program.services import program_for
    from merchants.models import Location, Merchant

    rng = random.Random(seed)
    started = time.perf_counter()
    merchants = [
        Merchant.objects.create(
            name="Bench Segments", slug=BIG_SLUG, country="RU", currency="RUB", time_zone="Europe/Moscow"
        ),
        Merchant.objects.create(
            name="Bench Other", slug="bench-segments-other", country="RU", currency="RUB", time_zone="Europe/Moscow"
        ),
    ]
    customer_rows, card_rows, purchase_rows, lot_rows, pass_rows, device_rows, reg_rows = [], [], [], [], [], [], []
    cust_cols, cust_def = _columns(
        Customer,
        [
            "id",
            "merchant_id",
            "phone",
            "name",
            "birthday",
            "source",
            "referral_code",
            "marketing_consent",
            "created_at",
        ],
    )
    card_cols, card_def = _columns(
        Card,
        [
            "id",
            "merchant_id",
            "customer_id",
            "number",
            "barcode",
            "tier_id",
            "balance",
            "purchase_count",
            "last_purchase_at",
            "lifetime_spend",
            "created_at",
            "updated_at",
        ],
    )
    pur_cols, pur_def = _columns(
        Purchase,
        [
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
    lot_cols, lot_def = _columns(
        Lot,
        [
            "merchant_id",
            "card_id",
            "kind",
            "points",
            "remaining",
            "program_version_id",
            "created_at",
            "available_at",
            "activated_at",
            "expires_at",
        ],
    )
    pass_cols, pass_def = _columns(
        WalletPass,
        ["id", "merchant_id", "card_id", "serial_number", "authentication_token", "web_token", "google_saved_at"],
    )
    dev_cols, dev_def = _columns(AppleDevice, ["id", "device_library_identifier", "push_token"])
    reg_cols, reg_def = _columns(AppleRegistration, ["merchant_id", "device_id", "wallet_pass_id"])
    next_id = 1
    sources = ["qr", "cashier", "import", "referral"]
    for merchant, size in zip(merchants, (customers, others), strict=True):
        program = program_for(merchant=merchant)
        version = program.current_version_id
        locations = [Location.objects.create(merchant=merchant, name=f"Shop {i}") for i in range(5)]
        base_tier, gold = (
            Tier.objects.create(merchant=merchant, program=program, name="Bench base", threshold=Decimal("0")),
            Tier.objects.create(merchant=merchant, program=program, name="Bench gold", threshold=Decimal("30000")),
        )
        receipt = 0
        for _ in range(size):
            cid = next_id
            next_id += 1
            joined = NOW - timedelta(seconds=rng.random() * 730 * 86400)
            birthday = (
                date(rng.randrange(1960, 2006), rng.randrange(1, 13), rng.randrange(1, 29))
                if rng.random() < 0.7
                else None
            )
            row = list(cust_def)
            row[:9] = [
                cid,
                merchant.pk,
                f"+7916{cid:07d}",
                f"Клиент {cid}",
                birthday,
                rng.choice(sources),
                f"R{cid:X}",
                rng.random() < 0.6,
                joined,
            ]
            customer_rows.append(row)
            # Purchases: a skewed count, spread from the join date to now.
            n = min(15, int(rng.expovariate(1 / 5))) if rng.random() < 0.85 else 0
            span = (NOW - joined).total_seconds()
            moments = sorted(joined + timedelta(seconds=rng.random() * span) for _ in range(n))
            spend = Decimal("0")
            points = 0
            for moment in moments:
                bill = Decimal(rng.randrange(150, 4000))
                earned = int(bill * Decimal("0.05"))
                receipt += 1
                p = list(pur_def)
                p[:11] = [
                    merchant.pk,
                    cid,
                    rng.choice(locations).pk,
                    f"B{receipt}",
                    "RUB",
                    bill,
                    bill,
                    earned,
                    version,
                    f"bench-{receipt}",
                    moment,
                ]
                purchase_rows.append(p)
                spend += bill
                points += earned
            card = list(card_def)
            card[:12] = [
                cid,
                merchant.pk,
                cid,
                f"{100000000000 + cid}",
                f"bench{cid:x}",
                (gold if spend >= 30000 else base_tier).pk,
                points,
                n,
                moments[-1] if moments else None,
                spend,
                joined,
                joined,
            ]
            card_rows.append(card)
            if points:
                lot = list(lot_def)
                lot[:10] = [
                    merchant.pk,
                    cid,
                    "earn",
                    points,
                    points,
                    version,
                    joined,
                    joined,
                    joined,
                    NOW + timedelta(seconds=rng.random() * 365 * 86400),
                ]
                lot_rows.append(lot)
            wp = list(pass_def)
            wp[:7] = [
                cid,
                merchant.pk,
                cid,
                secrets.token_hex(16),
                secrets.token_hex(16),
                secrets.token_hex(16),
                NOW if rng.random() < 0.2 else None,
            ]
            pass_rows.append(wp)
            if rng.random() < 0.3:
                dev = list(dev_def)
                dev[:3] = [cid, f"device-{cid}", secrets.token_hex(32)]
                device_rows.append(dev)
                reg = list(reg_def)
                reg[:3] = [merchant.pk, cid, cid]
                reg_rows.append(reg)
    generated = time.perf_counter()
    with connection.cursor() as cursor:
        _copy(cursor, Customer, cust_cols, customer_rows)
        _copy(cursor, Card, card_cols, card_rows)
        _copy(cursor, Purchase, pur_cols, purchase_rows)
        _copy(cursor, Lot, lot_cols, lot_rows)
        _copy(cursor, WalletPass, pass_cols, pass_rows)
        _copy(cursor, AppleDevice, dev_cols, device_rows)
        _copy(cursor, AppleRegistration, reg_cols, reg_rows)
        for table in (
            "loyalty_customer",
            "loyalty_card",
            "loyalty_purchase",
            "loyalty_lot",
            "loyalty_walletpass",
            "loyalty_appleregistration",
            "loyalty_appledevice",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(
        f"loaded {customers + others:,} customers ({customers:,} of the big merchant), "
        f"{len(purchase_rows):,} purchases, "
        f"{len(lot_rows):,} lots, {len(reg_rows):,} Apple registrations: generated in {generated - started:.1f} s, "
        f"COPY + VACUUM ANALYZE {time.perf_counter() - generated:.1f} s"
    )


def backend_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def segments(merchant) -> list[tuple[str, dict]]:
    from loyalty.models import Tier
    from merchants.models import Location

    gold = Tier.objects.get(merchant=merchant, name="Bench gold").pk
    shop = Location.objects.filter(merchant=merchant).order_by("pk").first().pk

    def one(*conditions, match="all"):
        return {"match": "all", "groups": [{"match": match, "conditions": list(conditions)}]}

    return [
        ("everyone", {}),
        (
            "win-back: ≥ 60 days, ≥ 2 purchases",
            one(
                {"field": "days_since_last_purchase", "op": "gte", "value": 60},
                {"field": "purchase_count", "op": "gte", "value": 2},
            ),
        ),
        ("≥ 3 purchases in 30 days", one({"field": "purchase_count", "op": "gte", "value": 3, "days": 30})),
        ("spend ≥ 5 000 in 90 days", one({"field": "spend", "op": "gte", "value": "5000", "days": 90})),
        ("average check ≥ 2 500", one({"field": "average_check", "op": "gte", "value": "2500"})),
        (
            "birthday in 7 days + consent",
            one({"field": "birthday_within", "value": 7}, {"field": "marketing_consent", "op": "is", "value": True}),
        ),
        ("≥ 100 points expire in 14 days", one({"field": "points_expiring", "op": "gte", "value": 100, "days": 14})),
        ("RFM at risk / can't lose", one({"field": "rfm_group", "op": "in", "value": ["at_risk", "cant_lose"]})),
        ("wallet Apple or Google", one({"field": "wallet", "op": "in", "value": ["apple", "google"]})),
        ("web card only", one({"field": "wallet", "op": "in", "value": ["web"]})),
        ("last purchase at shop 1", one({"field": "last_purchase_location", "op": "in", "value": [str(shop)]})),
        (
            "Gold OR champions (2 groups)",
            {
                "match": "any",
                "groups": [
                    {"match": "all", "conditions": [{"field": "tier", "op": "in", "value": [str(gold)]}]},
                    {"match": "all", "conditions": [{"field": "rfm_group", "op": "in", "value": ["champions"]}]},
                ],
            },
        ),
        (
            "everything at once (9 conditions)",
            one(
                {"field": "days_since_last_purchase", "op": "between", "value": [10, 400]},
                {"field": "purchase_count", "op": "gte", "value": 1, "days": 365},
                {"field": "spend", "op": "gte", "value": "1000", "days": 365},
                {"field": "average_check", "op": "gte", "value": "500"},
                {"field": "balance", "op": "gte", "value": 10},
                {"field": "points_expiring", "op": "gte", "value": 1, "days": 365},
                {"field": "source", "op": "in", "value": ["qr", "cashier"]},
                {"field": "wallet", "op": "in", "value": ["apple", "web"]},
                {"field": "last_purchase_location", "op": "in", "value": [str(shop)]},
            ),
        ),
    ]


def measure(merchant, definition: dict, repeat: int) -> dict:
    from django.db import connection

    from campaigns.segments.selectors import segment_size

    connection.close()
    pid = backend_pid()

    def one():
        app0, wall0 = time.process_time(), time.perf_counter()
        size = segment_size(merchant=merchant, definition=definition)
        return size.count, time.perf_counter() - wall0, time.process_time() - app0

    pg0 = backend_cpu_seconds(pid)
    count, cold, _app = one()
    cold_pg = backend_cpu_seconds(pid) - pg0
    pg0 = backend_cpu_seconds(pid)
    warm = [one() for _ in range(repeat)]
    return {
        "count": count,
        "cold_ms": cold * 1000,
        "cold_pg_ms": cold_pg * 1000,
        "warm_ms": statistics.median(w[1] for w in warm) * 1000,
        "app_ms": statistics.mean(w[2] for w in warm) * 1000,
        "pg_ms": (backend_cpu_seconds(pid) - pg0) / repeat * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="loyalty_bench_segments")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--others", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--reuse", action="store_true", help="count on the data a --keep run left (implies --keep)")
    args = parser.parse_args()
    args.keep = args.keep or args.reuse

    import psycopg

    if not args.reuse:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{args.db}"')

    os.environ["DATABASE_URL"] = f"{SERVER}/{args.db}"
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
    os.environ.setdefault("SECRETS_ENCRYPTION_KEY", "bench-only-" + "y" * 40)
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    os.environ.setdefault("PUBLIC_BASE_URL", "http://localhost")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import time_machine
    from django.core.management import call_command
    from django.db import connection

    from campaigns.segments.rfm import recompute_rfm
    from merchants.models import Merchant

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrate: {time.perf_counter() - started:.1f} s; load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if not args.reuse:
        load(args.customers, args.others, args.seed)
    big = Merchant.objects.get(slug=BIG_SLUG)

    # The data set is dated around NOW; the counts run "at" NOW too.
    with time_machine.travel(NOW, tick=True):
        connection.close()
        pid = backend_pid()
        runs = []
        for _ in range(3):
            pg0, app0, wall0 = backend_cpu_seconds(pid), time.process_time(), time.perf_counter()
            scored = recompute_rfm(merchant=big)
            runs.append((time.perf_counter() - wall0, time.process_time() - app0, backend_cpu_seconds(pid) - pg0))
        first, rest = runs[0], runs[1:]
        print(
            f"\nRFM recompute, {scored:,} customers scored: first {first[0] * 1000:.0f} ms wall "
            f"(app {first[1] * 1000:.0f} ms, pg {first[2] * 1000:.0f} ms CPU); again (upsert over existing rows) "
            f"{statistics.mean(r[0] for r in rest) * 1000:.0f} ms wall, "
            f"pg {statistics.mean(r[2] for r in rest) * 1000:.0f} ms CPU"
        )
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE campaigns_rfmscore")

        header = f"{'segment':38} {'customers':>9} {'cold ms':>8} {'cold pg':>8} "
        header += f"{'warm ms':>8} {'app ms':>7} {'pg ms':>7}  ok"
        print("\n" + header)
        print("-" * len(header))
        worst = 0.0
        for label, definition in segments(big):
            r = measure(big, definition, args.repeat)
            slowest = max(r["cold_ms"], r["warm_ms"])
            worst = max(worst, slowest)
            print(
                f"{label[:38]:38} {r['count']:>9,} {r['cold_ms']:8.1f} {r['cold_pg_ms']:8.1f} {r['warm_ms']:8.1f} "
                f"{r['app_ms']:7.1f} {r['pg_ms']:7.1f}  {'yes' if slowest < TARGET_MS else 'NO'}"
            )
        print(f"load after the counts: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"\nslowest count: {worst:.0f} ms (target < {TARGET_MS:.0f} ms at {args.customers:,} customers)")
    connection.close()
    if not args.keep:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
