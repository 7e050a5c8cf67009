"""Each mechanic and every guard, through the ledger service."""

from datetime import timedelta
from decimal import Decimal

import pytest

from loyalty import ledger
from loyalty.exceptions import (
    BelowMinimumBalance,
    CardBlocked,
    InsufficientPoints,
    InsufficientRewards,
    InvalidAmount,
    InvalidProgram,
    NegativeBalance,
    RedemptionCapExceeded,
    RedemptionNotAvailable,
)
from loyalty.models import EntryKind, LedgerEntry, Purchase
from tests.loyalty.conftest import T0, fresh

pytestmark = pytest.mark.django_db


def give(merchant, owner, card, points):
    ledger.adjust(merchant=merchant, card=card, points=points, reason="test top-up", actor=owner, now=T0)
    return fresh(card)


# --- points ---------------------------------------------------------------------------------


def test_points_mechanic_earns_per_currency_unit_rounded_down(card, buy, rules):
    rules(mechanic="points", points_per_unit=Decimal("0.1"))  # 1 point per 10 RUB
    p = buy(card, "259.90")
    assert p.points_earned == 25
    assert fresh(card).balance == 25
    entry = LedgerEntry.objects.get(purchase=p, kind=EntryKind.EARN)
    assert entry.points == 25 and entry.lot.points == 25


def test_points_redeem_at_point_value(card, buy, rules, merchant, owner):
    rules(mechanic="points", points_per_unit=Decimal("1"), point_value=Decimal("0.50"), max_redeem_percent=50)
    give(merchant, owner, card, 200)
    p = buy(card, "100.00", redeem=100)  # 100 points × 0.50 = 50 RUB, the 50 % cap exactly
    assert p.points_amount == Decimal("50.00")
    assert p.amount_paid == Decimal("50.00")
    assert p.points_earned == 50  # only on the 50 RUB paid in money
    assert fresh(card).balance == 200 - 100 + 50
    with pytest.raises(RedemptionCapExceeded):
        buy(card, "100.00", redeem=101)


# --- cashback ---------------------------------------------------------------------------------


def test_cashback_percent_of_paid_amount(card, buy, rules):
    rules(cashback_percent=Decimal("5"))
    assert buy(card, "299.99").points_earned == 14
    assert buy(card, "1000").points_earned == 50


def test_no_earning_on_the_part_paid_with_points(card, buy, merchant, owner):
    give(merchant, owner, card, 100)
    p = buy(card, "300.00", redeem=90)  # 30 % cap of 300 = 90
    assert p.amount_paid == Decimal("210.00")
    assert p.points_earned == 10  # 5 % of 210 = 10.5 → 10
    assert fresh(card).balance == 100 - 90 + 10


# --- stamps -----------------------------------------------------------------------------------


def test_stamps_every_nth_visit_gives_a_reward_and_rewards_accumulate(card, buy, rules):
    rules(mechanic="stamps", stamps_per_reward=4, stamp_min_bill=Decimal("150"))  # every 4th visit free: 3 stamps
    buy(card, "149.99")  # below the minimum: no stamp
    assert fresh(card).stamps == 0
    for _ in range(7):
        buy(card, "200")
    card = fresh(card)
    assert (card.stamps, card.rewards_available, card.balance) == (1, 2, 0)
    kinds = list(LedgerEntry.objects.filter(card=card).values_list("kind", flat=True))
    assert kinds.count(EntryKind.STAMP) == 7 and kinds.count(EntryKind.REWARD_EARNED) == 2


def test_stamp_rewards_are_redeemed_at_the_till(card, buy, rules):
    rules(mechanic="stamps", stamps_per_reward=3)  # every 3rd visit free: a reward per 2 stamps
    for _ in range(4):
        buy(card, "200")
    assert fresh(card).rewards_available == 2
    p = buy(card, "0", rewards=2)  # two free coffees, nothing else bought
    assert p.rewards_redeemed == 2 and p.stamps_earned == 0
    assert fresh(card).rewards_available == 0
    with pytest.raises(InsufficientRewards):
        buy(card, "100", rewards=1)


def test_stamps_expire_after_days_without_a_visit(card, buy, rules, merchant):
    from loyalty.ledger.jobs import settle_due_cards

    rules(mechanic="stamps", stamps_per_reward=6, stamp_expiry_days=30)
    buy(card, "200")
    buy(card, "200", now=T0 + timedelta(days=10))
    assert settle_due_cards(merchant=merchant, now=T0 + timedelta(days=39)) == 0
    assert fresh(card).stamps == 2
    settle_due_cards(merchant=merchant, now=T0 + timedelta(days=40))
    assert fresh(card).stamps == 0
    assert LedgerEntry.objects.get(card=card, kind=EntryKind.STAMP_EXPIRY).stamps == -2
    # Rerunning writes nothing more.
    settle_due_cards(merchant=merchant, now=T0 + timedelta(days=41))
    assert LedgerEntry.objects.filter(card=card, kind=EntryKind.STAMP_EXPIRY).count() == 1


def test_points_cannot_be_redeemed_in_stamps_program(card, buy, rules):
    rules(mechanic="stamps")
    with pytest.raises(RedemptionNotAvailable):
        buy(card, "200", redeem=1)


# --- tiered discount ----------------------------------------------------------------------------


def test_tiered_discount_gives_the_tier_discount_and_no_points(card, buy, rules, merchant):
    rules(mechanic="discount")  # Bronze 3 %, Silver 5 %, Gold 10 % by default
    p = buy(card, "333.33")
    assert p.discount_percent == Decimal("3")
    assert p.discount_amount == Decimal("10.00")
    assert p.amount_paid == Decimal("323.33")
    assert p.points_earned == 0
    assert fresh(card).balance == 0
    q = ledger.quote(merchant=merchant, card=fresh(card), bill_amount=Decimal("1000"))
    assert (q.discount_amount, q.max_redeem_points, q.points_to_earn) == (Decimal("30.00"), 0, 0)


# --- guards ----------------------------------------------------------------------------------------


def test_max_share_of_bill_payable_by_points(card, buy, merchant, owner):
    give(merchant, owner, card, 1000)
    q = ledger.quote(merchant=merchant, card=fresh(card), bill_amount=Decimal("333.33"))
    assert q.max_redeem_points == 99  # 30 % of 333.33 = 99.999 → 99
    with pytest.raises(RedemptionCapExceeded):
        buy(card, "333.33", redeem=100)
    assert buy(card, "333.33", redeem=99).points_redeemed == 99


def test_redeem_more_than_balance(card, buy, merchant, owner):
    give(merchant, owner, card, 50)
    with pytest.raises(InsufficientPoints):
        buy(card, "1000", redeem=51)
    assert fresh(card).balance == 50
    assert not Purchase.objects.exists()


def test_min_bill_to_earn(card, buy, rules):
    rules(min_bill_to_earn=Decimal("200"))
    assert buy(card, "199.99").points_earned == 0
    assert buy(card, "200.00").points_earned == 10


def test_min_balance_to_redeem(card, buy, rules, merchant, owner):
    rules(min_balance_to_redeem=100)
    give(merchant, owner, card, 99)
    assert ledger.quote(merchant=merchant, card=fresh(card), bill_amount=Decimal("1000")).max_redeem_points == 0
    with pytest.raises(BelowMinimumBalance):
        buy(card, "1000", redeem=10)
    give(merchant, owner, card, 1)
    assert buy(card, "1000", redeem=10).points_redeemed == 10


def test_daily_earn_cap_per_card_in_merchant_local_day(card, buy, rules):
    rules(daily_earn_cap=60)
    # T0 is 12:00 in Moscow; the local day ends at 21:00 UTC.
    assert buy(card, "1000").points_earned == 50
    assert buy(card, "1000", now=T0 + timedelta(hours=1)).points_earned == 10
    assert buy(card, "1000", now=T0 + timedelta(hours=2)).points_earned == 0
    assert buy(card, "1000", now=T0 + timedelta(hours=12)).points_earned == 50  # next day in Moscow


def test_activation_delay_keeps_points_pending_then_spendable(card, buy, rules, merchant):
    from loyalty.ledger.jobs import settle_due_cards

    rules(activation_delay_hours=24)
    buy(card, "1000")
    card = fresh(card)
    assert (card.balance, card.pending_points, card.spendable_points) == (50, 50, 0)
    with pytest.raises(InsufficientPoints):
        buy(card, "1000", redeem=10, now=T0 + timedelta(hours=23))
    # The purchase itself activates what is due, even before the job runs.
    assert buy(card, "1000", redeem=10, now=T0 + timedelta(hours=24)).points_redeemed == 10
    card = fresh(card)
    assert card.pending_points == 49  # the new purchase's 49 points wait their turn
    settle_due_cards(merchant=merchant, now=T0 + timedelta(hours=48), pending_only=True)
    assert fresh(card).pending_points == 0


def test_refund_within_activation_delay_takes_pending_points_back_cleanly(card, buy, rules, merchant):
    rules(activation_delay_hours=24)
    p = buy(card, "1000")
    ledger.refund(merchant=merchant, purchase=p, idempotency_key="r", now=T0 + timedelta(hours=1))
    card = fresh(card)
    assert (card.balance, card.pending_points, card.debt) == (0, 0, 0)
    assert p.lots.get().remaining == 0


def test_blocked_card_cannot_buy_or_quote(card, buy, merchant, owner):
    ledger.set_card_blocked(merchant=merchant, card=card, blocked=True, reason="lost", actor=owner)
    with pytest.raises(CardBlocked):
        buy(card, "100")
    with pytest.raises(CardBlocked):
        ledger.quote(merchant=merchant, card=card, bill_amount=Decimal("100"))


@pytest.mark.parametrize("bill", ["-1", "abc", "1.001", "NaN", "Infinity", "0", "100000000000"])
def test_bad_bill_amounts_are_refused_and_write_nothing(card, buy, bill):
    with pytest.raises(InvalidAmount) as exc:
        buy(card, bill)
    assert exc.value.field == "bill_amount"
    assert not Purchase.objects.exists() and not LedgerEntry.objects.filter(card=card).exists()


@pytest.mark.parametrize("redeem", [-1, 1.5, "10", True])
def test_bad_redeem_points_are_refused(card, buy, redeem):
    with pytest.raises(InvalidAmount):
        buy(card, "100", redeem=redeem)


def test_negative_balance_blocks_redemption_until_repaid(card, buy, merchant, owner):
    p = buy(card, "1000")  # 50
    buy(card, "200", redeem=50, now=T0 + timedelta(minutes=1))  # spends them, earns 7
    ledger.refund(merchant=merchant, purchase=p, idempotency_key="r", now=T0 + timedelta(minutes=2))
    card = fresh(card)
    assert (card.balance, card.debt) == (-43, 43)
    with pytest.raises(NegativeBalance):
        buy(card, "1000", redeem=1, now=T0 + timedelta(minutes=3))


# --- defects 15–18: hand-computed answers -------------------------------------------------------


def test_free_item_paid_with_a_reward_has_a_bill_of_zero_and_nothing_else(card, buy, rules):
    """Defect 15 at the ledger: 0.00 is allowed only when rewards are redeemed;
    points can neither pay for it nor be earned on it."""
    rules(mechanic="stamps", stamps_per_reward=2)
    buy(card, "200")  # the 1st visit, paid: its stamp completes the set (every 2nd visit is free)
    assert fresh(card).rewards_available == 1
    with pytest.raises(InvalidAmount) as refused:
        buy(card, "0.00")
    assert refused.value.field == "bill_amount" and "0.00" in refused.value.message
    with pytest.raises(InvalidAmount) as refused:
        buy(card, "0.00", rewards=1, redeem=1)
    assert refused.value.field == "redeem_points"
    p = buy(card, "0.00", rewards=1)  # the 2nd visit: free
    assert (p.rewards_redeemed, p.stamps_earned, p.points_earned, p.amount_paid) == (1, 0, 0, Decimal("0.00"))


def test_daily_earn_cap_counts_only_what_was_kept(card, buy, rules, merchant):
    """Defect 16: cap 50; buy 1000 (+50), refund it in full, buy 1000 again → +50 (it was 0)."""
    rules(daily_earn_cap=50)
    p = buy(card, "1000")
    assert p.points_earned == 50
    ledger.refund(merchant=merchant, purchase=p, idempotency_key="r", now=T0 + timedelta(minutes=1))
    again = buy(card, "1000", now=T0 + timedelta(minutes=2))
    assert again.points_earned == 50
    # A partial refund gives back only its part of the cap: 50 − 20 reversed = 30 kept → 20 more today.
    ledger.refund(
        merchant=merchant, purchase=again, amount=Decimal("400"), idempotency_key="r2", now=T0 + timedelta(minutes=3)
    )
    assert buy(card, "1000", now=T0 + timedelta(minutes=4)).points_earned == 20
    assert fresh(card).balance == 50


def test_min_bill_to_earn_is_checked_against_the_money_paid(card, buy, rules, merchant, owner):
    """Defect 17: minimum 100; bill 120 with 36 points (the 30 % cap) pays 84 money → earns 0 (it was 4)."""
    rules(min_bill_to_earn=Decimal("100"))
    give(merchant, owner, card, 36)
    q = ledger.quote(merchant=merchant, card=fresh(card), bill_amount=Decimal("120"), redeem_points=36)
    assert (q.amount_to_pay, q.points_to_earn, q.earn_if_no_redeem) == (Decimal("84.00"), 0, 6)
    p = buy(card, "120.00", redeem=36)
    assert (p.amount_paid, p.points_earned) == (Decimal("84.00"), 0)
    assert buy(card, "120.00").points_earned == 6  # 120 paid in money: 5 % of 120


def test_crossing_purchase_earns_the_old_tiers_rate_in_quote_and_purchase(card, buy, merchant):
    """Defect 18: Bronze 5 % below 30 000, Gold 10 % from 30 000. The purchase of
    30 000 that crosses the threshold earns Bronze's 5 % (1 500, not 3 000), and
    the quote says the same before it; the card is Gold after it."""
    q = ledger.quote(merchant=merchant, card=fresh(card), bill_amount=Decimal("30000"))
    assert (q.tier, q.points_to_earn) == ("Бронза", 1500)
    p = buy(card, "30000")
    assert p.points_earned == q.points_to_earn == 1500
    assert fresh(card).tier.name == "Золото"
    q = ledger.quote(merchant=merchant, card=fresh(card), bill_amount=Decimal("1000"))
    assert (q.tier, q.points_to_earn) == ("Золото", 100)


def test_every_6th_visit_is_free_means_buy_5_the_6th_is_free(card, buy, rules, merchant, owner):
    """Defect 14: "every N-th visit is a reward" with N = 6: five paid coffees, the
    sixth free; then the count starts again (visits 7–11 paid, the 12th free)."""
    rules(mechanic="stamps", stamps_per_reward=6)
    for visit in range(1, 5):
        buy(card, "200", now=T0 + timedelta(days=visit))
        assert (fresh(card).stamps, fresh(card).rewards_available) == (visit, 0)
    buy(card, "200", now=T0 + timedelta(days=5))  # the 5th paid visit completes the set
    assert (fresh(card).stamps, fresh(card).rewards_available) == (0, 1)
    free = buy(card, "0.00", rewards=1, now=T0 + timedelta(days=6))  # the 6th: free
    assert (free.rewards_redeemed, free.stamps_earned) == (1, 0)
    for visit in range(7, 12):
        buy(card, "200", now=T0 + timedelta(days=visit))
    assert (fresh(card).stamps, fresh(card).rewards_available) == (0, 1)  # the 12th is free
    q = ledger.quote(merchant=merchant, card=fresh(card), bill_amount=Decimal("200"))
    assert (q.stamps, q.stamps_per_reward, q.rewards_available) == (0, 6, 1)
    with pytest.raises(InvalidProgram) as refused:
        rules(stamps_per_reward=1)  # "every visit is free" is not a loyalty program
    assert "stamps_per_reward" in refused.value.errors
