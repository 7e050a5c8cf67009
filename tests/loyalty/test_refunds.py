"""Refunds: partial, after spending (debt), twice, over-refund, restore of redeemed points."""

from datetime import timedelta
from decimal import Decimal

import pytest

from loyalty import ledger
from loyalty.exceptions import PurchaseNotFound, RefundExceedsPurchase
from loyalty.ledger.verification import verify_ledger
from loyalty.models import EntryKind, LedgerEntry, Refund
from tests.loyalty.conftest import T0, fresh

pytestmark = pytest.mark.django_db


def refund(merchant, p, amount=None, key="r1", minutes=10):
    return ledger.refund(
        merchant=merchant,
        purchase=p,
        amount=None if amount is None else Decimal(amount),
        idempotency_key=key,
        now=T0 + timedelta(minutes=minutes),
    )


def test_full_refund_takes_back_earned_points(card, buy, merchant):
    p = buy(card, "1000")  # 50
    r = refund(merchant, p)
    assert (r.amount, r.points_reversed, r.points_restored) == (Decimal("1000.00"), 50, 0)
    card = fresh(card)
    assert (card.balance, card.debt) == (0, 0)
    p.refresh_from_db()
    assert (p.refunded_amount, p.points_reversed) == (Decimal("1000.00"), 50)
    assert verify_ledger().ok


def test_partial_refunds_are_proportional_and_add_up_exactly(card, buy, merchant):
    p = buy(card, "300.00")  # 15 points
    r1 = refund(merchant, p, "100.00", key="a")
    r2 = refund(merchant, p, "100.00", key="b", minutes=11)
    r3 = refund(merchant, p, "100.00", key="c", minutes=12)
    assert [r1.points_reversed, r2.points_reversed, r3.points_reversed] == [5, 5, 5]
    assert fresh(card).balance == 0
    with pytest.raises(RefundExceedsPurchase):
        refund(merchant, p, "0.01", key="d", minutes=13)


def test_partial_refund_rounds_running_totals(card, buy, merchant):
    p = buy(card, "290.00")  # 14 points
    assert refund(merchant, p, "145.00", key="a").points_reversed == 7
    assert refund(merchant, p, "45.00", key="b").points_reversed == 2  # floor(14·190/290)=9 → 9−7
    assert refund(merchant, p, None, key="c").points_reversed == 5  # the rest, exactly
    assert fresh(card).balance == 0


def test_refund_gives_redeemed_points_back_in_proportion(card, buy, merchant, owner):
    ledger.adjust(merchant=merchant, card=card, points=100, reason="gift", actor=owner, now=T0)
    p = buy(card, "300.00", redeem=90)  # pays 210, earns 10 → balance 20
    assert fresh(card).balance == 20
    r = refund(merchant, p, "150.00")  # half
    assert (r.points_reversed, r.points_restored) == (5, 45)
    assert fresh(card).balance == 20 - 5 + 45
    r = refund(merchant, p, None, key="r2")
    assert (r.points_reversed, r.points_restored) == (5, 45)
    assert fresh(card).balance == 100
    assert LedgerEntry.objects.filter(purchase=p, kind=EntryKind.REFUND_RESTORE).count() == 2
    assert verify_ledger().ok


def test_refund_after_points_were_spent_goes_negative_and_later_earns_repay(card, buy, merchant):
    p = buy(card, "1000")  # 50
    buy(card, "500", redeem=50, now=T0 + timedelta(minutes=1))  # spends all 50, earns 22
    assert fresh(card).balance == 22
    r = refund(merchant, p, key="r")
    assert r.points_reversed == 50  # recorded in full
    card = fresh(card)
    assert (card.balance, card.debt) == (-28, 28)
    # The reversal took the 22 that were left, the rest is debt (an entry without a lot).
    assert LedgerEntry.objects.get(refund=r, lot__isnull=True).points == -28
    assert verify_ledger().ok
    # A later earn repays the debt before anything becomes spendable.
    buy(card, "1000", now=T0 + timedelta(minutes=20))  # +50
    card = fresh(card)
    assert (card.balance, card.debt, card.spendable_points) == (22, 0, 22)
    assert LedgerEntry.objects.filter(kind=EntryKind.DEBT_REPAYMENT).count() == 2
    assert verify_ledger().ok


def test_refund_twice_with_the_same_key_refunds_once(card, buy, merchant):
    p = buy(card, "1000")
    r1 = refund(merchant, p, "400", key="same")
    r2 = refund(merchant, p, "400", key="same")
    assert r1.pk == r2.pk and r2.replayed
    assert Refund.objects.count() == 1
    p.refresh_from_db()
    assert p.refunded_amount == Decimal("400.00")


def test_full_refund_twice_with_new_keys_is_refused(card, buy, merchant):
    p = buy(card, "1000")
    refund(merchant, p, key="one")
    with pytest.raises(RefundExceedsPurchase):
        refund(merchant, p, key="two")
    assert Refund.objects.count() == 1


def test_over_refund_is_refused_and_changes_nothing(card, buy, merchant):
    p = buy(card, "1000")
    with pytest.raises(RefundExceedsPurchase):
        refund(merchant, p, "1000.01")
    refund(merchant, p, "999.99", key="ok")
    with pytest.raises(RefundExceedsPurchase):
        refund(merchant, p, "0.02", key="too-much")
    p.refresh_from_db()
    assert p.refunded_amount == Decimal("999.99")
    assert Refund.objects.count() == 1


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1.001"])
def test_bad_refund_amounts(card, buy, merchant, amount):
    from loyalty.exceptions import InvalidAmount

    p = buy(card, "1000")
    with pytest.raises(InvalidAmount):
        ledger.refund(merchant=merchant, purchase=p, amount=amount, idempotency_key="x")
    assert not Refund.objects.exists()


def test_other_merchants_purchase_is_not_found(card, buy, other_merchant):
    p = buy(card, "1000")
    with pytest.raises(PurchaseNotFound):
        ledger.refund(merchant=other_merchant, purchase=p, idempotency_key="x")


def test_full_refund_takes_back_the_stamp_and_gives_rewards_back(card, buy, rules, merchant):
    rules(mechanic="stamps", stamps_per_reward=3)  # every 3rd visit free: a reward per 2 stamps
    buy(card, "200")
    buy(card, "200")
    p = buy(card, "300", rewards=1)
    card = fresh(card)
    assert (card.stamps, card.rewards_available) == (1, 0)
    refund(merchant, p)
    card = fresh(card)
    assert (card.stamps, card.rewards_available) == (0, 1)
    assert verify_ledger().ok


# --- defect 13: expired points are not taken a second time ---------------------------------

DAY = 24 * 60  # minutes


def _expired_then_spent(card, buy, rules):
    """Cashback 5 %, expiry 30 days. A earns 50 (expiring first); an unrelated
    purchase earns 48; 30 points pay a bill of 30 (from A's lot, the earliest
    to expire; nothing earned on it); A's other 20 expire on day 31."""
    rules(points_expiry_days=30, max_redeem_percent=100)
    a = buy(card, "1000")
    other = buy(card, "960", now=T0 + timedelta(days=10))
    spend = buy(card, "30", redeem=30, now=T0 + timedelta(days=20))
    assert (a.points_earned, other.points_earned, spend.points_earned) == (50, 48, 0)
    return a, other


def test_full_refund_after_part_expired_takes_back_only_what_was_spent(card, buy, merchant, rules):
    a, other = _expired_then_spent(card, buy, rules)
    r = refund(merchant, a, minutes=35 * DAY)
    # Of A's 50: 30 were spent (clawed back), 20 expired (already gone).
    assert r.points_reversed == 30
    card = fresh(card)
    assert (card.balance, card.debt) == (18, 0)  # 48 − 30
    assert other.lots.get().remaining == 18
    assert LedgerEntry.objects.get(card=card, kind=EntryKind.EXPIRY).points == -20
    a.refresh_from_db()
    assert a.points_reversed == 30
    assert verify_ledger().ok


def test_partial_refunds_after_part_expired_add_up_to_what_was_spent(card, buy, merchant, rules):
    a, _other = _expired_then_spent(card, buy, rules)
    # Half the bill: half of 50 is 25, within the 30 still to claw back; the rest: 5 more.
    assert refund(merchant, a, "500.00", key="a", minutes=35 * DAY).points_reversed == 25
    assert refund(merchant, a, None, key="b", minutes=36 * DAY).points_reversed == 5
    assert (fresh(card).balance, fresh(card).debt) == (18, 0)
    assert verify_ledger().ok
