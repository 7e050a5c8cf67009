"""Proof that the cached counters agree with the append-only ledger.

For every card (optionally of one merchant):

1. ``balance == Σ entry.points``, ``stamps == Σ entry.stamps``,
   ``rewards_available == Σ entry.rewards``;
2. ``debt == −Σ points of entries without a lot`` and ``debt ≥ 0``;
3. for every lot, ``remaining == Σ points of its entries`` and
   ``0 ≤ remaining ≤ points``;
4. ``pending_points == Σ remaining of lots not yet activated``;
5. ``balance == Σ lot.remaining − debt`` (what can be spent or is pending,
   minus what is owed), and a card in debt has nothing left in any lot;
6. ``settle_after`` (the hint that lets operations skip looking for due
   lots) is never later than the next expiry or activation of an open lot,
   and ``lifetime_spend == Σ (bill − refunded)`` of the card's purchases;
7. for every purchase, the EARN entries add up to ``points_earned``, the
   REDEEM entries to ``−points_redeemed``, and its refunds' totals match
   ``points_reversed``/``points_restored`` and ``refunded_amount ≤ bill``;
8. for every purchase, what its refunds took back plus what expired from the
   lot it earned never exceeds what it earned (expired points are gone, a
   refund must not take them a second time).

Lots that have expired but still hold points are reported as a note (the
expiry job has not run yet), not as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection
from django.utils import timezone


@dataclass
class Report:
    cards: int = 0
    lots: int = 0
    entries: int = 0
    purchases: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _aware(value):
    # SQLite returns datetimes from raw SQL as strings.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def verify_ledger(*, merchant_id: int | None = None, now=None) -> Report:
    now = now or timezone.now()
    report = Report()
    where_card = "WHERE c.merchant_id = %s" if merchant_id else ""
    where_plain = "WHERE merchant_id = %s" if merchant_id else ""
    and_merchant = "AND merchant_id = %s" if merchant_id else ""
    p = [merchant_id] if merchant_id else []

    report.cards = _rows(f"SELECT COUNT(*) FROM loyalty_card {where_plain}", p)[0][0]
    report.lots = _rows(f"SELECT COUNT(*) FROM loyalty_lot {where_plain}", p)[0][0]
    report.entries = _rows(f"SELECT COUNT(*) FROM loyalty_ledgerentry {where_plain}", p)[0][0]
    report.purchases = _rows(f"SELECT COUNT(*) FROM loyalty_purchase {where_plain}", p)[0][0]

    cards = _rows(
        f"""
        SELECT c.id, c.number, c.balance, c.stamps, c.rewards_available, c.debt, c.pending_points,
               COALESCE(e.points, 0), COALESCE(e.stamps, 0), COALESCE(e.rewards, 0), COALESCE(e.unlotted, 0),
               COALESCE(l.remaining, 0), COALESCE(l.pending, 0)
        FROM loyalty_card c
        LEFT JOIN (
            SELECT card_id, SUM(points) AS points, SUM(stamps) AS stamps, SUM(rewards) AS rewards,
                   SUM(CASE WHEN lot_id IS NULL THEN points ELSE 0 END) AS unlotted
            FROM loyalty_ledgerentry {where_plain} GROUP BY card_id
        ) e ON e.card_id = c.id
        LEFT JOIN (
            SELECT card_id, SUM(remaining) AS remaining,
                   SUM(CASE WHEN activated_at IS NULL THEN remaining ELSE 0 END) AS pending
            FROM loyalty_lot {where_plain} GROUP BY card_id
        ) l ON l.card_id = c.id
        {where_card}
        ORDER BY c.id
        """,
        p * 3,
    )
    for (card_id, number, balance, stamps, rewards, debt, pending,
         e_points, e_stamps, e_rewards, e_unlotted, l_remaining, l_pending) in cards:  # fmt: skip
        label = f"card {number} (id {card_id})"
        if balance != e_points:
            report.problems.append(f"{label}: balance {balance} != sum of entries {e_points}")
        if stamps != e_stamps:
            report.problems.append(f"{label}: stamps {stamps} != sum of entries {e_stamps}")
        if rewards != e_rewards:
            report.problems.append(f"{label}: rewards {rewards} != sum of entries {e_rewards}")
        if debt != -e_unlotted or debt < 0:
            report.problems.append(f"{label}: debt {debt} != -(entries without a lot) {-e_unlotted}")
        if pending != l_pending:
            report.problems.append(f"{label}: pending {pending} != pending lots {l_pending}")
        if balance != l_remaining - debt:
            report.problems.append(f"{label}: balance {balance} != lots remaining {l_remaining} - debt {debt}")
        if debt > 0 and l_remaining > 0:
            report.problems.append(f"{label}: in debt {debt} while lots still hold {l_remaining}")

    lots = _rows(
        f"""
        SELECT l.id, l.card_id, l.points, l.remaining, COALESCE(e.points, 0)
        FROM loyalty_lot l
        LEFT JOIN (SELECT lot_id, SUM(points) AS points FROM loyalty_ledgerentry
                   WHERE lot_id IS NOT NULL {and_merchant} GROUP BY lot_id) e ON e.lot_id = l.id
        {where_plain.replace("merchant_id", "l.merchant_id")}
        """,
        p * 2,
    )
    for lot_id, card_id, points, remaining, e_points in lots:
        if remaining != e_points:
            report.problems.append(f"lot {lot_id} (card id {card_id}): remaining {remaining} != entries {e_points}")
        if not 0 <= remaining <= points:
            report.problems.append(f"lot {lot_id} (card id {card_id}): remaining {remaining} outside 0..{points}")

    purchases = _rows(
        f"""
        SELECT pu.id, pu.receipt_id, pu.points_earned, pu.points_redeemed, pu.points_reversed, pu.points_restored,
               pu.refunded_amount, pu.bill_amount,
               COALESCE(e.earned, 0), COALESCE(e.redeemed, 0), COALESCE(r.reversed, 0), COALESCE(r.restored, 0),
               COALESCE(r.amount, 0), COALESCE(x.expired, 0)
        FROM loyalty_purchase pu
        LEFT JOIN (
            SELECT purchase_id,
                   SUM(CASE WHEN kind = 'earn' THEN points ELSE 0 END) AS earned,
                   SUM(CASE WHEN kind = 'redeem' THEN points ELSE 0 END) AS redeemed
            FROM loyalty_ledgerentry WHERE purchase_id IS NOT NULL {and_merchant} GROUP BY purchase_id
        ) e ON e.purchase_id = pu.id
        LEFT JOIN (
            SELECT purchase_id, SUM(points_reversed) AS reversed, SUM(points_restored) AS restored,
                   SUM(amount) AS amount
            FROM loyalty_refund {where_plain} GROUP BY purchase_id
        ) r ON r.purchase_id = pu.id
        LEFT JOIN (
            SELECT lo.purchase_id, -SUM(le.points) AS expired
            FROM loyalty_ledgerentry le JOIN loyalty_lot lo ON lo.id = le.lot_id
            WHERE le.kind = 'expiry' AND lo.kind = 'earn' AND lo.purchase_id IS NOT NULL
                  {and_merchant.replace("merchant_id", "le.merchant_id")}
            GROUP BY lo.purchase_id
        ) x ON x.purchase_id = pu.id
        {where_plain.replace("merchant_id", "pu.merchant_id")}
        """,
        p * 4,
    )
    for (pid, receipt, earned, redeemed, reversed_, restored, refunded, bill,
         e_earned, e_redeemed, r_reversed, r_restored, r_amount, expired) in purchases:  # fmt: skip
        label = f"purchase {receipt} (id {pid})"
        if earned != e_earned:
            report.problems.append(f"{label}: points_earned {earned} != earn entries {e_earned}")
        if redeemed != -e_redeemed:
            report.problems.append(f"{label}: points_redeemed {redeemed} != redeem entries {-e_redeemed}")
        if reversed_ != r_reversed or restored != r_restored:
            report.problems.append(f"{label}: refund points totals do not match its refunds")
        if refunded != r_amount or refunded > bill:
            report.problems.append(f"{label}: refunded {refunded} (refunds {r_amount}) vs bill {bill}")
        if r_reversed + expired > earned:
            report.problems.append(
                f"{label}: refunds took back {r_reversed} and {expired} expired, more than the {earned} it earned"
            )

    hints = _rows(
        f"""
        SELECT c.id, c.number, c.settle_after, c.lifetime_spend, s.next_event, COALESCE(pu.spend, 0)
        FROM loyalty_card c
        LEFT JOIN (
            SELECT card_id, MIN(CASE WHEN activated_at IS NULL AND (expires_at IS NULL OR available_at < expires_at)
                                     THEN available_at ELSE expires_at END) AS next_event
            FROM loyalty_lot
            WHERE remaining > 0 AND (expires_at IS NOT NULL OR activated_at IS NULL) {and_merchant}
            GROUP BY card_id
        ) s ON s.card_id = c.id
        LEFT JOIN (
            SELECT card_id, SUM(bill_amount - refunded_amount) AS spend
            FROM loyalty_purchase {where_plain} GROUP BY card_id
        ) pu ON pu.card_id = c.id
        {where_card}
        """,
        p * 3,
    )
    for card_id, number, settle_after, lifetime_spend, next_event, spend in hints:
        label = f"card {number} (id {card_id})"
        if next_event is not None and (settle_after is None or _aware(settle_after) > _aware(next_event)):
            report.problems.append(
                f"{label}: settle_after {settle_after} is later than the next lot event {next_event}"
            )
        if Decimal(lifetime_spend) != Decimal(spend):
            report.problems.append(f"{label}: lifetime_spend {lifetime_spend} != purchases net of refunds {spend}")

    overdue = _rows(
        f"SELECT COUNT(*), COALESCE(SUM(remaining), 0) FROM loyalty_lot "
        f"WHERE remaining > 0 AND expires_at <= %s {'AND merchant_id = %s' if merchant_id else ''}",
        [now] + p,
    )[0]
    if overdue[0]:
        report.notes.append(
            f"{overdue[0]} expired lots still hold {overdue[1]} points (the expiry job will write them)"
        )
    return report
