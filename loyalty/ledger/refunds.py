"""Refunds, whole or partial: earned points taken back, redeemed points given back."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.exceptions import (
    IdempotencyKeyReused,
    LoyaltyError,
    PurchaseNotFound,
    RefundExceedsPurchase,
)
from loyalty.ledger.batch import Batch, check_key, check_merchant, check_money, expiry_for
from loyalty.ledger.locks import card_rules, lock_card, open_lots, pending_lots, settle, spendable_lots
from loyalty.ledger.offers import release_offer
from loyalty.models import (
    EntryKind,
    LedgerEntry,
    Purchase,
    Refund,
)
from loyalty.money import proportional_points


def refund(
    *,
    merchant,
    purchase: Purchase,
    amount: Decimal | None = None,
    idempotency_key: str,
    actor=None,
    api_key=None,
    now: datetime | None = None,
) -> Refund:
    """Refund ``amount`` of the purchase's bill (None: all that is left). Earned
    points are taken back and redeemed points given back in proportion, on
    running totals so that a full refund is exact. Points already spent are
    still taken back in full: the balance goes negative (debt) and blocks
    redemption until later earns repay it. Points of the purchase that expired
    are already gone and are not taken a second time: the refunds of a purchase
    take back at most what it earned minus what expired from its lot."""
    now = now or timezone.now()
    key = check_key(idempotency_key)
    if amount is not None:
        amount = check_money(amount, field="amount", allow_zero=False, currency=merchant.currency)
    check_merchant(purchase, merchant, PurchaseNotFound)
    try:
        return _refund(
            merchant=merchant, purchase=purchase, amount=amount, key=key, actor=actor, api_key=api_key, now=now
        )
    except IntegrityError:
        existing = Refund.objects.filter(merchant=merchant, idempotency_key=key).first()
        if existing is not None:
            return _refund_replayed(existing, purchase, amount)
        raise


def _refund_replayed(existing: Refund, purchase: Purchase, amount: Decimal | None) -> Refund:
    if existing.purchase_id != purchase.pk or (amount is not None and existing.amount != amount):
        raise IdempotencyKeyReused()
    existing.replayed = True
    return existing


def _refund(*, merchant, purchase, amount, key, actor, api_key, now) -> Refund:
    with transaction.atomic():
        # Parent first: the card, then the purchase.
        card = lock_card(merchant, purchase.card_id)
        existing = Refund.objects.filter(merchant=merchant, idempotency_key=key).first()
        if existing is not None:
            return _refund_replayed(existing, purchase, amount)
        p = Purchase.objects.select_for_update().filter(merchant=merchant, pk=purchase.pk).first()
        if p is None:
            raise PurchaseNotFound()
        left = p.bill_amount - p.refunded_amount
        if left <= 0:
            raise RefundExceedsPurchase(_("This purchase has already been refunded in full."))
        if amount is None:
            amount = left
        if amount > left:
            raise RefundExceedsPurchase(
                _("At most %(left)s %(currency)s of this purchase can still be refunded.")
                % {"left": left, "currency": p.currency}
            )
        rules = card_rules(merchant, card)
        batch = Batch(merchant=merchant, rules=rules, now=now, actor=actor, api_key=api_key)
        settle(batch, card)

        refunded = p.refunded_amount + amount
        # What the refunds so far should have taken back, but never more than
        # is still the customer's: points that expired from the purchase's own
        # lot already left the card once (defect 13: taking them again put an
        # unrelated lot, or the balance, short by the expired amount).
        target = proportional_points(p.points_earned, part=refunded, whole=p.bill_amount)
        target = min(target, p.points_earned - expired_from_purchase(batch, p))
        reverse = max(0, target - p.points_reversed)
        restore = proportional_points(p.points_redeemed, part=refunded, whole=p.bill_amount) - p.points_restored
        full = refunded >= p.bill_amount
        stamps_back = 1 if full and p.stamps_earned and card.stamps > 0 else 0
        rewards_back = p.rewards_redeemed if full else 0

        r = Refund.objects.create(
            merchant=merchant,
            purchase=p,
            card=card,
            amount=amount,
            points_reversed=reverse,
            points_restored=restore,
            stamps_reversed=stamps_back,
            rewards_restored=rewards_back,
            idempotency_key=key,
            actor=actor,
            api_key=api_key,
            created_at=now,
        )
        rkey = f"refund:{key}"
        if reverse:
            # The purchase's own lot first (that is what a refund inside the
            # activation delay takes back cleanly), then the lots that expire
            # first, then pending ones; the rest becomes debt.
            card_lots = open_lots(batch, card)
            own = [lot for lot in card_lots if lot.purchase_id == p.pk and lot.kind == EntryKind.EARN]
            others = [lot for lot in spendable_lots(batch, card) + pending_lots(batch, card) if lot not in own]
            batch.debit(
                card,
                EntryKind.REFUND_REVERSAL,
                reverse,
                own + others,
                key=f"{rkey}:reverse",
                allow_debt=True,
                purchase=p,
                refund=r,
            )
        if restore:
            batch.credit(
                card,
                EntryKind.REFUND_RESTORE,
                restore,
                key=f"{rkey}:restore",
                purchase=p,
                refund=r,
                expires_at=expiry_for(now, rules.points_expiry_days, merchant.tzinfo),
            )
        if stamps_back:
            batch.entry(card, EntryKind.STAMP_REVERSAL, stamps=-1, key=f"{rkey}:stamp", purchase=p, refund=r)
        if rewards_back:
            batch.entry(
                card, EntryKind.REWARD_RESTORE, rewards=rewards_back, key=f"{rkey}:reward", purchase=p, refund=r
            )
        p.refunded_amount = refunded
        card.lifetime_spend -= amount
        p.points_reversed += reverse
        p.points_restored += restore
        p.save(update_fields=["refunded_amount", "points_reversed", "points_restored"])
        batch.changed_cards[card.pk] = card
        batch.write()
        if p.refunded_amount >= p.bill_amount:
            release_offer(card=card, purchase=p, now=now)
    r.purchase = p
    r.card = card
    r.replayed = False
    return r


def expired_from_purchase(batch: Batch, p: Purchase) -> int:
    """Points that expired from the lot(s) the purchase earned, including
    expiries the batch has just written while settling the card."""
    written = -(
        LedgerEntry.objects.filter(kind=EntryKind.EXPIRY, lot__purchase_id=p.pk, lot__kind=EntryKind.EARN).aggregate(
            s=Sum("points")
        )["s"]
        or 0
    )
    settling = -sum(
        e.points
        for e in batch.entries
        if e.kind == EntryKind.EXPIRY
        and e.lot is not None
        and e.lot.purchase_id == p.pk
        and e.lot.kind == EntryKind.EARN
    )
    return written + settling


# --- undo at the till ------------------------------------------------------------------------

# How long after a purchase the cashier who made it may undo it at the till (a
# full refund without looking the purchase up); after that it is a refund.
UNDO_MINUTES = 5


def undo_deadline(purchase: Purchase) -> datetime:
    return purchase.created_at + timedelta(minutes=UNDO_MINUTES)


def can_undo(*, purchase: Purchase, actor, now: datetime | None = None) -> bool:
    """Whether ``actor`` may still undo the purchase: their own, nothing refunded yet, within the window."""
    now = now or timezone.now()
    return purchase.actor_id == actor.pk and purchase.refunded_amount == 0 and now <= undo_deadline(purchase)


def undo_purchase(*, merchant, purchase: Purchase, actor, idempotency_key: str, now: datetime | None = None) -> Refund:
    """The till's undo: a full refund of the cashier's own purchase within
    ``UNDO_MINUTES``. The refund itself keeps every guarantee of ``refund``."""
    now = now or timezone.now()
    if purchase.actor_id != actor.pk:
        raise LoyaltyError(_("Only the cashier who made a purchase can undo it here."), code="undo_not_allowed")
    if purchase.refunded_amount:
        raise LoyaltyError(_("This purchase has already been refunded."), code="undo_not_allowed")
    if now > undo_deadline(purchase):
        raise LoyaltyError(
            _("Purchases can be undone within %(minutes)d minutes; use a refund instead.") % {"minutes": UNDO_MINUTES},
            code="undo_expired",
        )
    return refund(merchant=merchant, purchase=purchase, idempotency_key=idempotency_key, actor=actor)
