"""Support operations (adjust a balance, block a card), bonuses and settling for jobs."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.exceptions import (
    CardNotFound,
    IdempotencyKeyReused,
    InsufficientPoints,
    InvalidAmount,
    ReasonRequired,
)
from loyalty.ledger.batch import (
    MAX_POINTS,
    Batch,
    check_key,
    check_merchant,
    expiry_for,
    first_entry,
    notify_card_changed,
)
from loyalty.ledger.locks import card_rules, lock_card, pending_lots, settle, spendable_lots
from loyalty.models import (
    Card,
    CardEvent,
    CardStatus,
    EntryKind,
    LedgerEntry,
)
from merchants import audit


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
    key = None if idempotency_key is None else f"adjust:{check_key(idempotency_key)}"
    check_merchant(card, merchant, CardNotFound)
    with transaction.atomic():
        locked = lock_card(merchant, card)
        if key is not None:
            existing = LedgerEntry.objects.filter(merchant=merchant, idempotency_key=key).first()
            if existing is not None:
                if existing.card_id != locked.pk:
                    raise IdempotencyKeyReused()
                existing.replayed = True
                return existing
        rules = card_rules(merchant, locked)
        batch = Batch(merchant=merchant, rules=rules, now=now, actor=actor)
        settle(batch, locked)
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
            lots = spendable_lots(batch, locked) + pending_lots(batch, locked)
            batch.debit(locked, EntryKind.ADJUSTMENT, take, lots, key=key, allow_debt=False, reason=reason)
        batch.write()
        first = first_entry(batch, EntryKind.ADJUSTMENT)
        first.replayed = False
        audit.record(
            action="balance.adjusted",
            merchant=merchant,
            actor=actor,
            target=locked,
            target_label=locked.number,
            before={"balance": card.balance},
            after={"balance": locked.balance, "points": points, "entry_id": first.pk},
            reason=reason,
        )
    card.balance, card.pending_points, card.debt = locked.balance, locked.pending_points, locked.debt
    return first


def set_card_blocked(*, merchant, card: Card, blocked: bool, reason: str, actor, now=None) -> Card:
    """Block or unblock a card, recording who and why. Setting the status it
    already has changes nothing."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    check_merchant(card, merchant, CardNotFound)
    with transaction.atomic():
        locked = lock_card(merchant, card)
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
            audit.record(
                action="card.blocked" if blocked else "card.unblocked",
                merchant=merchant,
                actor=actor,
                target=locked,
                target_label=locked.number,
                after={"status": status},
                reason=reason,
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
        locked = lock_card(merchant, card)
        existing = LedgerEntry.objects.filter(merchant=merchant, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        rules = card_rules(merchant, locked)
        if not rules.uses_points or points <= 0 or locked.is_blocked:
            return None
        batch = Batch(merchant=merchant, rules=rules, now=now, actor=actor, api_key=api_key)
        settle(batch, locked)
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
        return first_entry(batch, kind)


def settle_card(*, merchant, card: Card | int, now=None) -> int:
    """Write expiry entries for expired lots (and stamps) and activate pending
    points that are due. Returns the number of entries written. Idempotent."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_card(merchant, card)
        batch = Batch(merchant=merchant, rules=card_rules(merchant, locked), now=now)
        settle(batch, locked, force=True)
        batch.write()
        return len(batch.entries)
