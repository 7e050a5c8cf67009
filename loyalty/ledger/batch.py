"""The write batch of one ledger operation: input checks, time helpers, the
batch that inserts entries and saves counters, and the card-changed notice."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.exceptions import (
    InsufficientPoints,
    InvalidAmount,
    LoyaltyError,
)
from loyalty.ledger.rows import new_row
from loyalty.models import (
    Card,
    EntryKind,
    LedgerEntry,
    Lot,
    Purchase,
    Refund,
)
from loyalty.money import fits_currency, precision_message, quantum
from loyalty.program.rules import Rules
from loyalty.wallet import contract as wallet
from merchants.models import ApiKey, Merchant, User

MAX_KEY_LENGTH = 128
MAX_RECEIPT_LENGTH = 64
MAX_AMOUNT = Decimal("9999999999.99")
MAX_POINTS = 10**12
# The card's columns a ledger operation changes (and saves with its entries).
CARD_COUNTER_FIELDS = [
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


# --- input checks -------------------------------------------------------------


def check_money(value, *, field: str, allow_zero: bool = True, currency: str | None = None) -> Decimal:
    """An amount in ``currency`` (None: cents), exact to its minor unit: 1.5 JPY and
    1.2345 KWD are refused with the currency's own rule, 450.00 JPY is 450."""
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
    if not fits_currency(amount, currency):
        raise InvalidAmount(precision_message(currency), field=field)
    return amount.quantize(quantum(currency))


def check_count(value, *, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(_("Enter a whole number."), field=field)
    if value < 0:
        raise InvalidAmount(_("The number cannot be negative."), field=field)
    if value > MAX_POINTS:
        raise InvalidAmount(_("The number is too large."), field=field)
    return value


def check_key(value: str | None, *, field: str = "idempotency_key") -> str:
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


def check_merchant(obj, merchant, error: type[LoyaltyError]) -> None:
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
class Batch:
    """Collects the entries and lot changes of one operation; ``write()`` puts
    them in the database. Counters on the cards are changed as entries are added."""

    merchant: Merchant
    rules: Rules
    now: datetime
    actor: User | None = None
    api_key: ApiKey | None = None
    entries: list[LedgerEntry] = field(default_factory=list)
    dirty_lots: dict[int, Lot] = field(default_factory=dict)
    changed_cards: dict[int, Card] = field(default_factory=dict)
    persist: bool = True

    def entry(self, card: Card, kind: str, *, points=0, stamps=0, rewards=0, lot=None, key=None, **extra):
        entry = new_row(
            LedgerEntry,
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
        lot = new_row(
            Lot,
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
        lots = list(self.dirty_lots.values())
        if len(lots) == 1:  # the usual case: a plain UPDATE costs less than bulk_update's CASE
            Lot.objects.filter(pk=lots[0].pk).update(remaining=lots[0].remaining, activated_at=lots[0].activated_at)
        elif lots:
            Lot.objects.bulk_update(lots, ["remaining", "activated_at"])
        for card in self.changed_cards.values():
            card.updated_at = self.now
            # One plain UPDATE of the locked card's counters: Model.save(update_fields=…) did the
            # same SQL with a fifth of a purchase's CPU spent around it (bench/demo_speed.py).
            Card.objects.filter(pk=card.pk).update(**{name: getattr(card, name) for name in _CARD_COUNTERS})
        notify_cards_changed(self.changed_cards, now=self.now)


# The same columns as attribute names for a plain UPDATE (``tier_id``: the tier's key, as save() wrote it).
_CARD_COUNTERS = tuple("tier_id" if name == "tier" else name for name in CARD_COUNTER_FIELDS)


def _schedule(card: Card, when: datetime) -> None:
    if card.settle_after is None or when < card.settle_after:
        card.settle_after = when


_coalescing = threading.local()


def notify_card_changed(card_id: int) -> None:
    """Tell the card-changed hook (wallet passes): ``notify_cards_changed`` for one card."""
    notify_cards_changed([card_id])


def notify_cards_changed(card_ids: Iterable[int], *, now: datetime | None = None) -> None:
    """Tell the card-changed hook (wallet passes) in the caller's transaction:
    one statement marks the cards' passes, and the pipeline's sync is queued
    for when it commits (a rollback forgets both). Inside
    ``coalesced_card_changes()`` each card is told once, at the end."""
    pending = getattr(_coalescing, "card_ids", None)
    if pending is not None:
        pending.update(card_ids)
        return
    wallet.cards_changed_by_id(card_ids, now=now)


@contextmanager
def coalesced_card_changes():
    """For bulk work (demo data, imports): collect card changes and mark each
    changed card's pass once when the block ends (one statement for them all;
    the syncs still go out only after commit)."""
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
    wallet.cards_changed_by_id(card_ids)


def first_entry(batch: Batch, kind: str) -> LedgerEntry:
    return next(e for e in batch.entries if e.kind == kind)


def _sub(key: str | None, suffix: str) -> str | None:
    return None if key is None else f"{key}:{suffix}"
