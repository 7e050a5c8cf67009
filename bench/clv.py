#!/usr/bin/env python
"""Predicted customer value at scale: the nightly fit of one merchant with a million
customers and ten million purchases.

    .venv/bin/python bench/clv.py [--customers 1000000] [--purchases 10000000] [--reuse]

The data set is bench/analytics.py's (same generator, loaded with COPY into its own
database ``loyalty_bench_clv``). Then it times, with peak memory of this process and
of its PostgreSQL backend:

- the SQL summary alone (purchase days per customer read into numpy arrays);
- ``analytics.predictions.fit_merchant``: the summary, the BG/NBD and Gamma-Gamma
  fits, the back-test (a second summary and fit on all but the last 90 days, the
  holdout and baseline counts) and the upsert of one prediction per customer;
- the same again (a rerun the next night: every row is updated in place).

Target (issue 10): the nightly jobs together under 10 minutes and 2 GB of memory.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
_spec = importlib.util.spec_from_file_location("bench_analytics", BASE_DIR / "bench" / "analytics.py")
assert _spec is not None and _spec.loader is not None
data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=10_000_000)
    parser.add_argument("--db", default="loyalty_bench_clv")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--reuse", action="store_true", help="keep the database if it holds the data set")
    args = parser.parse_args()

    fresh = True
    if args.reuse:
        import psycopg

        try:
            with psycopg.connect(f"{data.SERVER}/{args.db}") as conn:
                fresh = not conn.execute("SELECT 1 FROM merchants_merchant WHERE slug = %s", [data.SLUG]).fetchone()
        except psycopg.OperationalError:
            fresh = True
    data.setup_django(args.db, create=fresh)
    if fresh:
        started = time.perf_counter()
        data.load(args.customers, args.purchases, args.seed)
        data.vacuum_analyze()
        print(f"data set loaded in {time.perf_counter() - started:.0f} s", flush=True)

    from analytics import predictions
    from analytics.models import CustomerPrediction, PredictionFit
    from merchants.models import Merchant

    merchant = Merchant.objects.get(slug=data.SLUG)
    now = data.END + timedelta(days=1)
    data.job("summary only (SQL -> arrays)", lambda: predictions.summarise(merchant=merchant, end=now))
    first = data.job("nightly: prediction", lambda: predictions.fit_merchant(merchant=merchant, now=now))
    again = data.job(
        "nightly: prediction, next night",
        lambda: predictions.fit_merchant(merchant=merchant, now=now + timedelta(days=1)),
    )
    fit = PredictionFit.objects.get(merchant=merchant)
    print(
        f"fit: {fit.status} customers {fit.customers} repeat {fit.repeat_customers} params {fit.params}\n"
        f"back-test over {fit.backtest_customers} customers, {fit.holdout_days} days: actual {fit.actual_total} "
        f"purchase days, model {fit.model_total} (MAE {fit.model_mae}), naive {fit.baseline_total} "
        f"(MAE {fit.baseline_mae})\n"
        f"predictions stored: {CustomerPrediction.objects.for_merchant(merchant).count()}\n"
        f"prediction job: {first:.1f} s first night, {again:.1f} s next night (target: all nightly jobs < 600 s)",
        flush=True,
    )


if __name__ == "__main__":
    main()
