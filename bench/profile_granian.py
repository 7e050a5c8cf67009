#!/usr/bin/env python
"""Where a POS purchase spends its CPU through the production server: run
after bench/pos_accrual.py (it reuses the bench database and
var/<db>.json). Starts granian (WSGI, one worker, one blocking thread) on
bench/profiled_wsgi.py, drives purchases at 8 clients, and prints

- the worker's CPU per purchase (from /proc: Python, granian's Rust side, psycopg, everything),
- the part spent inside the WSGI callable (Django and the app), so the rest is granian's bridge,
- PostgreSQL's CPU per purchase,
- each SQL statement's count and wall time per purchase,
- the top of a cProfile run (process CPU time) inside the callable.

    .venv/bin/python bench/profile_granian.py --db loyalty_bench [--requests 3000] [--sort tottime]
"""

from __future__ import annotations

import argparse
import glob
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "bench"))

import pos_accrual as bench  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="loyalty_bench")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--redis-db", type=int, default=3)
    parser.add_argument("--no-cprofile", action="store_true", help="SQL timings and CPU only")
    args = parser.parse_args()
    bench.REDIS_DB = args.redis_db
    data = json.loads((BASE_DIR / "var" / f"{args.db}.json").read_text())
    profile_dir = tempfile.mkdtemp(prefix="profile-granian-")
    port = bench.free_port()
    command = [
        bench.GRANIAN, "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--blocking-threads", "1", "--log-level", "warning", "--no-ws", "--working-dir", str(BASE_DIR / "bench"),
        "profiled_wsgi:application",
    ]  # fmt: skip
    env = bench.app_env(
        args.db, PROFILE_DIR=profile_dir, PYTHONPATH=str(BASE_DIR), PROFILE_PYTHON="0" if args.no_cprofile else "1"
    )
    server = bench.Server.__new__(bench.Server)
    server.port = port
    server.process = bench.subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True)
    try:
        server.wait_ready()
        bench.load(port, data["secret"], data["card_numbers"], args.clients, 400, 60)  # warm up
        for path in glob.glob(f"{profile_dir}/*"):
            Path(path).unlink()
        time.sleep(0.3)
        # The profiler's counters restart with the measured run: compare against its dump.
        result = bench.measured_load(
            server, args.db, data["secret"], data["card_numbers"], args.clients, args.requests, 600
        )
        time.sleep(0.5)
    finally:
        server.stop()
    print(bench.describe(result))
    dumps = [json.loads(Path(path).read_text()) for path in glob.glob(f"{profile_dir}/*.json")]
    if not dumps:
        print("no profile written (fewer than 200 requests?)")
        return 1
    requests = sum(d["requests"] for d in dumps)
    inside = sum(d["cpu"] for d in dumps) * 1000
    print(
        f"worker CPU per purchase {result.app_cpu_ms:.2f} ms (all of it, with cProfile's own overhead); "
        f"inside the WSGI callable {inside / requests:.2f} ms over {requests} requests (profiled)"
    )
    statements: dict[str, list[float]] = {}
    for d in dumps:
        for label, (count, seconds) in d["statements"].items():
            entry = statements.setdefault(label, [0, 0.0])
            entry[0] += count
            entry[1] += seconds
    print("SQL statements per purchase (count, wall ms):")
    for label, (count, seconds) in sorted(statements.items(), key=lambda item: -item[1][1]):
        print(f"  {count / requests:5.2f} {seconds * 1000 / requests:7.3f} ms  {label}")
    if not args.no_cprofile:
        stats = pstats.Stats(*glob.glob(f"{profile_dir}/*.pstats"))
        stats.sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
