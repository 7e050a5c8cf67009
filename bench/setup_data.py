"""Create the benchmark's merchant, location, API key and cards, through the
same services as the product. Run by bench/pos_accrual.py with DATABASE_URL
pointing at the bench database; prints one JSON line with what the driver
needs (the API key, the card numbers, ids for the pgbench script)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    import django

    django.setup()

    from django.db import connection

    from loyalty.enrollment.services import enroll_customer
    from loyalty.models import Card
    from loyalty.program.services import program_for
    from merchants.models import Location, Merchant
    from merchants.services import api_key_create

    cards = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    merchant = Merchant.objects.create(
        name="Bench Coffee", slug="bench-coffee", country="RU", currency="RUB", time_zone="Europe/Moscow"
    )
    location = Location.objects.create(merchant=merchant, name="Bench till")
    issued = api_key_create(merchant=merchant, location=location, name="bench", actor=None)
    program = program_for(merchant=merchant)
    for index in range(cards):
        enroll_customer(
            merchant=merchant,
            phone=f"+7916{index:07d}",
            name=f"Bench customer {index}",
            location=location,
            source="import",
        )
    numbers = list(Card.objects.for_merchant(merchant).order_by("pk").values_list("number", flat=True))
    ids = list(Card.objects.for_merchant(merchant).order_by("pk").values_list("pk", flat=True))
    program.refresh_from_db()
    print(
        json.dumps(
            {
                "secret": issued.secret,
                "merchant_id": merchant.pk,
                "location_id": location.pk,
                "api_key_id": issued.api_key.pk,
                "program_version_id": program.current_version_id,
                "card_numbers": numbers,
                "card_id_min": min(ids),
                "card_id_max": max(ids),
            }
        )
    )
    connection.close()


if __name__ == "__main__":
    main()
