"""Idempotency at the service level: a replay returns the first result and writes nothing."""

from decimal import Decimal

import pytest

from loyalty import ledger
from loyalty.exceptions import DuplicateReceipt, IdempotencyKeyReused
from loyalty.models import LedgerEntry, Lot, Purchase
from tests.loyalty.conftest import fresh

pytestmark = pytest.mark.django_db


def counts():
    return Purchase.objects.count(), LedgerEntry.objects.count(), Lot.objects.count()


def test_replay_returns_the_same_purchase_and_writes_nothing(card, buy, merchant, owner):
    ledger.adjust(merchant=merchant, card=card, points=100, reason="gift", actor=owner)
    first = buy(card, "300", redeem=90, key="K1", receipt="R1")
    before, balance = counts(), fresh(card).balance
    again = buy(card, "300", redeem=90, key="K1", receipt="R1")
    assert again.pk == first.pk and again.replayed and not first.replayed
    assert counts() == before
    assert fresh(card).balance == balance


def test_same_key_different_body_is_refused(card, enroll, buy):
    buy(card, "300", key="K1", receipt="R1")
    before = counts()
    with pytest.raises(IdempotencyKeyReused):
        buy(card, "301", key="K1", receipt="R1")
    with pytest.raises(IdempotencyKeyReused):
        buy(enroll(), "300", key="K1", receipt="R1")
    assert counts() == before


def test_duplicate_receipt_with_a_new_key_is_refused(card, buy):
    buy(card, "300", key="K1", receipt="R1")
    before = counts()
    with pytest.raises(DuplicateReceipt):
        buy(card, "300", key="K2", receipt="R1")
    assert counts() == before


def test_missing_key_is_refused(card, buy):
    from loyalty.exceptions import LoyaltyError

    with pytest.raises(LoyaltyError) as exc:
        ledger.purchase(
            merchant=card.merchant,
            card=card,
            location=None,
            bill_amount=Decimal("1"),
            receipt_id="x",
            idempotency_key=" ",
        )
    assert exc.value.code == "idempotency_key_required"


def test_adjust_replay(card, merchant, owner):
    e1 = ledger.adjust(merchant=merchant, card=card, points=10, reason="x", actor=owner, idempotency_key="A")
    e2 = ledger.adjust(merchant=merchant, card=card, points=10, reason="x", actor=owner, idempotency_key="A")
    assert e1.pk == e2.pk
    assert fresh(card).balance == 10


def test_keys_are_per_merchant(card, buy, other_merchant, location):
    from loyalty.enrollment.services import enroll_customer
    from loyalty.program.services import program_for
    from tests.factories import LocationFactory

    buy(card, "300", key="K1", receipt="R1")
    program_for(merchant=other_merchant)
    other_card = enroll_customer(merchant=other_merchant, phone="+79160000000")
    p = ledger.purchase(
        merchant=other_merchant,
        card=other_card,
        location=LocationFactory(merchant=other_merchant),
        bill_amount=Decimal("300"),
        receipt_id="R1",
        idempotency_key="K1",
    )
    assert not p.replayed and p.merchant_id == other_merchant.pk
