"""Where a POS purchase spends its CPU: run after bench/pos_accrual.py (it
reuses the bench database and var/loyalty_bench.json), in one process,
through Django's test client (no network, no gunicorn).

    .venv/bin/python bench/profile_purchase.py [--profile]

Prints the CPU time per request of the request path and of its parts (best of
several batches, so that other load on the machine disturbs it less), the SQL
statements one purchase sends, and with --profile the top of a cProfile run
measured in process CPU time.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import sys
import time
import uuid
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="loyalty_bench")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--redis-db", type=int, default=3, help="Redis database for the cache and the broker")
    args = parser.parse_args()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.db}",
            "DEBUG": "0",
            "SECRET_KEY": "profile-" + uuid.uuid4().hex * 2,
            "SECRETS_ENCRYPTION_KEY": "YmVuY2gtb25seS1rZXktMDEyMzQ1Njc4OWFiY2RlZjA=",
            "ALLOWED_HOSTS": "testserver",
            "CACHE_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
            "POS_API_THROTTLE_RATE": "100000000/min",
            "DB_CONN_MAX_AGE": "600",
            "LOG_LEVEL": "WARNING",
        }
    )
    warnings.simplefilter("ignore")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from loyalty import ledger
    from loyalty.api.auth import api_key_for
    from loyalty.idempotency import run_idempotent
    from loyalty.ledger import selectors
    from loyalty.wallet import contract as card_hooks
    from merchants.models import Location, Merchant
    from merchants.services import api_key_for_secret

    data = json.loads((BASE_DIR / "var" / f"{args.db}.json").read_text())
    merchant = Merchant.objects.get(pk=data["merchant_id"])
    location = Location.objects.get(pk=data["location_id"])
    client = Client()
    auth = {"Authorization": f"Bearer {data['secret']}"}

    def purchase_request() -> None:
        receipt = uuid.uuid4().hex
        body = {"card_number": random.choice(data["card_numbers"]), "bill_amount": "123.45", "receipt_id": receipt}
        response = client.post(
            "/api/pos/v1/purchases/", json.dumps(body), content_type="application/json",
            headers={**auth, "Idempotency-Key": receipt},
        )  # fmt: skip
        assert response.status_code == 201, response.content

    def service_only() -> None:
        card = selectors.card_for_write(merchant=merchant, card_number=random.choice(data["card_numbers"]))
        receipt = uuid.uuid4().hex
        ledger.purchase(
            merchant=merchant, card=card, location=location, bill_amount="123.45", receipt_id=receipt,
            idempotency_key=receipt,
        )  # fmt: skip

    def idempotency_row() -> None:
        run_idempotent(merchant=merchant, key=uuid.uuid4().hex, fingerprint="0" * 64, write=lambda: (201, {}))

    def best(fn, batch: int = 50, batches: int = 6) -> float:
        for _ in range(10):
            fn()
        result = float("inf")
        for _ in range(batches):
            started = time.process_time()
            for _ in range(batch):
                fn()
            result = min(result, (time.process_time() - started) / batch * 1000)
        return result

    with CaptureQueriesContext(connection) as queries:
        purchase_request()
    print(f"One purchase through the API sends {len(queries)} SQL statements (plus BEGIN/COMMIT):")
    for query in queries.captured_queries:
        print("  ", query["sql"][:110])
    print()
    print("CPU per call, best batch (ms):")
    print(f"  whole request (API + service + on-commit hooks)  {best(purchase_request):6.2f}")
    print(f"  api_key_for_secret (auth, uncached)              {best(lambda: api_key_for_secret(data['secret'])):6.2f}")
    print(f"  api_key_for (auth, remembered key)               {best(lambda: api_key_for(data['secret'])):6.2f}")
    lookup = lambda: selectors.card_for_write(merchant=merchant, card_number=random.choice(data["card_numbers"]))  # noqa: E731
    print(f"  card_for_write                                   {best(lookup):6.2f}")
    print(f"  run_idempotent around an empty write             {best(idempotency_row):6.2f}")
    print(f"  ledger.purchase (incl. card_for_write, hooks)    {best(service_only):6.2f}")
    original = card_hooks.card_changed
    card_hooks.card_changed = lambda card_id: None
    try:
        print(f"  whole request without the wallet on-commit hook  {best(purchase_request):6.2f}")
    finally:
        card_hooks.card_changed = original

    if args.profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(200):
            purchase_request()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
