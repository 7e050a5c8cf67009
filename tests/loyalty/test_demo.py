"""Demo data goes through the same services, so the ledger verifies."""

from datetime import UTC, datetime

import pytest

from loyalty.demo import generate
from loyalty.ledger.verification import verify_ledger
from loyalty.models import Customer, Purchase
from tests.factories import LocationFactory, MerchantFactory

pytestmark = pytest.mark.django_db

END = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_demo_data_verifies_and_looks_like_a_cafe(merchant, location):
    summary = generate(merchant, customers=40, months=3, seed=3, end=END)
    assert summary.customers == Customer.objects.filter(merchant=merchant).count() == 40
    assert summary.purchases == Purchase.objects.filter(merchant=merchant).count() > 100
    bills = list(Purchase.objects.filter(merchant=merchant).values_list("bill_amount", flat=True))
    assert min(bills) >= 150 and max(bills) <= 900
    assert not Purchase.objects.filter(created_at__gt=END).exists()
    report = verify_ledger(merchant_id=merchant.pk, now=END)
    assert report.ok, report.problems[:5]


def test_demo_data_is_deterministic_per_seed(db):
    counts = []
    for _ in range(2):
        merchant = MerchantFactory()
        LocationFactory(merchant=merchant)
        summary = generate(merchant, customers=15, months=2, seed=11, end=END)
        counts.append((summary.customers, summary.purchases, summary.redemptions, summary.refunds))
    assert counts[0] == counts[1]
