"""Locking cards (primary-key order) and settling them: expiry and activation of lots."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.db.models import F, Q

from loyalty.exceptions import (
    CardNotFound,
)
from loyalty.ledger.batch import Batch
from loyalty.models import (
    Card,
    EntryKind,
    Lot,
    Program,
)
from loyalty.program.rules import Rules
from loyalty.program.services import current_rules, rules_for_version_id

_LOCK_SQL = (
    f"SELECT c.*, (SELECT p.current_version_id FROM {Program._meta.db_table} p WHERE p.merchant_id = c.merchant_id)"
    f" AS rules_version_id FROM {Card._meta.db_table} c"
    " WHERE c.merchant_id = %s AND c.id IN ({ids}) ORDER BY c.id{for_update}"
)


def lock_cards(merchant, card_ids) -> dict[int, Card]:
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


def card_rules(merchant, card: Card) -> Rules:
    """The rules in force, read with the card lock (see lock_cards)."""
    version_id = getattr(card, "rules_version_id", None)
    if version_id is None:
        return current_rules(merchant=merchant)
    return rules_for_version_id(version_id)


def lock_card(merchant, card) -> Card:
    card_id = card if isinstance(card, int) else getattr(card, "pk", None)
    if card_id is None or (not isinstance(card, int) and card.merchant_id != merchant.pk):
        raise CardNotFound()
    locked = lock_cards(merchant, [card_id]).get(card_id)
    if locked is None:
        raise CardNotFound()
    return locked


def settle(batch: Batch, card: Card, *, force: bool = False) -> None:
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


def open_lots(batch: Batch, card: Card) -> list[Lot]:
    """The card's lots that still hold points, earliest expiry first (lots that
    never expire last), oldest first among equals. Lots this operation already
    changed (settled) are taken from the batch, so every step sees one state."""
    lots = Lot.objects.filter(card_id=card.pk, remaining__gt=0).order_by(F("expires_at").asc(nulls_last=True), "pk")
    merged = [batch.dirty_lots.get(lot.pk, lot) for lot in lots]
    return [lot for lot in merged if lot.remaining > 0]


def spendable_lots(batch: Batch, card: Card) -> list[Lot]:
    now = batch.now
    return [
        lot
        for lot in open_lots(batch, card)
        if lot.activated_at is not None and (lot.expires_at is None or lot.expires_at > now)
    ]


def pending_lots(batch: Batch, card: Card) -> list[Lot]:
    return [lot for lot in open_lots(batch, card) if lot.activated_at is None]
