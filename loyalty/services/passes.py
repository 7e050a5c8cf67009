"""Wallet passes: one per card, marked when the card changes, synced to Apple
and Google by the debounced pipeline (``loyalty/wallet/tasks.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from loyalty.models import Card, WalletPass
from merchants.models import Merchant


def wallet_pass_for(*, card: Card) -> WalletPass:
    """The card's WalletPass, created on first use (serial, token and web
    token are random and never change)."""
    try:
        return WalletPass.objects.get(card=card)
    except WalletPass.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return WalletPass.objects.create(card=card, merchant_id=card.merchant_id, update_tag=_tag(timezone.now()))
    except IntegrityError:
        # Another request created it at the same moment.
        return WalletPass.objects.get(card=card)


@dataclass(frozen=True)
class WalletAvailability:
    apple: bool
    google: bool
    apple_reason: str
    google_reason: str


def wallets_available(*, merchant: Merchant) -> WalletAvailability:
    from loyalty.services import wallet_credentials

    return wallet_credentials.availability(merchant=merchant)


def _tag(now: datetime) -> int:
    # The opaque "passesUpdatedSince" tag: µs since the epoch.
    return int(now.timestamp() * 1_000_000)


def mark_cards_changed(
    *, merchant: Merchant, card_ids: Iterable[int] | None = None, now: datetime | None = None
) -> int:
    """Mark the passes of these cards (all the merchant's cards when None) as
    changed and enqueue the debounced sync once the transaction commits.
    Cards without a pass have nothing installed and are skipped."""
    now = now or timezone.now()
    passes = WalletPass.objects.for_merchant(merchant)
    if card_ids is not None:
        passes = passes.filter(card_id__in=list(card_ids))
    tag = _tag(now)
    with transaction.atomic():
        ids = list(passes.values_list("pk", flat=True))
        if not ids:
            return 0
        # Keep the earliest mark: the sync task compares it to claim the work.
        WalletPass.objects.filter(pk__in=ids, needs_sync_since__isnull=True).update(needs_sync_since=now)
        # The tag must grow even when two marks share one microsecond.
        WalletPass.objects.filter(pk__in=ids, update_tag__gte=tag).update(
            updated_at=now, update_tag=F("update_tag") + 1
        )
        WalletPass.objects.filter(pk__in=ids, update_tag__lt=tag).update(updated_at=now, update_tag=tag)
        _enqueue_sync(ids)
    return len(ids)


def _enqueue_sync(pass_ids: list[int]) -> None:
    from loyalty.wallet import tasks

    tasks.enqueue_sync(pass_ids)


def sync_progress(*, merchant: Merchant) -> tuple[int, int]:
    """(passes still waiting for their update, all passes) of the merchant."""
    passes = WalletPass.objects.for_merchant(merchant)
    counts = passes.aggregate(
        waiting=Count("pk", filter=Q(needs_sync_since__isnull=False)),
        total=Count("pk"),
    )
    return counts["waiting"], counts["total"]
