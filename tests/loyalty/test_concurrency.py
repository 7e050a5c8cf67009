"""32 threads redeeming and accruing on one card at once, on real PostgreSQL."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from loyalty import ledger
from loyalty.enrollment.services import enroll_customer
from loyalty.exceptions import InsufficientPoints, LoyaltyError
from loyalty.ledger.verification import verify_ledger
from loyalty.models import Card, Purchase, Refund
from loyalty.program.services import program_for, save_program

THREADS = 32


def run_threads(target, n=THREADS):
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def worker(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


@pytest.fixture
def setup(merchant, location, owner):
    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, welcome_bonus=0, max_redeem_percent=Decimal("100"))
    card = enroll_customer(merchant=merchant, phone="+79161112233", location=location)
    ledger.adjust(merchant=merchant, card=card, points=1000, reason="start", actor=owner)
    return card


@pytest.mark.django_db(transaction=True)
def test_32_threads_redeem_and_accrue_on_one_card(setup, merchant, location):
    card = setup
    assert connection.vendor == "postgresql"

    def work(i):
        # Even threads redeem 100 on a 100 bill (paid fully with points, earns 0);
        # odd threads buy 1000 without redeeming (earns 50).
        redeem = 100 if i % 2 == 0 else 0
        try:
            return ledger.purchase(
                merchant=merchant,
                card=Card.objects.get(pk=card.pk),
                location=location,
                bill_amount=Decimal("100") if redeem else Decimal("1000"),
                redeem_points=redeem,
                receipt_id=f"R{i}",
                idempotency_key=f"K{i}",
            )
        except InsufficientPoints:
            return "insufficient"

    results, errors = run_threads(work)
    assert errors == []
    purchases = [r for r in results if isinstance(r, Purchase)]
    card.refresh_from_db()
    redeemed = sum(p.points_redeemed for p in purchases)
    earned = sum(p.points_earned for p in purchases)
    # Each purchase earns at the tier the card had before it: 5 % (Bronze) until
    # the running spend (the 100 bills paid with points count too) reaches
    # Silver's 10 000, then 7 %. Purchases are inserted under the card lock, so
    # their ids give the order the threads were served in.
    assert len([p for p in purchases if p.points_redeemed == 0]) == 16
    spend = Decimal(0)
    for p in sorted(purchases, key=lambda p: p.pk):
        rate = Decimal("0.07") if spend >= 10_000 else Decimal("0.05")
        assert p.points_earned == (0 if p.points_redeemed else int(p.amount_paid * rate)), (p.pk, spend)
        spend += p.bill_amount
    assert card.balance == 1000 + earned - redeemed
    assert card.balance >= 0 and card.debt == 0
    assert redeemed <= 1000 + earned
    report = verify_ledger()
    assert report.ok, report.problems


@pytest.mark.django_db(transaction=True)
def test_concurrent_same_key_writes_once(setup, merchant, location):
    card = setup

    def work(i):
        return ledger.purchase(
            merchant=merchant,
            card=Card.objects.get(pk=card.pk),
            location=location,
            bill_amount=Decimal("300"),
            redeem_points=90,
            receipt_id="SAME",
            idempotency_key="SAME-KEY",
        )

    results, errors = run_threads(work, 16)
    assert errors == []
    assert len({p.pk for p in results}) == 1
    assert sum(1 for p in results if not p.replayed) == 1
    assert Purchase.objects.count() == 1
    card.refresh_from_db()
    assert card.balance == 1000 - 90 + 10
    assert verify_ledger().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_never_exceed_the_purchase(setup, merchant, location):
    card = setup
    p = ledger.purchase(
        merchant=merchant,
        card=card,
        location=location,
        bill_amount=Decimal("1000"),
        receipt_id="R",
        idempotency_key="K",
    )

    def work(i):
        try:
            return ledger.refund(
                merchant=merchant,
                purchase=Purchase.objects.get(pk=p.pk),
                amount=Decimal("300"),
                idempotency_key=f"r{i}",
            )
        except LoyaltyError as exc:
            return exc.code

    results, errors = run_threads(work, 16)
    assert errors == []
    assert sum(1 for r in results if isinstance(r, Refund)) == 3  # 3 × 300 ≤ 1000 < 4 × 300
    assert results.count("refund_exceeds_purchase") == 13
    p.refresh_from_db()
    assert p.refunded_amount == Decimal("900.00")
    assert verify_ledger().ok
