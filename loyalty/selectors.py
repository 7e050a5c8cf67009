"""Reads for the loyalty app (stub: signatures fixed)."""

from __future__ import annotations

from django.db.models import QuerySet

from loyalty.models import Card, LedgerEntry


def card_lookup(*, merchant, phone: str = "", card_number: str = "", barcode: str = "") -> Card:
    raise NotImplementedError


def card_history(*, merchant, card: Card, limit: int = 50) -> QuerySet[LedgerEntry]:
    raise NotImplementedError


def points_expiring(*, merchant, within_days: int, now=None) -> QuerySet:
    raise NotImplementedError
