"""Offers for a card's next purchase (a points multiplier or a discount), given by other domains
through ``grant_offer`` and applied by the purchase (``quotes.calculate`` works out their effect,
``use_offer`` records it). One offer per purchase: the one that expires first. An offer that
would change nothing on a purchase (a multiplier on a bill that earns no points) stays for the
next one. Expired offers are ignored.

``Card.offer_until`` is kept here, under the card lock: the latest ``valid_until`` of the card's
unused offers (null when there is none). It lets every purchase skip the offer lookup unless an
offer may be live, and the quick purchase hand such a card to the general path.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.exceptions import LoyaltyError
from loyalty.ledger.locks import lock_card
from loyalty.models import Card, CardOffer, OfferKind, Purchase

MAX_MULTIPLIER = Decimal(10)
MAX_DISCOUNT_PERCENT = Decimal(100)
MAX_VALID_DAYS = 366


def grant_offer(
    *,
    merchant,
    card: Card | int,
    kind: str,
    valid_days: int,
    source: str,
    idempotency_key: str,
    multiplier: Decimal | None = None,
    discount_percent: Decimal | None = None,
    label: str = "",
    now: datetime | None = None,
) -> CardOffer | None:
    """Give the card an offer for its next purchase within ``valid_days``, once per
    ``idempotency_key`` (a replay returns the first offer). None if the card is blocked."""
    now = now or timezone.now()
    if kind == OfferKind.MULTIPLIER:
        if multiplier is None or not (Decimal(1) < multiplier <= MAX_MULTIPLIER):
            raise LoyaltyError(_("The multiplier must be above 1 and at most 10."), code="invalid", field="multiplier")
        discount_percent = Decimal(0)
    elif kind == OfferKind.DISCOUNT:
        if discount_percent is None or not (Decimal(0) < discount_percent <= MAX_DISCOUNT_PERCENT):
            raise LoyaltyError(
                _("The discount must be above 0 % and at most 100 %."), code="invalid", field="discount_percent"
            )
        multiplier = Decimal(1)
    else:
        raise LoyaltyError(_("Unknown offer."), code="invalid", field="kind")
    if not (1 <= valid_days <= MAX_VALID_DAYS):
        raise LoyaltyError(_("An offer is valid for 1 to 366 days."), code="invalid", field="valid_days")
    with transaction.atomic():
        locked = lock_card(merchant, card)
        existing = CardOffer.objects.filter(merchant=merchant, key=idempotency_key).first()
        if existing is not None:
            return existing
        if locked.is_blocked:
            return None
        offer = CardOffer.objects.create(
            merchant=merchant,
            card=locked,
            kind=kind,
            multiplier=multiplier,
            discount_percent=discount_percent,
            valid_until=now + timedelta(days=valid_days),
            source=source[:64],
            label=label[:200],
            key=idempotency_key,
            created_at=now,
        )
        if locked.offer_until is None or offer.valid_until > locked.offer_until:
            Card.objects.filter(pk=locked.pk).update(offer_until=offer.valid_until)
        return offer


def live_offer(card: Card, now: datetime) -> CardOffer | None:
    """The offer the card's next purchase gets (the card is locked by the caller, or this is a quote)."""
    if card.offer_until is None or card.offer_until <= now:
        return None
    return (
        CardOffer.objects.filter(card_id=card.pk, used_at__isnull=True, valid_until__gt=now)
        .order_by("valid_until", "pk")
        .first()
    )


def use_offer(*, card: Card, offer: CardOffer, purchase: Purchase, extra_points: int, discount: Decimal) -> None:
    """Record that ``purchase`` used ``offer`` (the card is locked) and move the card's hint."""
    now = purchase.created_at
    CardOffer.objects.filter(pk=offer.pk, used_at__isnull=True).update(
        used_at=now, purchase=purchase, extra_points=extra_points, discount_amount=discount
    )
    offer.used_at, offer.purchase, offer.extra_points, offer.discount_amount = now, purchase, extra_points, discount
    card.offer_until = CardOffer.objects.filter(card_id=card.pk, used_at__isnull=True, valid_until__gt=now).aggregate(
        m=Max("valid_until")
    )["m"]
    Card.objects.filter(pk=card.pk).update(offer_until=card.offer_until)


def release_offer(*, card: Card, purchase: Purchase, now: datetime) -> bool:
    """A purchase refunded in full gives its offer back (the card is locked by the caller): still
    valid, it applies to the next purchase; its cost no longer counts, since the refund undid it."""
    offer = CardOffer.objects.filter(purchase_id=purchase.pk).first()
    if offer is None:
        return False
    CardOffer.objects.filter(pk=offer.pk).update(
        used_at=None, purchase=None, extra_points=0, discount_amount=Decimal(0)
    )
    if offer.valid_until > now and (card.offer_until is None or offer.valid_until > card.offer_until):
        card.offer_until = offer.valid_until
        Card.objects.filter(pk=card.pk).update(offer_until=offer.valid_until)
    return True


def offer_text(offer: CardOffer, *, applied: bool) -> str:
    """How the cashier reads it: "−10 % off from campaign «Win-back»: applied"."""
    values = {"name": offer.label or offer.source, "percent": _number(offer.discount_percent)}
    if offer.kind == OfferKind.DISCOUNT:
        if applied:
            return _("−%(percent)s %% off from campaign «%(name)s»: applied") % values
        return _("−%(percent)s %% off from campaign «%(name)s»: applies to this bill") % values
    values["multiplier"] = _number(offer.multiplier)
    if applied:
        return _("×%(multiplier)s points from campaign «%(name)s»: applied") % values
    return _("×%(multiplier)s points from campaign «%(name)s»: applies to this purchase") % values


def offer_for_purchase(purchase: Purchase) -> CardOffer | None:
    return CardOffer.objects.filter(purchase_id=purchase.pk).first()


def _number(value: Decimal) -> str:
    # 2.00 → "2", 1.50 → "1.5"
    return format(value.normalize(), "f")
