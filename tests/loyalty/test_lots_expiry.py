"""Expiry by lots: spends consume the earliest-expiring lots; the job expires
only what is left of expired lots; nothing valid is wiped."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from loyalty import ledger
from loyalty.ledger.jobs import settle_due_cards
from loyalty.ledger.selectors import points_expiring
from loyalty.ledger.tasks import settle_merchant_cards_task
from loyalty.ledger.verification import verify_ledger
from loyalty.models import EntryKind, LedgerEntry, Lot
from tests.loyalty.conftest import T0, fresh

pytestmark = pytest.mark.django_db


def test_expiry_date_is_end_of_local_day(card, buy, rules):
    rules(points_expiry_days=30)
    p = buy(card, "1000")  # T0 = 10 March 12:00 Moscow
    lot = p.lots.get()
    # Valid through 9 April (Moscow), expiring at midnight Moscow = 21:00 UTC on 9 April.
    assert lot.expires_at == datetime(2026, 4, 9, 21, 0, tzinfo=UTC)


def test_spending_consumes_the_earliest_expiring_lots_first(card, buy, rules, merchant, owner):
    rules(points_expiry_days=None)
    ledger.adjust(merchant=merchant, card=card, points=100, reason="never expires", actor=owner, now=T0)
    rules(points_expiry_days=30)
    late = buy(card, "1000", now=T0 + timedelta(days=5)).lots.get()  # 50, expires later
    rules(points_expiry_days=10)
    early = buy(card, "1000", now=T0 + timedelta(days=6)).lots.get()  # 50, expires first
    buy(card, "1000", redeem=70, now=T0 + timedelta(days=7))
    early.refresh_from_db()
    late.refresh_from_db()
    never = Lot.objects.get(kind=EntryKind.ADJUSTMENT)
    assert (early.remaining, late.remaining, never.remaining) == (0, 30, 100)
    redeem = LedgerEntry.objects.filter(kind=EntryKind.REDEEM).order_by("pk")
    assert [(e.lot_id, e.points) for e in redeem] == [(early.pk, -50), (late.pk, -20)]


def test_expiry_job_expires_only_what_is_left_and_nothing_valid(card, buy, rules, merchant):
    rules(points_expiry_days=30)
    old = buy(card, "1000").lots.get()  # 50, expires day 31
    buy(card, "600", redeem=20, now=T0 + timedelta(days=1))  # takes 20 from `old`, +29 new lot
    new = Lot.objects.exclude(pk=old.pk).get()
    assert settle_due_cards(merchant=merchant, now=T0 + timedelta(days=30)) == 0  # still valid on day 30
    settle_merchant_cards_task(merchant.pk, now_iso=(T0 + timedelta(days=31)).isoformat())
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.remaining, new.remaining) == (0, 29)
    expiry = LedgerEntry.objects.get(kind=EntryKind.EXPIRY)
    assert (expiry.lot_id, expiry.points) == (old.pk, -30)
    assert fresh(card).balance == 29
    # Idempotent: a second run writes nothing.
    settle_merchant_cards_task(merchant.pk, now_iso=(T0 + timedelta(days=31, hours=6)).isoformat())
    assert LedgerEntry.objects.filter(kind=EntryKind.EXPIRY).count() == 1
    assert verify_ledger(now=T0 + timedelta(days=31, hours=6)).ok


def test_expired_points_cannot_be_spent_even_before_the_job_runs(card, buy, rules, merchant):
    rules(points_expiry_days=1)
    buy(card, "1000")  # 50 points valid through 11 March
    q = ledger.quote(merchant=merchant, card=fresh(card), bill_amount=Decimal("1000"), now=T0 + timedelta(days=3))
    assert (q.spendable_points, q.max_redeem_points) == (0, 0)
    p = buy(card, "100", now=T0 + timedelta(days=3))  # the purchase settles the card first
    assert LedgerEntry.objects.filter(kind=EntryKind.EXPIRY).count() == 1
    assert fresh(card).balance == p.points_earned


def test_points_expiring_selector(card, enroll, buy, rules, merchant, other_merchant):
    rules(points_expiry_days=30)
    buy(card, "1000")
    other = enroll()
    buy(other, "2000", now=T0 + timedelta(days=20))
    rows = list(points_expiring(merchant=merchant, within_days=14, now=T0 + timedelta(days=20)))
    assert rows == [
        {
            "card_id": card.pk,
            "customer_id": card.customer_id,
            "points": 50,
            "earliest_expiry": datetime(2026, 4, 9, 21, 0, tzinfo=UTC),
        }
    ]
    assert len(points_expiring(merchant=merchant, within_days=60, now=T0 + timedelta(days=20))) == 2
    assert not points_expiring(merchant=other_merchant, within_days=60, now=T0)
