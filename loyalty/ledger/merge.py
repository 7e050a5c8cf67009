"""Merging two customers who are the same person (issue 13), entry by entry.

Append-only: the duplicate's entries stay as written. For each of the
duplicate's cards, new entries move what it holds onto the kept customer's
card: every open lot (pending ones too) is emptied by a ``merge_out`` entry and
re-created on the kept card by a ``merge_in`` lot with the same expiry and
activation time; debt, stamps and rewards move by pairs of entries. Purchases
and spend stay with the card that made them (so ``lifetime_spend`` still
verifies). Stamps that now fill a set turn into rewards as a purchase's stamp
would (``reward_earned`` entries), and the kept card rises to the tier the
person's combined spend reaches (``tiers.promote_after_merge``). The
duplicate's cards are then blocked and the customer points to the one kept."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.exceptions import LoyaltyError, ReasonRequired
from loyalty.ledger.batch import Batch, notify_card_changed
from loyalty.ledger.locks import card_rules, lock_cards, open_lots, settle
from loyalty.ledger.tiers import promote_after_merge
from loyalty.models import Card, CardEvent, CardStatus, Customer, EntryKind
from merchants import audit


def merge_customers(*, merchant, keep: Customer, duplicate: Customer, reason: str, actor, now=None) -> Customer:
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    if keep.pk == duplicate.pk:
        raise LoyaltyError(_("A customer cannot be merged into itself."), code="merge_same", field="duplicate")
    with transaction.atomic():
        # Customers first (parent before child), in primary-key order.
        locked = {
            c.pk: c
            for c in Customer.objects.for_merchant(merchant)
            .filter(pk__in=[keep.pk, duplicate.pk])
            .order_by("pk")
            .select_for_update()
        }
        if len(locked) != 2:
            raise LoyaltyError(
                _("This business has no customer with this number."), code="not_found", field="duplicate"
            )
        kept, dup = locked[keep.pk], locked[duplicate.pk]
        for customer in (kept, dup):
            if customer.merged_into_id is not None:
                raise LoyaltyError(
                    _("Customer #%(pk)s was already merged into another one.") % {"pk": customer.pk},
                    code="merged",
                    field="duplicate",
                )
        card_ids = list(
            Card.objects.for_merchant(merchant).filter(customer__in=[kept, dup]).values_list("pk", flat=True)
        )
        cards = lock_cards(merchant, card_ids)
        kept_cards = sorted((c for c in cards.values() if c.customer_id == kept.pk), key=lambda c: c.pk)
        if not kept_cards:
            raise LoyaltyError(_("The customer kept has no card to merge into."), code="no_card")
        target = kept_cards[0]
        moved = {"points": 0, "stamps": 0, "rewards": 0, "debt": 0, "cards": []}
        batch = Batch(merchant=merchant, rules=card_rules(merchant, target), now=now, actor=actor)
        settle(batch, target)
        for source in sorted((c for c in cards.values() if c.customer_id == dup.pk), key=lambda c: c.pk):
            settle(batch, source)
            note = _("Merged into card %(number)s: %(reason)s") % {"number": target.number, "reason": reason}
            back = _("Merged from card %(number)s: %(reason)s") % {"number": source.number, "reason": reason}
            for lot in list(open_lots(batch, source)):
                points = lot.remaining
                batch.debit(source, EntryKind.MERGE_OUT, points, [lot], key=None, allow_debt=False, reason=note)
                batch.credit(
                    target,
                    EntryKind.MERGE_IN,
                    points,
                    key=None,
                    expires_at=lot.expires_at,
                    available_at=max(lot.available_at, now) if lot.activated_at is None else now,
                    reason=back,
                )
                moved["points"] += points
            if source.debt:
                debt = source.debt
                batch.entry(source, EntryKind.MERGE_OUT, points=debt, reason=note)
                source.debt -= debt
                batch.debit(target, EntryKind.MERGE_IN, debt, [], key=None, allow_debt=True, reason=back)
                moved["debt"] += debt
            if source.stamps or source.rewards_available:
                stamps, rewards = source.stamps, source.rewards_available
                batch.entry(source, EntryKind.MERGE_OUT, stamps=-stamps, rewards=-rewards, reason=note)
                batch.entry(target, EntryKind.MERGE_IN, stamps=stamps, rewards=rewards, reason=back)
                if source.last_stamp_at and (
                    target.last_stamp_at is None or source.last_stamp_at > target.last_stamp_at
                ):
                    target.last_stamp_at = source.last_stamp_at
                moved["stamps"] += stamps
                moved["rewards"] += rewards
            batch.changed_cards[source.pk] = source
            moved["cards"].append(source.number)
        moved["rewards_earned"] = _complete_stamp_sets(batch, target, reason)
        sources = [c for c in cards.values() if c.customer_id == dup.pk]
        tier_before = target.tier_id
        promote_after_merge(batch, target, sources)
        batch.write()
        for source in (c for c in cards.values() if c.customer_id == dup.pk):
            if source.status != CardStatus.BLOCKED:
                Card.objects.filter(pk=source.pk).update(status=CardStatus.BLOCKED, updated_at=now)
                CardEvent.objects.create(
                    merchant=merchant,
                    card=source,
                    kind=CardEvent.Kind.BLOCKED,
                    reason=_("Merged into card %(number)s") % {"number": target.number},
                    actor=actor,
                    created_at=now,
                )
                notify_card_changed(source.pk)
        dup.merged_into = kept
        dup.save(update_fields=["merged_into"])
        audit.record(
            action="customer.merged",
            merchant=merchant,
            actor=actor,
            target=kept,
            target_label=f"#{kept.pk}",
            before={"duplicate": dup.pk, "duplicate_cards": moved["cards"]},
            after={
                "card": target.number,
                **{k: v for k, v in moved.items() if k != "cards"},
                **({"tier": target.tier_id} if target.tier_id != tier_before else {}),
            },
            reason=reason,
        )
    return kept


def _complete_stamp_sets(batch: Batch, target: Card, reason: str) -> int:
    """Stamps that now fill sets turn into rewards, as the purchase's stamp would have
    (``loyalty.ledger.purchases``: the set's stamps leave, one reward comes)."""
    per_reward = batch.rules.stamps_to_reward
    sets = target.stamps // per_reward if target.stamps > 0 else 0
    for _set in range(sets):
        batch.entry(target, EntryKind.REWARD_EARNED, stamps=-per_reward, rewards=1, reason=reason)
    return sets
