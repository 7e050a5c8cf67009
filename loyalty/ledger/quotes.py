"""What a purchase would do, computed without writing: discount, cap, points to earn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.exceptions import (
    BelowMinimumBalance,
    CardBlocked,
    CardNotFound,
    InsufficientPoints,
    NegativeBalance,
    RedemptionCapExceeded,
    RedemptionNotAvailable,
)
from loyalty.ledger.batch import Batch, check_count, check_merchant, check_money, local_day_start
from loyalty.ledger.locks import settle
from loyalty.ledger.offers import live_offer, offer_text
from loyalty.models import (
    Card,
    CardOffer,
    OfferKind,
    Purchase,
)
from loyalty.money import percent_of, points_to_money
from loyalty.program.rules import Rules, TierRule
from loyalty.program.services import current_rules


@dataclass(frozen=True)
class Quote:
    """What a purchase of ``bill_amount`` would do. ``points_to_earn`` is for the
    quoted ``redeem_points``; ``earn_if_no_redeem``/``earn_if_max_redeem`` bracket it."""

    bill_amount: Decimal
    discount_percent: Decimal
    discount_amount: Decimal
    amount_after_discount: Decimal
    max_redeem_points: int
    redeem_points: int
    points_amount: Decimal
    amount_to_pay: Decimal
    points_to_earn: int
    earn_if_no_redeem: int
    earn_if_max_redeem: int
    balance: int
    spendable_points: int
    pending_points: int
    tier: str
    rewards_available: int
    stamps: int
    stamps_per_reward: int
    stamp_to_earn: bool
    currency: str
    mechanic: str
    point_value: Decimal
    # The card's offer this purchase would use, as the cashier reads it ("" when none applies).
    offer: str = ""

    def earn_for(self, redeem_points: int) -> int:
        """Points earned if ``redeem_points`` are redeemed (linear bracket is not
        exact under floor rounding, so it is precomputed for the quoted values only)."""
        if redeem_points == self.redeem_points:
            return self.points_to_earn
        if redeem_points == 0:
            return self.earn_if_no_redeem
        if redeem_points == self.max_redeem_points:
            return self.earn_if_max_redeem
        raise ValueError("quote again with this redeem_points")


@dataclass(frozen=True)
class _Calc:
    tier: TierRule | None
    discount_percent: Decimal
    discount_amount: Decimal
    after_discount: Decimal
    max_redeem: int
    points_amount: Decimal
    amount_paid: Decimal
    multiplier: Decimal
    earn: int
    stamp: bool
    # The card's offer for this purchase (loyalty.ledger.offers) and what it adds: its part of
    # the discount and the points above what the purchase would earn without it.
    offer: CardOffer | None = None
    offer_discount: Decimal = Decimal(0)
    offer_points: int = 0

    @property
    def offer_applies(self) -> bool:
        return self.offer is not None and (self.offer_points > 0 or self.offer_discount > 0)


def returning_boost(card: Card, rules: Rules, now: datetime) -> tuple[int, Decimal]:
    """(boosted purchases left after this one, multiplier for this one)."""
    left = card.boosted_purchases_left
    if (
        rules.returning_after_days
        and card.last_purchase_at is not None
        and now - card.last_purchase_at >= timedelta(days=rules.returning_after_days)
    ):
        left = rules.returning_purchases
    if left > 0:
        return left - 1, rules.returning_multiplier
    return 0, Decimal(1)


def _earned_today(card: Card, merchant, now: datetime) -> int:
    """Points the card earned on purchases today and kept: what a refund took
    back does not count towards the daily cap (defect 16)."""
    start = local_day_start(now, merchant.tzinfo)
    total = Purchase.objects.filter(card_id=card.pk, created_at__gte=start, created_at__lte=now).aggregate(
        s=Sum(F("points_earned") - F("points_reversed"))
    )["s"]
    return total or 0


def calculate(
    *,
    merchant,
    card: Card,
    rules: Rules,
    bill: Decimal,
    redeem_points: int,
    now: datetime,
    check: bool,
    offer: CardOffer | None = None,
) -> _Calc:
    tier = rules.tier(card.tier_id)
    discount_percent = rules.discount_percent(tier)
    discount = rules.discount_amount(bill, tier, currency=merchant.currency)
    offer_discount = Decimal(0)
    if offer is not None and offer.kind == OfferKind.DISCOUNT:
        # The offer's percent adds to the tier's, on the whole bill (so the purchase's
        # discount_percent and discount_amount still agree); the offer's part is the difference.
        discount_percent = min(discount_percent + offer.discount_percent, Decimal(100))
        total = percent_of(bill, discount_percent, merchant.currency)
        offer_discount = total - discount
        discount = total
    after = bill - discount
    spendable = card.balance - card.pending_points
    max_redeem = rules.max_redeem_points(after)
    if rules.min_balance_to_redeem and spendable < rules.min_balance_to_redeem:
        max_redeem = 0
    max_redeem = max(0, min(max_redeem, spendable))
    if check and redeem_points:
        if not rules.uses_points:
            raise RedemptionNotAvailable()
        if card.debt > 0 or spendable < 0:
            raise NegativeBalance()
        if rules.min_balance_to_redeem and spendable < rules.min_balance_to_redeem:
            raise BelowMinimumBalance(
                _("At least %(n)d points are needed to redeem.") % {"n": rules.min_balance_to_redeem}
            )
        if redeem_points > spendable:
            raise InsufficientPoints(
                _("The card has %(balance)d points available; %(asked)d were asked for.")
                % {"balance": spendable, "asked": redeem_points}
            )
        if redeem_points > rules.max_redeem_points(after):
            raise RedemptionCapExceeded(
                _("At most %(n)d points can pay for this bill.") % {"n": rules.max_redeem_points(after)}
            )
    points_amount = points_to_money(redeem_points, point_value=rules.point_value, currency=merchant.currency)
    paid = max(Decimal("0.00"), after - points_amount)
    _left, multiplier = returning_boost(card, rules, now)
    earn = 0
    offer_points = 0
    if rules.uses_points and paid > 0 and paid >= rules.min_bill_to_earn:
        # Earning is on the money paid: never on the part paid with points, and
        # the minimum bill to earn is checked against that money too (defect 17).
        # A purchase that crosses a tier threshold earns at the rate of the tier
        # the card is on before it (promotion follows the purchase).
        earn = rules.earn_points(paid, tier, multiplier)
        if offer is not None and offer.kind == OfferKind.MULTIPLIER:
            base = earn
            earn = rules.earn_points(paid, tier, multiplier * offer.multiplier)
            offer_points = earn - base
        if rules.daily_earn_cap is not None and earn:
            left = rules.daily_earn_cap - _earned_today(card, merchant, now)
            # The cap takes the offer's points first: they are counted only as far as they were given.
            offer_points = max(0, min(offer_points, left - (earn - offer_points)))
            earn = max(0, min(earn, left))
    stamp = rules.uses_stamps and bill > 0 and bill >= rules.stamp_min_bill
    return _Calc(
        tier,
        discount_percent,
        discount,
        after,
        max_redeem,
        points_amount,
        paid,
        multiplier,
        earn,
        stamp,
        offer,
        offer_discount,
        offer_points if earn else 0,
    )


def quote(*, merchant, card: Card, bill_amount: Decimal, redeem_points: int = 0, now: datetime | None = None) -> Quote:
    """Read-only: what the purchase would do right now. Raises the same errors
    as ``purchase`` would for this redemption."""
    now = now or timezone.now()
    bill = check_money(bill_amount, field="bill_amount", currency=merchant.currency)
    redeem_points = check_count(redeem_points, field="redeem_points")
    check_merchant(card, merchant, CardNotFound)
    card = Card.objects.get(pk=card.pk)
    if card.is_blocked:
        raise CardBlocked()
    rules = current_rules(merchant=merchant)
    # Settle in memory only, so expired or newly active points show correctly.
    settle(Batch(merchant=merchant, rules=rules, now=now, persist=False), card)
    offer = live_offer(card, now)
    calc = calculate(
        merchant=merchant,
        card=card,
        rules=rules,
        bill=bill,
        redeem_points=redeem_points,
        now=now,
        check=True,
        offer=offer,
    )
    no_redeem = (
        calc
        if redeem_points == 0
        else calculate(
            merchant=merchant, card=card, rules=rules, bill=bill, redeem_points=0, now=now, check=False, offer=offer
        )
    )
    at_max = calculate(
        merchant=merchant,
        card=card,
        rules=rules,
        bill=bill,
        redeem_points=calc.max_redeem,
        now=now,
        check=False,
        offer=offer,
    )
    return Quote(
        bill_amount=bill,
        discount_percent=calc.discount_percent,
        discount_amount=calc.discount_amount,
        amount_after_discount=calc.after_discount,
        max_redeem_points=calc.max_redeem,
        redeem_points=redeem_points,
        points_amount=calc.points_amount,
        amount_to_pay=calc.amount_paid,
        points_to_earn=calc.earn,
        earn_if_no_redeem=no_redeem.earn,
        earn_if_max_redeem=at_max.earn,
        balance=card.balance,
        spendable_points=card.balance - card.pending_points,
        pending_points=card.pending_points,
        tier=calc.tier.name if calc.tier else "",
        rewards_available=card.rewards_available,
        stamps=card.stamps,
        stamps_per_reward=rules.stamps_per_reward,
        stamp_to_earn=calc.stamp,
        currency=merchant.currency,
        mechanic=rules.mechanic,
        point_value=rules.point_value,
        offer=offer_text(offer, applied=False) if offer is not None and calc.offer_applies else "",
    )
