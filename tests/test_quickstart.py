"""The README's quick start, for real: with no DATABASE_URL or CELERY_BROKER_URL the project runs on an
SQLite file and a filesystem broker under VAR_DIR; migrate, the periodic jobs, a (small) demo and one
purchase through the ledger service all work there, and the ledger verifies."""

from __future__ import annotations

import json

import pytest

from tests.quickstart_manage import quickstart_manage

PURCHASE = """
import json
from decimal import Decimal
from django.conf import settings
from loyalty.models import Card, LedgerEntry
from loyalty.ledger import purchase
from merchants.models import Merchant
assert settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"), settings.DATABASES["default"]["ENGINE"]
assert settings.CELERY_BROKER_URL.startswith("filesystem"), settings.CELERY_BROKER_URL
merchant = Merchant.objects.get(slug="zerno-demo")
card = Card.objects.filter(merchant=merchant, status="active").order_by("pk").first()
before = card.balance
entries = LedgerEntry.objects.filter(card=card).count()
made = purchase(
    merchant=merchant, card=card, location=merchant.locations.first(), bill_amount=Decimal("500.00"),
    receipt_id="QUICKSTART-1", idempotency_key="quickstart-1",
)
card.refresh_from_db()
# A job queued as beat would queue it lands in the filesystem broker's folder.
from loyalty.api.tasks import purge_idempotent_requests_task
purge_idempotent_requests_task.delay()
print("RESULT", json.dumps({
    "earned": made.points_earned, "before": before, "after": card.balance,
    "entries": LedgerEntry.objects.filter(card=card).count() - entries,
    "customers": merchant.customers.count(),
}))
"""


@pytest.mark.timeout(1200)
def test_quick_start_on_sqlite_and_a_filesystem_broker(tmp_path):
    var_dir = tmp_path / "var"
    quickstart_manage(var_dir, "migrate", "--noinput")
    assert (var_dir / "db.sqlite3").is_file()
    quickstart_manage(var_dir, "setup_periodic_tasks")
    quickstart_manage(var_dir, "load_demo", "--customers", "15", "--months", "1")

    bought = quickstart_manage(var_dir, "shell", "-c", PURCHASE)
    line = next(line for line in bought.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["customers"] == 15, result
    assert result["earned"] > 0 and result["after"] == result["before"] + result["earned"], result
    assert result["entries"] >= 1, result
    assert any((var_dir / "broker" / "queue").iterdir()), "nothing was queued on the filesystem broker"

    verified = quickstart_manage(var_dir, "verify_ledger")
    assert "OK: the ledger verifies." in verified.stdout, verified.stdout
