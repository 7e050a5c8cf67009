"""Four eyes on large balance adjustments (issue 13): support asks for an
adjustment of more points than the merchant's threshold; it waits as a
``PendingAdjustment`` until a support lead who is not the requester approves it
(applied through ``loyalty.ledger.adjust``, once) or rejects it. Each step is
recorded in the audit log with its reason."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.exceptions import CardNotFound, InvalidAmount, LoyaltyError, ReasonRequired
from loyalty.ledger.support import adjust
from loyalty.models import Card, PendingAdjustment
from merchants import audit
from merchants.models import Merchant


def needs_approval(*, merchant: Merchant, points: int) -> bool:
    threshold = merchant.adjustment_approval_threshold
    return threshold is not None and abs(points) > threshold


@transaction.atomic
def request_adjustment(*, merchant: Merchant, card: Card, points: int, reason: str, actor) -> PendingAdjustment:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise InvalidAmount(_("Enter a whole, non-zero number of points."), field="points")
    if card.merchant_id != merchant.pk:
        raise CardNotFound()
    pending = PendingAdjustment.objects.create(
        merchant=merchant, card=card, points=points, reason=reason, requested_by=actor
    )
    audit.record(
        action="balance.adjustment_requested",
        merchant=merchant,
        actor=actor,
        target=card,
        target_label=card.number,
        after={"points": points, "pending_adjustment": pending.pk},
        reason=reason,
    )
    return pending


def _lock(merchant: Merchant, pending: PendingAdjustment, actor) -> PendingAdjustment:
    locked = PendingAdjustment.objects.for_merchant(merchant).select_for_update().get(pk=pending.pk)
    if locked.status != PendingAdjustment.Status.PENDING:
        raise LoyaltyError(_("This adjustment was already decided."), code="decided")
    if locked.requested_by_id == actor.pk:
        raise LoyaltyError(_("Another person must approve or reject an adjustment you asked for."), code="same_person")
    return locked


def approve(*, merchant: Merchant, pending: PendingAdjustment, actor, reason: str = "", now=None) -> PendingAdjustment:
    """Apply the adjustment through the ledger (with the requester's reason) and
    mark it approved, in one transaction; a second approval is refused."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock(merchant, pending, actor)
        card = Card.objects.for_merchant(merchant).get(pk=locked.card_id)
        entry = adjust(
            merchant=merchant,
            card=card,
            points=int(locked.points),
            reason=locked.reason,
            actor=actor,
            idempotency_key=f"approval:{locked.pk}",
            now=now,
        )
        locked.status = PendingAdjustment.Status.APPROVED
        locked.decided_by, locked.decided_at = actor, now
        locked.decision_reason = (reason or "").strip()
        locked.entry = entry
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "entry"])
        audit.record(
            action="balance.adjustment_approved",
            merchant=merchant,
            actor=actor,
            target=card,
            target_label=card.number,
            after={
                "points": int(locked.points),
                "pending_adjustment": locked.pk,
                "requested_by": locked.requested_by_id,
            },
            reason=locked.decision_reason or locked.reason,
        )
    return locked


@transaction.atomic
def reject(*, merchant: Merchant, pending: PendingAdjustment, actor, reason: str, now=None) -> PendingAdjustment:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    locked = _lock(merchant, pending, actor)
    locked.status = PendingAdjustment.Status.REJECTED
    locked.decided_by, locked.decided_at = actor, now or timezone.now()
    locked.decision_reason = reason
    locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    audit.record(
        action="balance.adjustment_rejected",
        merchant=merchant,
        actor=actor,
        target_type="loyalty.card",
        target_id=locked.card_id,
        after={"points": int(locked.points), "pending_adjustment": locked.pk},
        reason=reason,
    )
    return locked
