"""Every write to the ledger lives in this module.

Each operation runs in one ``transaction.atomic()``, in this order (house style §5):

1. lock the card row(s) with ``select_for_update``, in primary-key order
   (two operations touching the same two cards then queue instead of
   deadlocking); a purchase or refund row is locked after its card (parent first);
2. look up the idempotency key: a replay returns what the first call wrote;
3. settle the card: write expiry entries for lots that have expired and
   activate pending lots whose delay has passed, so nothing below sees stale
   points;
4. check the rules; 5. insert the entries; 6. update the cached counters on the
   card (and lots) in the same transaction; 7. register side effects with
   ``on_commit``.

``now`` is read once per call. No network calls happen inside the transaction.

Invariants (proved by ``manage.py verify_ledger``):

* ``card.balance == Σ entry.points`` and ``card.stamps``/``rewards_available``
  likewise for stamps/rewards;
* ``lot.remaining == Σ entry.points on that lot``, ``0 ≤ remaining ≤ points``;
* ``card.debt == −Σ entry.points of entries without a lot`` (points a refund
  took back after they had been spent: the balance goes negative by exactly
  the debt, and later credits repay it before anything else);
* ``card.pending_points == Σ remaining of lots not yet activated``.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.exceptions import (
    BelowMinimumBalance,
    CardBlocked,
    CardNotFound,
    DuplicateReceipt,
    IdempotencyKeyReused,
    InsufficientPoints,
    InsufficientRewards,
    InvalidAmount,
    LoyaltyError,
    NegativeBalance,
    PurchaseNotFound,
    ReasonRequired,
    RedemptionCapExceeded,
    RedemptionNotAvailable,
    RefundExceedsPurchase,
)
from loyalty.models import (
    Card,
    CardEvent,
    CardStatus,
    Customer,
    EntryKind,
    LedgerEntry,
    Lot,
    Program,
    Purchase,
    Refund,
    TierChange,
)
from loyalty.money import CENT, points_to_money, proportional_points
from loyalty.services import cards as card_hooks
from loyalty.services.programs import current_rules, rules_for_version_id
from loyalty.services.rules import Rules, TierRule

MAX_KEY_LENGTH = 128
MAX_RECEIPT_LENGTH = 64
MAX_AMOUNT = Decimal("9999999999.99")
MAX_POINTS = 10**12


# --- input checks -------------------------------------------------------------


def _money(value, *, field: str, allow_zero: bool = True) -> Decimal:
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidAmount(_("Enter a valid amount."), field=field)
    if not amount.is_finite():
        raise InvalidAmount(_("Enter a valid amount."), field=field)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidAmount(_("The amount must be greater than zero."), field=field)
    if amount > MAX_AMOUNT:
        raise InvalidAmount(_("The amount is too large."), field=field)
    if amount != amount.quantize(CENT):
        raise InvalidAmount(_("Enter an amount with at most two decimal places."), field=field)
    return amount.quantize(CENT)


def _count(value, *, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(_("Enter a whole number."), field=field)
    if value < 0:
        raise InvalidAmount(_("The number cannot be negative."), field=field)
    if value > MAX_POINTS:
        raise InvalidAmount(_("The number is too large."), field=field)
    return value


def _key(value: str | None, *, field: str = "idempotency_key") -> str:
    value = (value or "").strip()
    if not value:
        raise LoyaltyError(_("An idempotency key is required."), code="idempotency_key_required", field=field)
    if len(value) > MAX_KEY_LENGTH:
        raise LoyaltyError(
            _("The idempotency key is too long (at most %(n)d characters).") % {"n": MAX_KEY_LENGTH},
            code="invalid",
            field=field,
        )
    return value


def _check_merchant(obj, merchant, error: type[LoyaltyError]) -> None:
    # Another merchant's card or purchase is exactly as missing as a missing one.
    if obj is None or obj.merchant_id != merchant.pk:
        raise error()


# --- time helpers ---------------------------------------------------------------


def local_day_start(now: datetime, tz) -> datetime:
    local = timezone.localtime(now, tz)
    return datetime.combine(local.date(), time.min, tzinfo=tz)


def expiry_for(now: datetime, days: int | None, tz) -> datetime | None:
    """Points valid for ``days`` days stay valid through the end of the last
    day in the merchant's time zone (they expire at the following midnight)."""
    if days is None:
        return None
    local = timezone.localtime(now, tz).date() + timedelta(days=days + 1)
    return datetime.combine(local, time.min, tzinfo=tz)


# --- the batch of writes of one operation ------------------------------------------


@dataclass
class _Batch:
    """Collects the entries and lot changes of one operation; ``write()`` puts
    them in the database. Counters on the cards are changed as entries are added."""

    merchant: object
    rules: Rules
    now: datetime
    actor: object = None
    api_key: object = None
    entries: list[LedgerEntry] = field(default_factory=list)
    dirty_lots: dict[int, Lot] = field(default_factory=dict)
    changed_cards: dict[int, Card] = field(default_factory=dict)
    persist: bool = True

    def entry(self, card: Card, kind: str, *, points=0, stamps=0, rewards=0, lot=None, key=None, **extra):
        entry = LedgerEntry(
            merchant_id=self.merchant.pk,
            card_id=card.pk,
            kind=kind,
            points=points,
            stamps=stamps,
            rewards=rewards,
            lot=lot,
            actor=self.actor,
            api_key=self.api_key,
            program_version_id=self.rules.version_id,
            idempotency_key=key,
            created_at=self.now,
            **extra,
        )
        self.entries.append(entry)
        card.balance += points
        card.stamps += stamps
        card.rewards_available += rewards
        self.changed_cards[card.pk] = card
        return entry

    def _take(self, card: Card, lot: Lot, points: int) -> None:
        lot.remaining -= points
        if lot.activated_at is None:
            card.pending_points -= points
        self.dirty_lots[lot.pk] = lot

    def credit(
        self,
        card: Card,
        kind: str,
        points: int,
        *,
        key: str | None,
        expires_at: datetime | None,
        available_at: datetime | None = None,
        purchase: Purchase | None = None,
        refund: Refund | None = None,
        reason: str = "",
    ) -> Lot:
        """A new lot of ``points``. If the card is in debt the lot repays it
        first: a pair of entries moves the points from the lot to the debt,
        leaving the balance as the credit made it."""
        available_at = available_at or self.now
        pending = available_at > self.now
        repay = min(points, card.debt)
        lot = Lot(
            merchant_id=self.merchant.pk,
            card_id=card.pk,
            kind=kind,
            points=points,
            remaining=points - repay,
            purchase=purchase,
            program_version_id=self.rules.version_id,
            created_at=self.now,
            available_at=available_at,
            activated_at=None if pending else self.now,
            expires_at=expires_at,
        )
        if self.persist:
            lot.save(force_insert=True)
        links = {"purchase": purchase, "refund": refund}
        self.entry(card, kind, points=points, lot=lot, key=key, reason=reason, **links)
        if pending:
            card.pending_points += points - repay
            _schedule(card, available_at)
        if lot.remaining and expires_at is not None:
            _schedule(card, expires_at)
        if repay:
            self.entry(card, EntryKind.DEBT_REPAYMENT, points=-repay, lot=lot, key=_sub(key, "repay"), **links)
            self.entry(card, EntryKind.DEBT_REPAYMENT, points=repay, lot=None, key=_sub(key, "debt"), **links)
            card.debt -= repay
        return lot

    def debit(
        self,
        card: Card,
        kind: str,
        points: int,
        lots: list[Lot],
        *,
        key: str | None,
        allow_debt: bool,
        purchase: Purchase | None = None,
        refund: Refund | None = None,
        reason: str = "",
    ) -> None:
        """Take ``points`` from ``lots`` in the order given, one entry per lot
        touched; what the lots cannot cover becomes debt if ``allow_debt``."""
        left = points
        links = {"purchase": purchase, "refund": refund}
        first = True
        for lot in lots:
            if left == 0:
                break
            take = min(left, lot.remaining)
            if take <= 0:
                continue
            self._take(card, lot, take)
            entry_key = key if first else _sub(key, f"lot{lot.pk}")
            self.entry(card, kind, points=-take, lot=lot, key=entry_key, reason=reason, **links)
            left -= take
            first = False
        if left:
            if not allow_debt:  # pragma: no cover - callers check the balance first
                raise InsufficientPoints()
            self.entry(
                card, kind, points=-left, lot=None, key=key if first else _sub(key, "debt"), reason=reason, **links
            )
            card.debt += left

    def write(self) -> None:
        if not self.persist:
            return
        if self.entries:
            LedgerEntry.objects.bulk_create(self.entries)
        if self.dirty_lots:
            Lot.objects.bulk_update(list(self.dirty_lots.values()), ["remaining", "activated_at"])
        for card in self.changed_cards.values():
            card.updated_at = self.now
            card.save(
                update_fields=[
                    "balance",
                    "pending_points",
                    "debt",
                    "stamps",
                    "rewards_available",
                    "tier",
                    "purchase_count",
                    "last_purchase_at",
                    "last_stamp_at",
                    "boosted_purchases_left",
                    "lifetime_spend",
                    "settle_after",
                    "updated_at",
                ]
            )
            notify_card_changed(card.pk)


def _schedule(card: Card, when: datetime) -> None:
    if card.settle_after is None or when < card.settle_after:
        card.settle_after = when


_coalescing = threading.local()


def notify_card_changed(card_id: int) -> None:
    """Tell the card-changed hook (wallet passes) once the transaction commits.
    Inside ``coalesced_card_changes()`` each card is told once, at the end."""
    pending = getattr(_coalescing, "card_ids", None)
    if pending is not None:
        pending.add(card_id)
        return
    transaction.on_commit(lambda: card_hooks.card_changed(card_id))


@contextmanager
def coalesced_card_changes():
    """For bulk work (demo data, imports): collect card changes and notify
    each changed card once when the block ends (still only after commit)."""
    outer = getattr(_coalescing, "card_ids", None)
    if outer is not None:
        yield
        return
    _coalescing.card_ids = set()
    try:
        yield
        card_ids = sorted(_coalescing.card_ids)
    finally:
        _coalescing.card_ids = None
    for card_id in card_ids:
        transaction.on_commit(lambda card_id=card_id: card_hooks.card_changed(card_id))


def _first(batch: _Batch, kind: str) -> LedgerEntry:
    return next(e for e in batch.entries if e.kind == kind)


def _sub(key: str | None, suffix: str) -> str | None:
    return None if key is None else f"{key}:{suffix}"


# --- locking and settling ----------------------------------------------------------------


_LOCK_SQL = (
    f"SELECT c.*, (SELECT p.current_version_id FROM {Program._meta.db_table} p WHERE p.merchant_id = c.merchant_id)"
    f" AS rules_version_id FROM {Card._meta.db_table} c"
    " WHERE c.merchant_id = %s AND c.id IN ({ids}) ORDER BY c.id{for_update}"
)


def _lock_cards(merchant, card_ids) -> dict[int, Card]:
    # Always lock in primary-key order so that two operations needing the same
    # cards (a referral touches the friend's and the referrer's) queue up
    # instead of deadlocking.
    # The program's current version comes along in the same query. Written
    # as SQL because this runs on every ledger write and the equivalent
    # queryset (subquery + FOR UPDATE) costs over a millisecond to compile.
    ids = sorted({int(card_id) for card_id in card_ids})
    sql = _LOCK_SQL.format(
        ids=", ".join(["%s"] * len(ids)),
        for_update=" FOR UPDATE" if connection.features.has_select_for_update else "",
    )
    return {c.pk: c for c in Card.objects.raw(sql, [merchant.pk, *ids])}


def _rules(merchant, card: Card) -> Rules:
    """The rules in force, read with the card lock (see _lock_cards)."""
    version_id = getattr(card, "rules_version_id", None)
    if version_id is None:
        return current_rules(merchant=merchant)
    return rules_for_version_id(version_id)


def _lock_card(merchant, card) -> Card:
    card_id = card if isinstance(card, int) else getattr(card, "pk", None)
    if card_id is None or (not isinstance(card, int) and card.merchant_id != merchant.pk):
        raise CardNotFound()
    locked = _lock_cards(merchant, [card_id]).get(card_id)
    if locked is None:
        raise CardNotFound()
    return locked


def _settle(batch: _Batch, card: Card, *, force: bool = False) -> None:
    """Expire what has expired and activate what has waited long enough.
    ``card.settle_after`` says when there can next be something to do;
    ``force`` looks anyway (the jobs do)."""
    now, rules = batch.now, batch.rules
    if force or (card.settle_after is not None and card.settle_after <= now):
        # Something is due: look at every open lot with a date ahead of it,
        # settle what is due and note when the next one will be.
        scheduled = Lot.objects.filter(card_id=card.pk, remaining__gt=0).filter(
            Q(expires_at__isnull=False) | Q(activated_at__isnull=True)
        )
        upcoming = []
        for lot in scheduled.order_by("pk"):
            if lot.expires_at is not None and lot.expires_at <= now:
                expired = lot.remaining
                batch._take(card, lot, expired)
                batch.entry(card, EntryKind.EXPIRY, points=-expired, lot=lot, key=f"expiry:{lot.pk}")
                continue
            if lot.activated_at is None and lot.available_at <= now:
                lot.activated_at = now
                card.pending_points -= lot.remaining
                batch.dirty_lots[lot.pk] = lot
            if lot.activated_at is None:
                upcoming.append(lot.available_at)
            if lot.expires_at is not None:
                upcoming.append(lot.expires_at)
        card.settle_after = min(upcoming, default=None)
        batch.changed_cards[card.pk] = card
    if (
        rules.stamp_expiry_days
        and card.stamps > 0
        and card.last_stamp_at is not None
        and card.last_stamp_at + timedelta(days=rules.stamp_expiry_days) <= now
    ):
        batch.entry(
            card,
            EntryKind.STAMP_EXPIRY,
            stamps=-card.stamps,
            key=f"stamp-expiry:{card.pk}:{card.last_stamp_at.isoformat()}",
        )


def _open_lots(batch: _Batch, card: Card) -> list[Lot]:
    """The card's lots that still hold points, earliest expiry first (lots that
    never expire last), oldest first among equals. Lots this operation already
    changed (settled) are taken from the batch, so every step sees one state."""
    lots = Lot.objects.filter(card_id=card.pk, remaining__gt=0).order_by(F("expires_at").asc(nulls_last=True), "pk")
    merged = [batch.dirty_lots.get(lot.pk, lot) for lot in lots]
    return [lot for lot in merged if lot.remaining > 0]


def _spendable_lots(batch: _Batch, card: Card) -> list[Lot]:
    now = batch.now
    return [
        lot
        for lot in _open_lots(batch, card)
        if lot.activated_at is not None and (lot.expires_at is None or lot.expires_at > now)
    ]


def _pending_lots(batch: _Batch, card: Card) -> list[Lot]:
    return [lot for lot in _open_lots(batch, card) if lot.activated_at is None]


# --- tiers -------------------------------------------------------------------------------


def tier_spend(card: Card, rules: Rules, now: datetime) -> Decimal:
    """Spend counted for tiers: bills minus refunds, in the window (or lifetime)."""
    if not rules.tier_window_months:
        return card.lifetime_spend
    purchases = Purchase.objects.filter(card_id=card.pk, created_at__lte=now)
    if rules.tier_window_months:
        purchases = purchases.filter(created_at__gt=now - relativedelta(months=rules.tier_window_months))
    total = purchases.aggregate(s=Sum(F("bill_amount") - F("refunded_amount")))["s"]
    return total or Decimal("0")


def _move_tier(batch: _Batch, card: Card, new: TierRule, *, reason: str, spend: Decimal, purchase=None) -> None:
    old = batch.rules.tier(card.tier_id)
    if card.tier_id == new.id:
        return
    TierChange.objects.create(
        merchant_id=batch.merchant.pk,
        card=card,
        from_tier_id=card.tier_id,
        to_tier_id=new.id,
        from_tier_name=old.name if old else "",
        to_tier_name=new.name,
        reason=reason,
        spend=spend,
        purchase=purchase,
        program_version_id=batch.rules.version_id,
        created_at=batch.now,
    )
    card.tier_id = new.id
    batch.changed_cards[card.pk] = card


def _promote(batch: _Batch, card: Card, purchase: Purchase) -> None:
    rules = batch.rules
    current = rules.tier(card.tier_id)
    if current is None:
        return
    if card.tier_id != current.id:
        # A card without a tier (or whose tier was deleted) is on the lowest.
        card.tier_id = current.id
        batch.changed_cards[card.pk] = card
    if current.id == rules.tiers[-1].id:
        return
    spend = tier_spend(card, rules, batch.now)
    reached = rules.tier_for_spend(spend)
    if reached is not None and reached.threshold > current.threshold:
        _move_tier(batch, card, reached, reason=TierChange.Reason.PROMOTION, spend=spend, purchase=purchase)


# --- quote -------------------------------------------------------------------------------


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


def _returning_boost(card: Card, rules: Rules, now: datetime) -> tuple[int, Decimal]:
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
    start = local_day_start(now, merchant.tzinfo)
    total = LedgerEntry.objects.filter(
        card_id=card.pk, kind=EntryKind.EARN, created_at__gte=start, created_at__lte=now
    ).aggregate(s=Sum("points"))["s"]
    return total or 0


def _calculate(
    *, merchant, card: Card, rules: Rules, bill: Decimal, redeem_points: int, now: datetime, check: bool
) -> _Calc:
    tier = rules.tier(card.tier_id)
    discount_percent = rules.discount_percent(tier)
    discount = rules.discount_amount(bill, tier)
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
    points_amount = points_to_money(redeem_points, point_value=rules.point_value)
    paid = max(Decimal("0.00"), after - points_amount)
    _left, multiplier = _returning_boost(card, rules, now)
    earn = 0
    if rules.uses_points and bill > 0 and bill >= rules.min_bill_to_earn:
        # Earning is on the money paid: never on the part paid with points.
        earn = rules.earn_points(paid, tier, multiplier)
        if rules.daily_earn_cap is not None and earn:
            earn = max(0, min(earn, rules.daily_earn_cap - _earned_today(card, merchant, now)))
    stamp = rules.uses_stamps and bill > 0 and bill >= rules.stamp_min_bill
    return _Calc(tier, discount_percent, discount, after, max_redeem, points_amount, paid, multiplier, earn, stamp)


def quote(*, merchant, card: Card, bill_amount: Decimal, redeem_points: int = 0, now: datetime | None = None) -> Quote:
    """Read-only: what the purchase would do right now. Raises the same errors
    as ``purchase`` would for this redemption."""
    now = now or timezone.now()
    bill = _money(bill_amount, field="bill_amount")
    redeem_points = _count(redeem_points, field="redeem_points")
    _check_merchant(card, merchant, CardNotFound)
    card = Card.objects.get(pk=card.pk)
    if card.is_blocked:
        raise CardBlocked()
    rules = current_rules(merchant=merchant)
    # Settle in memory only, so expired or newly active points show correctly.
    _settle(_Batch(merchant=merchant, rules=rules, now=now, persist=False), card)
    calc = _calculate(
        merchant=merchant, card=card, rules=rules, bill=bill, redeem_points=redeem_points, now=now, check=True
    )
    no_redeem = (
        calc
        if redeem_points == 0
        else _calculate(merchant=merchant, card=card, rules=rules, bill=bill, redeem_points=0, now=now, check=False)
    )
    at_max = _calculate(
        merchant=merchant, card=card, rules=rules, bill=bill, redeem_points=calc.max_redeem, now=now, check=False
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
    )


# --- purchase ---------------------------------------------------------------------------


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
    bill = _money(bill_amount, field="bill_amount")
    redeem_points = _count(redeem_points, field="redeem_points")
    redeem_rewards = _count(redeem_rewards, field="redeem_rewards")
    key = _key(idempotency_key)
    receipt_id = (receipt_id or "").strip()
    if not receipt_id:
        raise LoyaltyError(_("A receipt number is required."), code="receipt_required", field="receipt_id")
    if len(receipt_id) > MAX_RECEIPT_LENGTH:
        raise LoyaltyError(_("The receipt number is too long."), code="invalid", field="receipt_id")
    if bill == 0 and not redeem_rewards:
        raise InvalidAmount(_("The bill must be greater than zero."), field="bill_amount")
    if location is not None and location.merchant_id != merchant.pk:
        raise LoyaltyError(_("Unknown location."), code="location_not_found", field="location")
    _check_merchant(card, merchant, CardNotFound)
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
        locked = _lock_cards(merchant, [card.pk] + ([referrer_card_id] if referrer_card_id else []))
        card = locked.get(card.pk)
        if card is None:
            raise CardNotFound()
        if card.is_blocked:
            raise CardBlocked()
        # A duplicate receipt trips purchase_receipt_unique below and is
        # reported by purchase() (checking first would cost every purchase a query).
        rules = _rules(merchant, card)
        batch = _Batch(merchant=merchant, rules=rules, now=now, actor=actor, api_key=api_key)
        _settle(batch, card)
        if redeem_rewards > card.rewards_available:
            raise InsufficientRewards(_("The card has %(n)d rewards available.") % {"n": card.rewards_available})
        calc = _calculate(
            merchant=merchant, card=card, rules=rules, bill=bill, redeem_points=redeem_points, now=now, check=True
        )
        boosted_left, _multiplier = _returning_boost(card, rules, now)

        p = Purchase.objects.create(
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
        card.lifetime_spend += bill
        pkey = f"purchase:{key}"
        if redeem_points:
            batch.debit(
                card,
                EntryKind.REDEEM,
                redeem_points,
                _spendable_lots(batch, card),
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
                reason=f"returning customer ×{calc.multiplier}" if calc.multiplier != 1 else "",
            )
        if redeem_rewards:
            batch.entry(card, EntryKind.REWARD_REDEEM, rewards=-redeem_rewards, key=f"{pkey}:reward", purchase=p)
        if calc.stamp:
            batch.entry(card, EntryKind.STAMP, stamps=1, key=f"{pkey}:stamp", purchase=p)
            card.last_stamp_at = now
            if card.stamps >= rules.stamps_per_reward:
                batch.entry(
                    card,
                    EntryKind.REWARD_EARNED,
                    stamps=-rules.stamps_per_reward,
                    rewards=1,
                    key=f"{pkey}:reward-earned",
                    purchase=p,
                )

        first_purchase = card.purchase_count == 0
        card.purchase_count += 1
        card.last_purchase_at = max(now, card.last_purchase_at) if card.last_purchase_at else now
        card.boosted_purchases_left = boosted_left
        batch.changed_cards[card.pk] = card
        _promote(batch, card, p)
        if first_purchase:
            _complete_referral(batch, card, locked.get(referrer_card_id) if referrer_card_id else None, p)
        batch.write()
    p.card = card
    p.replayed = False
    return p


def _complete_referral(batch: _Batch, card: Card, referrer_card: Card | None, p: Purchase) -> None:
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


# --- refund ------------------------------------------------------------------------------


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
    redemption until later earns repay it."""
    now = now or timezone.now()
    key = _key(idempotency_key)
    if amount is not None:
        amount = _money(amount, field="amount", allow_zero=False)
    _check_merchant(purchase, merchant, PurchaseNotFound)
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
        card = _lock_card(merchant, purchase.card_id)
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
        rules = _rules(merchant, card)
        batch = _Batch(merchant=merchant, rules=rules, now=now, actor=actor, api_key=api_key)
        _settle(batch, card)

        refunded = p.refunded_amount + amount
        reverse = proportional_points(p.points_earned, part=refunded, whole=p.bill_amount) - p.points_reversed
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
            open_lots = _open_lots(batch, card)
            own = [lot for lot in open_lots if lot.purchase_id == p.pk and lot.kind == EntryKind.EARN]
            others = [lot for lot in _spendable_lots(batch, card) + _pending_lots(batch, card) if lot not in own]
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
    r.purchase = p
    r.card = card
    r.replayed = False
    return r


# --- support operations ---------------------------------------------------------------------


def adjust(
    *, merchant, card: Card, points: int, reason: str, actor, idempotency_key: str | None = None, now=None
) -> LedgerEntry:
    """A manual correction by support or the merchant, with a required reason.
    Positive: a new lot (expiring like earned points). Negative: taken from the
    lots that expire first; it cannot take more than the card holds."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    if isinstance(points, bool) or not isinstance(points, int) or points == 0 or abs(points) > MAX_POINTS:
        raise InvalidAmount(_("Enter a whole, non-zero number of points."), field="points")
    key = None if idempotency_key is None else f"adjust:{_key(idempotency_key)}"
    _check_merchant(card, merchant, CardNotFound)
    with transaction.atomic():
        locked = _lock_card(merchant, card)
        if key is not None:
            existing = LedgerEntry.objects.filter(merchant=merchant, idempotency_key=key).first()
            if existing is not None:
                if existing.card_id != locked.pk:
                    raise IdempotencyKeyReused()
                existing.replayed = True
                return existing
        rules = _rules(merchant, locked)
        batch = _Batch(merchant=merchant, rules=rules, now=now, actor=actor)
        _settle(batch, locked)
        if points > 0:
            batch.credit(
                locked,
                EntryKind.ADJUSTMENT,
                points,
                key=key,
                reason=reason,
                expires_at=expiry_for(now, rules.points_expiry_days, merchant.tzinfo),
            )
        else:
            take = -points
            if take > locked.balance + locked.debt or locked.debt > 0:
                raise InsufficientPoints(
                    _("The card holds %(n)d points; it cannot lose %(take)d.")
                    % {"n": max(0, locked.balance), "take": take}
                )
            lots = _spendable_lots(batch, locked) + _pending_lots(batch, locked)
            batch.debit(locked, EntryKind.ADJUSTMENT, take, lots, key=key, allow_debt=False, reason=reason)
        batch.write()
        first = _first(batch, EntryKind.ADJUSTMENT)
        first.replayed = False
    card.balance, card.pending_points, card.debt = locked.balance, locked.pending_points, locked.debt
    return first


def set_card_blocked(*, merchant, card: Card, blocked: bool, reason: str, actor, now=None) -> Card:
    """Block or unblock a card, recording who and why. Setting the status it
    already has changes nothing."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    _check_merchant(card, merchant, CardNotFound)
    with transaction.atomic():
        locked = _lock_card(merchant, card)
        status = CardStatus.BLOCKED if blocked else CardStatus.ACTIVE
        if locked.status != status:
            locked.status = status
            locked.updated_at = now
            locked.save(update_fields=["status", "updated_at"])
            CardEvent.objects.create(
                merchant=merchant,
                card=locked,
                kind=CardEvent.Kind.BLOCKED if blocked else CardEvent.Kind.UNBLOCKED,
                reason=reason,
                actor=actor,
                created_at=now,
            )
            notify_card_changed(locked.pk)
    return locked


# --- bonuses and jobs -----------------------------------------------------------------------


def grant_bonus(
    *,
    merchant,
    card: Card | int,
    kind: str,
    points: int,
    idempotency_key: str,
    valid_days: int | None = None,
    use_program_expiry: bool = True,
    reason: str = "",
    actor=None,
    api_key=None,
    now=None,
) -> LedgerEntry | None:
    """Credit a bonus once per ``idempotency_key`` (welcome, birthday, …).
    Returns the entry (the existing one on a replay), or None if the card is
    blocked or the program has no points."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_card(merchant, card)
        existing = LedgerEntry.objects.filter(merchant=merchant, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        rules = _rules(merchant, locked)
        if not rules.uses_points or points <= 0 or locked.is_blocked:
            return None
        batch = _Batch(merchant=merchant, rules=rules, now=now, actor=actor, api_key=api_key)
        _settle(batch, locked)
        days = valid_days if valid_days is not None else (rules.points_expiry_days if use_program_expiry else None)
        batch.credit(
            locked,
            kind,
            points,
            key=idempotency_key,
            reason=reason,
            expires_at=expiry_for(now, days, merchant.tzinfo),
        )
        batch.write()
        return _first(batch, kind)


def settle_card(*, merchant, card: Card | int, now=None) -> int:
    """Write expiry entries for expired lots (and stamps) and activate pending
    points that are due. Returns the number of entries written. Idempotent."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_card(merchant, card)
        batch = _Batch(merchant=merchant, rules=_rules(merchant, locked), now=now)
        _settle(batch, locked, force=True)
        batch.write()
        return len(batch.entries)


def reevaluate_tier(*, merchant, card: Card | int, now=None) -> TierChange | None:
    """Nightly: move the card to the tier its spend in the window supports. It
    only demotes (promotion happens on the purchase) and only if the program
    enables demotion."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_card(merchant, card)
        rules = _rules(merchant, locked)
        if not rules.tier_demotion_enabled or not rules.tiers:
            return None
        current = rules.tier(locked.tier_id)
        spend = tier_spend(locked, rules, now)
        supported = rules.tier_for_spend(spend)
        if current is None or supported is None or supported.threshold >= current.threshold:
            return None
        batch = _Batch(merchant=merchant, rules=rules, now=now)
        _move_tier(batch, locked, supported, reason=TierChange.Reason.DEMOTION, spend=spend)
        batch.write()
        return TierChange.objects.filter(card=locked).order_by("-pk").first()
