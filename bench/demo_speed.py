"""How fast the demo generator writes its history (issue 12: `make run` must answer with
the demo loaded within minutes of a fresh clone).

    .venv/bin/python bench/demo_speed.py --db sqlite [--customers 300] [--profile]
    .venv/bin/python bench/demo_speed.py --db postgres://postgres@127.0.0.1:5432/loyalty_bench_demo

Creates a fresh database (an SQLite file under var/, or drops and creates the PostgreSQL
one), migrates it, creates the demo merchant like `load_demo --staff-only` and runs
``loyalty.demo.generate`` with the given size. Prints events, CPU seconds of this process
(PostgreSQL's own CPU is not in it: see the wall time), events per CPU-second, and checks
``verify_ledger``. With --profile, writes a pyinstrument report to var/demo_profile.txt.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def _fresh_database(db: str) -> str:
    if db == "sqlite":
        path = BASE_DIR / "var" / os.environ.get("DEMO_BENCH_DB", "demo_bench.sqlite3")
        path.parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    base, name = db.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return db


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite", help="sqlite, or a postgres:// URL of a database to recreate")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--visit-rate", type=float, default=0.4)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": _fresh_database(args.db),
            "DEBUG": "1",  # as `make run`
            "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
            "ALLOWED_HOSTS": "testserver",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    warnings.simplefilter("ignore")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from loyalty import demo
    from loyalty.ledger.verification import verify_ledger
    from loyalty.management.commands.load_demo import DEMO_SLUG
    from merchants.models import Merchant

    call_command("migrate", verbosity=0)
    call_command("load_demo", staff_only=True, verbosity=0)
    merchant = Merchant.objects.get(slug=DEMO_SLUG)
    events = 0

    def progress(done: int, total: int) -> None:
        nonlocal events
        events = total

    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    cpu, wall = time.process_time(), time.perf_counter()
    with connection.execute_wrapper(count):
        summary = demo.generate(
            merchant, customers=args.customers, months=args.months, visit_rate=args.visit_rate, progress=progress,
            commit_every=demo.LOADER_COMMIT_SECONDS,
        )  # fmt: skip
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profiler is not None:
        profiler.stop()
        out = BASE_DIR / "var" / "demo_profile.txt"
        out.write_text(profiler.output_text(unicode=True, show_all=False))
        print(f"profile: {out}")
    report = verify_ledger(merchant_id=merchant.pk)
    print(f"database: {'sqlite' if args.db == 'sqlite' else 'postgresql'}; {summary}")
    print(f"events: {events}; CPU {cpu:.1f} s ({1000 * cpu / max(events, 1):.2f} ms/event, "
          f"{events / cpu:.0f} events/CPU-s); wall {wall:.1f} s ({events / wall:.0f} events/s); "
          f"{statements} SQL statements ({statements / max(events, 1):.1f}/event)")  # fmt: skip
    print(f"verify_ledger: {'ok' if report.ok else report.problems[:5]}")


if __name__ == "__main__":
    main()
