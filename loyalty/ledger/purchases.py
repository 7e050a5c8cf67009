"""Purchases: earning and redeeming on a bill, and the referral it may complete."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.exceptions import (
    CardBlocked,
    CardNotFound,
    DuplicateReceipt,
    IdempotencyKeyReused,
    InsufficientRewards,
    InvalidAmount,
    LoyaltyError,
)
from loyalty.ledger.batch import (
    MAX_RECEIPT_LENGTH,
    Batch,
    check_count,
    check_key,
    check_merchant,
    check_money,
    expiry_for,
)
from loyalty.ledger.locks import card_rules, lock_cards, settle, spendable_lots
from loyalty.ledger.offers import live_offer, use_offer
from loyalty.ledger.quotes import calculate, returning_boost
from loyalty.ledger.rows import new_row
from loyalty.ledger.tiers import promote
from loyalty.models import (
    Card,
    Customer,
    EntryKind,
    Purchase,
)


def purchase(
    *,
    merchant,
    card: Card,
    location,
    bill_amount: Decimal,
    redeem_points: int = 0,
    redeem_rewards: int = 0,
    receipt_id: str,
    idempotency_key: str,
    actor=None,
    api_key=None,
    now: datetime | None = None,
) -> Purchase:
    """One atomic purchase: optional redemption of points or rewards, then
    accrual (points or a stamp), tier promotion, referral completion and the
    returning-customer multiplier. A replay of ``idempotency_key`` returns the
    first Purchase and writes nothing; the same key with different details
    raises IdempotencyKeyReused."""
    now = now or timezone.now()
    bill = check_money(bill_amount, field="bill_amount", currency=merchant.currency)
    redeem_points = check_count(redeem_points, field="redeem_points")
    redeem_rewards = check_count(redeem_rewards, field="redeem_rewards")
    key = check_key(idempotency_key)
    receipt_id = (receipt_id or "").strip()
    if not receipt_id:
        raise LoyaltyError(_("A receipt number is required."), code="receipt_required", field="receipt_id")
    if len(receipt_id) > MAX_RECEIPT_LENGTH:
        raise LoyaltyError(_("The receipt number is too long."), code="invalid", field="receipt_id")
    # A bill of 0.00 is a free item paid with a reward, nothing else: no
    # points are earned on it and none can pay for it.
    if bill == 0 and not redeem_rewards:
        raise InvalidAmount(
            _("The bill must be greater than zero; it can be 0.00 only when a reward pays for the purchase."),
            field="bill_amount",
        )
    if bill == 0 and redeem_points:
        raise InvalidAmount(_("Points cannot pay a bill of 0.00."), field="redeem_points")
    if location is not None and location.merchant_id != merchant.pk:
        raise LoyaltyError(_("Unknown location."), code="location_not_found", field="location")
    check_merchant(card, merchant, CardNotFound)
    request = {
        "card_id": card.pk,
        "bill_amount": bill,
        "points_redeemed": redeem_points,
        "rewards_redeemed": redeem_rewards,
        "receipt_id": receipt_id,
    }
    try:
        return _purchase(
            merchant=merchant,
            card=card,
            location=location,
            bill=bill,
            redeem_points=redeem_points,
            redeem_rewards=redeem_rewards,
            receipt_id=receipt_id,
            key=key,
            actor=actor,
            api_key=api_key,
            now=now,
            request=request,
        )
    except (IntegrityError, LoyaltyError) as exc:
        # The key is not looked up before the work (that would cost every
        # purchase a query). A replay either trips the unique constraint on
        # (merchant, idempotency_key) — also when a concurrent call with the
        # key commits while we wait — or fails a rule the first call passed
        # (its points are spent now). Either way nothing was written, and the
        # first purchase is returned here.
        existing = Purchase.objects.filter(merchant=merchant, idempotency_key=key).select_related("card").first()
        if existing is not None:
            return _replayed(existing, request)
        if (
            isinstance(exc, IntegrityError)
            and Purchase.objects.filter(merchant=merchant, receipt_id=receipt_id).exists()
        ):
            raise DuplicateReceipt()
        raise


def _replayed(existing: Purchase, request: dict) -> Purchase:
    if any(getattr(existing, name) != value for name, value in request.items()):
        raise IdempotencyKeyReused()
    existing.replayed = True
    return existing


def _purchase(
    *, merchant, card, location, bill, redeem_points, redeem_rewards, receipt_id, key, actor, api_key, now, request
) -> Purchase:
    # A first purchase may complete a referral, which credits the referrer's
    # card too: find out before locking so both are locked together in pk order.
    # (purchase_count only grows, so a stale "0" at worst locks one card more.)
    referral = None
    if card.purchase_count == 0:
        referral = (
            Customer.objects.filter(pk=card.customer_id, referred_by__isnull=False, referral_completed_at__isnull=True)
            .values("referred_by_id")
            .first()
        )
    referrer_card_id = None
    if referral:
        referrer_card_id = (
            Card.objects.filter(merchant=merchant, customer_id=referral["referred_by_id"])
            .values_list("pk", flat=True)
            .first()
        )

    with transaction.atomic():
        locked = lock_cards(merchant, [card.pk] + ([referrer_card_id] if referrer_card_id else []))
        card = locked.get(card.pk)
        if card is None:
            raise CardNotFound()
        if card.is_blocked:
            raise CardBlocked()
        # A duplicate receipt trips purchase_receipt_unique below and is
        # reported by purchase() (checking first would cost every purchase a query).
        rules = card_rules(merchant, card)
        batch = Batch(merchant=merchant, rules=rules, now=now, actor=actor, api_key=api_key)
        settle(batch, card)
        if redeem_rewards > card.rewards_available:
            raise InsufficientRewards(_("The card has %(n)d rewards available.") % {"n": card.rewards_available})
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
        p = new_purchase(
            merchant=merchant,
            card=card,
            location=location,
            rules=rules,
            calc=calc,
            bill=bill,
            redeem_points=redeem_points,
            redeem_rewards=redeem_rewards,
            receipt_id=receipt_id,
            key=key,
            actor=actor,
            api_key=api_key,
            now=now,
        )
        p.save(force_insert=True)
        first_purchase = apply_purchase(
            batch, card, p, calc, redeem_points=redeem_points, redeem_rewards=redeem_rewards, key=key
        )
        promote(batch, card, p)
        if first_purchase:
            _complete_referral(batch, card, locked.get(referrer_card_id) if referrer_card_id else None, p)
        batch.write()
        if offer is not None and calc.offer_applies:
            use_offer(card=card, offer=offer, purchase=p, extra_points=calc.offer_points, discount=calc.offer_discount)
    p.card = card
    p.replayed = False
    return p


def new_purchase(
    *, merchant, card, location, rules, calc, bill, redeem_points, redeem_rewards, receipt_id, key, actor, api_key, now
) -> Purchase:
    """The purchase row, not saved yet (the general path saves it through the
    ORM, ``quick_purchase`` with its own statement)."""
    return new_row(
        Purchase,
        merchant=merchant,
        card=card,
        location=location,
        receipt_id=receipt_id,
        currency=merchant.currency,
        bill_amount=bill,
        discount_percent=calc.discount_percent,
        discount_amount=calc.discount_amount,
        points_redeemed=redeem_points,
        points_amount=calc.points_amount,
        amount_paid=calc.amount_paid,
        points_earned=calc.earn,
        stamps_earned=1 if calc.stamp else 0,
        rewards_redeemed=redeem_rewards,
        program_version_id=rules.version_id,
        idempotency_key=key,
        actor=actor,
        api_key=api_key,
        created_at=now,
    )


def apply_purchase(batch: Batch, card: Card, p: Purchase, calc, *, redeem_points, redeem_rewards, key) -> bool:
    """The purchase's entries and counters, into ``batch``: redemption, the
    earned lot (repaying debt first), stamps and rewards, the visit counters and
    the returning-customer boost. Shared by the general path and
    ``quick_purchase``, so the earning rules live here once. Returns whether
    this was the card's first purchase (a referral may complete)."""
    rules, now, merchant = batch.rules, batch.now, batch.merchant
    boosted_left, _multiplier = returning_boost(card, rules, now)
    card.lifetime_spend += p.bill_amount
    pkey = f"purchase:{key}"
    if redeem_points:
        batch.debit(
            card,
            EntryKind.REDEEM,
            redeem_points,
            spendable_lots(batch, card),
            key=f"{pkey}:redeem",
            allow_debt=False,
            purchase=p,
        )
    if calc.earn:
        batch.credit(
            card,
            EntryKind.EARN,
            calc.earn,
            key=f"{pkey}:earn",
            purchase=p,
            expires_at=expiry_for(now, rules.points_expiry_days, merchant.tzinfo),
            available_at=now + timedelta(hours=rules.activation_delay_hours),
            reason=_earn_reason(calc),
        )
    if redeem_rewards:
        batch.entry(card, EntryKind.REWARD_REDEEM, rewards=-redeem_rewards, key=f"{pkey}:reward", purchase=p)
    if calc.stamp:
        batch.entry(card, EntryKind.STAMP, stamps=1, key=f"{pkey}:stamp", purchase=p)
        card.last_stamp_at = now
        # "Every N-th visit is free": the stamp of the (N − 1)-th paid visit
        # completes the set, and the reward pays for the next visit.
        if card.stamps >= rules.stamps_to_reward:
            batch.entry(
                card,
                EntryKind.REWARD_EARNED,
                stamps=-rules.stamps_to_reward,
                rewards=1,
                key=f"{pkey}:reward-earned",
                purchase=p,
            )

    first_purchase = card.purchase_count == 0
    card.purchase_count += 1
    card.last_purchase_at = max(now, card.last_purchase_at) if card.last_purchase_at else now
    card.boosted_purchases_left = boosted_left
    batch.changed_cards[card.pk] = card
    return first_purchase


def _earn_reason(calc) -> str:
    parts = []
    if calc.multiplier != 1:
        parts.append(f"returning customer ×{calc.multiplier}")
    if calc.offer_applies and calc.offer_points:
        # The offer's points ride on the earn entry (a refund takes them back with it); the offer
        # row (CardOffer.purchase, extra_points) is the record its giver reports from.
        parts.append(f"offer ×{calc.offer.multiplier.normalize()}: +{calc.offer_points} ({calc.offer.source})")
    return "; ".join(parts)


def _complete_referral(batch: Batch, card: Card, referrer_card: Card | None, p: Purchase) -> None:
    """After a referred friend's first purchase: a bonus for the friend and, up
    to the cap, for the referrer. Marked on the friend's row so it happens once."""
    # No lock needed on the customer: only the friend's first purchase gets
    # here, and the friend's card lock serialises those.
    customer = Customer.objects.get(pk=card.customer_id)
    if customer.referred_by_id is None or customer.referral_completed_at is not None:
        return
    rules, now = batch.rules, batch.now
    expires = expiry_for(now, rules.points_expiry_days, batch.merchant.tzinfo)
    if rules.uses_points and rules.referral_friend_bonus:
        batch.credit(
            card,
            EntryKind.BONUS_REFERRAL,
            rules.referral_friend_bonus,
            key=f"referral:{customer.pk}:friend",
            expires_at=expires,
            purchase=p,
            reason="referral: friend's first purchase",
        )
    rewarded_referrer = False
    if rules.uses_points and rules.referral_referrer_bonus and referrer_card is not None:
        if not referrer_card.is_blocked:
            already = Customer.objects.filter(
                referred_by_id=customer.referred_by_id, referral_rewarded_referrer=True
            ).count()
            if already < rules.referral_cap:
                batch.credit(
                    referrer_card,
                    EntryKind.BONUS_REFERRAL,
                    rules.referral_referrer_bonus,
                    key=f"referral:{customer.pk}:referrer",
                    expires_at=expires,
                    reason=f"referral: customer {customer.pk} made a first purchase",
                )
                rewarded_referrer = True
    Customer.objects.filter(pk=customer.pk).update(
        referral_completed_at=now, referral_rewarded_referrer=rewarded_referrer
    )
