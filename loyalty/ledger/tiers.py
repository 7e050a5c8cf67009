"""Tiers: the spend that counts, promotion on a purchase, re-evaluation by the nightly job."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from loyalty.ledger.batch import Batch
from loyalty.ledger.locks import card_rules, lock_card
from loyalty.models import (
    Card,
    Customer,
    Purchase,
    TierChange,
)
from loyalty.program.rules import Rules, TierRule


def tier_spend(card: Card, rules: Rules, now: datetime) -> Decimal:
    """Spend counted for tiers: bills minus refunds, in the window (or lifetime)."""
    if not rules.tier_window_months:
        return card.lifetime_spend
    purchases = Purchase.objects.filter(card_id=card.pk, created_at__lte=now)
    if rules.tier_window_months:
        purchases = purchases.filter(created_at__gt=now - relativedelta(months=rules.tier_window_months))
    total = purchases.aggregate(s=Sum(F("bill_amount") - F("refunded_amount")))["s"]
    return total or Decimal("0")


def merged_cards(card: Card) -> list[Card]:
    """The cards of customers merged into this card's customer (and of those merged into them):
    their purchases stay with them, but they are the same person's spend."""
    found: list[Card] = []
    customers = [card.customer_id]
    seen = set(customers)
    while customers:
        merged = list(
            Customer.objects.filter(merchant_id=card.merchant_id, merged_into_id__in=customers).values_list(
                "pk", flat=True
            )
        )
        customers = [pk for pk in merged if pk not in seen]
        seen.update(customers)
        if customers:
            found += list(Card.objects.filter(merchant_id=card.merchant_id, customer_id__in=customers))
    return found


def _move_tier(batch: Batch, card: Card, new: TierRule, *, reason: str, spend: Decimal, purchase=None) -> None:
    change = tier_change(batch, card, new, reason=reason, spend=spend, purchase=purchase)
    if change is not None:
        change.save(force_insert=True)


def tier_change(
    batch: Batch, card: Card, new: TierRule, *, reason: str, spend: Decimal, purchase=None
) -> TierChange | None:
    """Move the card to ``new`` (in memory) and return the TierChange row
    recording it, unsaved; None if the card is on ``new`` already."""
    old = batch.rules.tier(card.tier_id)
    if card.tier_id == new.id:
        return None
    change = TierChange(
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
    return change


def promotion_due(batch: Batch, card: Card) -> tuple[TierRule, Decimal] | None:
    """The tier this card's spend reaches above its own (and that spend), or
    None. A card without a tier (or whose tier was deleted) is put on the lowest."""
    rules = batch.rules
    current = rules.tier(card.tier_id)
    if current is None:
        return None
    if card.tier_id != current.id:
        card.tier_id = current.id
        batch.changed_cards[card.pk] = card
    if current.id == rules.tiers[-1].id:
        return None
    spend = tier_spend(card, rules, batch.now)
    reached = rules.tier_for_spend(spend)
    if reached is not None and reached.threshold > current.threshold:
        return reached, spend
    return None


def promote(batch: Batch, card: Card, purchase: Purchase) -> None:
    due = promotion_due(batch, card)
    if due is not None:
        _move_tier(batch, card, due[0], reason=TierChange.Reason.PROMOTION, spend=due[1], purchase=purchase)


def promote_after_merge(batch: Batch, target: Card, sources: list[Card]) -> None:
    """After a merge (``loyalty.ledger.merge``): the kept card rises to the tier that the
    person's spend on all the merged cards reaches, or to the highest tier one of the
    duplicate's cards held, whichever is higher; a merge never lowers a tier. The
    purchases stay with the cards that made them, so the spend is summed here."""
    rules = batch.rules
    current = rules.tier(target.tier_id)
    if current is None:
        return
    spend = sum((tier_spend(card, rules, batch.now) for card in (target, *sources)), Decimal("0"))
    candidates = [t for t in (rules.tier_for_spend(spend), *(rules.tier(c.tier_id) for c in sources)) if t]
    best = max(candidates, key=lambda tier: tier.threshold, default=current)
    if best.threshold > current.threshold:
        _move_tier(batch, target, best, reason=TierChange.Reason.PROMOTION, spend=spend)


def reevaluate_tier(*, merchant, card: Card | int, now=None) -> TierChange | None:
    """Nightly: move the card to the tier its spend in the window supports. It
    only demotes (promotion happens on the purchase) and only if the program
    enables demotion."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_card(merchant, card)
        rules = card_rules(merchant, locked)
        if not rules.tier_demotion_enabled or not rules.tiers:
            return None
        current = rules.tier(locked.tier_id)
        spend = tier_spend(locked, rules, now)
        supported = rules.tier_for_spend(spend)
        if current is None or supported is None or supported.threshold >= current.threshold:
            return None
        # Before demoting, count the spend of customers merged into this one (same person).
        merged = merged_cards(locked)
        if merged:
            spend += sum((tier_spend(card, rules, now) for card in merged), Decimal("0"))
            supported = rules.tier_for_spend(spend)
            if supported is None or supported.threshold >= current.threshold:
                return None
        batch = Batch(merchant=merchant, rules=rules, now=now)
        _move_tier(batch, locked, supported, reason=TierChange.Reason.DEMOTION, spend=spend)
        batch.write()
        return TierChange.objects.filter(card=locked).order_by("-pk").first()
