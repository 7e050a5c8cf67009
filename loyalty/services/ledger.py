"""ALL ledger writes live here (stub: signatures fixed, bodies being filled in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from loyalty.models import Card, LedgerEntry, Purchase, Refund


@dataclass(frozen=True)
class Quote:
    bill_amount: Decimal
    discount_percent: Decimal
    discount_amount: Decimal
    amount_after_discount: Decimal
    max_redeem_points: int
    redeem_points: int
    points_amount: Decimal
    amount_to_pay: Decimal
    points_to_earn: int
    earn_if_no_redeem: int
    earn_if_max_redeem: int
    balance: int
    spendable_points: int
    pending_points: int
    tier: str
    rewards_available: int
    stamps: int
    stamps_per_reward: int
    currency: str
    mechanic: str
    point_value: Decimal


def quote(*, merchant, card: Card, bill_amount: Decimal, redeem_points: int = 0, now: datetime | None = None) -> Quote:
    raise NotImplementedError


def purchase(
    *,
    merchant,
    card: Card,
    location,
    bill_amount: Decimal,
    redeem_points: int = 0,
    redeem_rewards: int = 0,
    receipt_id: str,
    idempotency_key: str,
    actor=None,
    api_key=None,
    now: datetime | None = None,
) -> Purchase:
    raise NotImplementedError


def refund(
    *,
    merchant,
    purchase: Purchase,
    amount: Decimal | None = None,
    idempotency_key: str,
    actor=None,
    api_key=None,
    now: datetime | None = None,
) -> Refund:
    raise NotImplementedError


def adjust(
    *, merchant, card: Card, points: int, reason: str, actor, idempotency_key: str | None = None, now=None
) -> LedgerEntry:
    raise NotImplementedError


def set_card_blocked(*, merchant, card: Card, blocked: bool, reason: str, actor, now=None) -> Card:
    raise NotImplementedError
