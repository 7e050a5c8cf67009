"""The ledger: the only code that writes ledger rows, split by operation.

- ``batch``: input checks, time helpers, the write batch of one operation, the card-changed notice;
- ``locks``: locking cards in primary-key order and settling them (expiry, activation);
- ``purchases``, ``quick`` (the common purchase in two statements), ``refunds``, ``quotes``, ``tiers``: the operations;
- ``support``: balance adjustments, blocking cards, bonuses, settling for jobs;
- ``approvals``: large adjustments waiting for a second person; ``merge``: merging two customers;
- ``jobs`` (expiry, birthdays, tier demotion) and ``tasks`` (their Celery interfaces);
- ``selectors``: reads of cards, purchases and history; ``verification``: ``verify_ledger``.

This package re-exports the operations other packages call (``ledger.purchase(...)``).

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

from loyalty.ledger.batch import (
    MAX_AMOUNT,
    MAX_KEY_LENGTH,
    MAX_POINTS,
    MAX_RECEIPT_LENGTH,
    coalesced_card_changes,
    expiry_for,
    local_day_start,
    notify_card_changed,
)
from loyalty.ledger.merge import merge_customers
from loyalty.ledger.offers import grant_offer
from loyalty.ledger.purchases import purchase
from loyalty.ledger.quick import NotQuick, quick_purchase
from loyalty.ledger.quotes import Quote, quote
from loyalty.ledger.refunds import UNDO_MINUTES, can_undo, refund, undo_deadline, undo_purchase
from loyalty.ledger.support import adjust, grant_bonus, set_card_blocked, settle_card
from loyalty.ledger.tiers import reevaluate_tier, tier_spend

__all__ = [
    "grant_offer",
    "MAX_AMOUNT",
    "MAX_KEY_LENGTH",
    "MAX_POINTS",
    "MAX_RECEIPT_LENGTH",
    "NotQuick",
    "UNDO_MINUTES",
    "Quote",
    "adjust",
    "can_undo",
    "coalesced_card_changes",
    "expiry_for",
    "grant_bonus",
    "local_day_start",
    "merge_customers",
    "notify_card_changed",
    "purchase",
    "quick_purchase",
    "quote",
    "reevaluate_tier",
    "refund",
    "set_card_blocked",
    "settle_card",
    "tier_spend",
    "undo_deadline",
    "undo_purchase",
]
