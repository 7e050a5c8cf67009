"""Reads for the loyalty app. Every query starts from ``for_merchant``: another
merchant's card is exactly as missing as a missing one."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db.models import F, Min, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.card_numbers import CARD_NUMBER_LENGTH
from loyalty.exceptions import CardNotFound, InvalidPhone, LoyaltyError, PurchaseNotFound
from loyalty.models import Card, CardStatus, LedgerEntry, Lot, Purchase
from loyalty.phones import normalize_phone


def card_lookup(*, merchant, phone: str = "", card_number: str = "", barcode: str = "") -> Card:
    """Find a card by exactly one of: phone (any common spelling), card number
    (spaces and dashes ignored) or the scanned barcode payload."""
    given = [name for name, value in (("phone", phone), ("card_number", card_number), ("barcode", barcode)) if value]
    if len(given) != 1:
        raise LoyaltyError(
            _("Give exactly one of: phone, card number, barcode."), code="lookup_needs_one_key", field=None
        )
    cards = Card.objects.for_merchant(merchant).select_related("customer", "tier")
    if phone:
        e164 = normalize_phone(phone, region=merchant.country)
        if e164 is None:
            raise InvalidPhone()
        card = cards.filter(customer__phone=e164).first()
    elif card_number:
        digits = re.sub(r"[\s-]", "", card_number)
        card = cards.filter(number=digits).first() if digits.isdigit() and len(digits) <= 20 else None
    else:
        payload = barcode.strip()
        card = cards.filter(barcode=payload).first() if len(payload) <= 64 else None
    if card is None:
        raise CardNotFound()
    return card


def card_history(*, merchant, card: Card, limit: int = 50) -> QuerySet[LedgerEntry]:
    """The card's latest ledger entries, newest first."""
    if card is None or card.merchant_id != merchant.pk:
        raise CardNotFound()
    limit = max(1, min(int(limit), 500))
    return (
        LedgerEntry.objects.for_merchant(merchant)
        .filter(card_id=card.pk)
        .select_related("purchase")
        .order_by("-created_at", "-pk")[:limit]
    )


def points_expiring(*, merchant, within_days: int, now=None) -> QuerySet:
    """Per active card: points in lots expiring within ``within_days`` and the
    earliest of those expiry times. Rows: card_id, customer_id, points, earliest_expiry
    (for "500 баллов сгорят до …")."""
    now = now or timezone.now()
    return (
        Lot.objects.for_merchant(merchant)
        .filter(
            remaining__gt=0,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=within_days),
            card__status=CardStatus.ACTIVE,
        )
        .values("card_id", customer_id=F("card__customer_id"))
        .annotate(points=Sum("remaining"), earliest_expiry=Min("expires_at"))
        .order_by("earliest_expiry", "card_id")
    )


# --- Reads for the POS API and the cashier page (added by the API engineer) ------------


def purchase_lookup(*, merchant, purchase_id: int | None = None, receipt_id: str = "") -> Purchase:
    """A purchase by its id or by the till's receipt id; another merchant's
    purchase is as missing as a missing one."""
    purchases = Purchase.objects.for_merchant(merchant).select_related("card")
    if purchase_id is not None:
        found = purchases.filter(pk=purchase_id).first()
    elif receipt_id.strip():
        found = purchases.filter(receipt_id=receipt_id.strip()).first()
    else:
        found = None
    if found is None:
        raise PurchaseNotFound()
    return found


def card_history_page(*, merchant, card: Card, before_id: int | None = None, limit: int = 50) -> list[LedgerEntry]:
    """Up to ``limit`` + 1 of the card's entries older than entry ``before_id``
    (keyset pagination, newest first; the extra one tells there is a next page)."""
    if card is None or card.merchant_id != merchant.pk:
        raise CardNotFound()
    entries = LedgerEntry.objects.for_merchant(merchant).filter(card_id=card.pk).select_related("purchase")
    if before_id is not None:
        entries = entries.filter(pk__lt=before_id)
    return list(entries.order_by("-pk")[: max(1, min(int(limit), 200)) + 1])


# What a ledger write needs of the card before the service locks and re-reads it, plus
# the tier's name for the response. On the purchase hot path a narrow query without the
# customer join costs a fraction of card_lookup's (ORM compilation dominates there).
WRITE_LOOKUP_FIELDS = (
    "id", "merchant_id", "customer_id", "number", "status", "purchase_count", "tier_id", "tier__name",
)  # fmt: skip


def card_for_write(*, merchant, card_number: str) -> Card:
    """The card with this number (spaces and dashes ignored), loaded narrowly."""
    digits = re.sub(r"[\s-]", "", card_number)
    if not (digits.isdigit() and len(digits) <= 20):
        raise CardNotFound()
    cards = Card.objects.for_merchant(merchant).filter(number=digits).select_related("tier")
    card = next(iter(cards.only(*WRITE_LOOKUP_FIELDS).order_by()[:1]), None)
    if card is None:
        raise CardNotFound()
    return card


def find_card(*, merchant, query: str) -> Card:
    """Whatever the cashier typed or scanned: a barcode payload, a card number
    or a phone number, tried in that order."""
    query = query.strip()
    if not query or len(query) > 256 or "\x00" in query:
        raise CardNotFound()
    candidates = [("barcode", query)]
    if "/" in query:  # a scanned URL: its last segment may be the payload
        candidates.append(("barcode", query.rstrip("/").rsplit("/", 1)[-1]))
    digits = re.sub(r"[\s-]", "", query)
    if digits.isdigit() and len(digits) == CARD_NUMBER_LENGTH:
        candidates.append(("card_number", digits))
    candidates.append(("phone", query))
    for kind, value in candidates:
        try:
            return card_lookup(merchant=merchant, **{kind: value})
        except LoyaltyError:
            continue
    raise CardNotFound(_("No card found for “%(query)s”.") % {"query": query[:40]})
