"""verify_ledger passes on a ledger written by the services and catches corruption."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from loyalty import ledger
from tests.loyalty.conftest import T0

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(card, buy, merchant, owner):
    ledger.adjust(merchant=merchant, card=card, points=100, reason="gift", actor=owner, now=T0)
    p = buy(card, "1000", redeem=100, now=T0 + timedelta(minutes=1))
    buy(card, "500", now=T0 + timedelta(minutes=2))
    ledger.refund(merchant=merchant, purchase=p, idempotency_key="r", now=T0 + timedelta(minutes=3))
    return card


def run(*args):
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command("verify_ledger", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_passes_and_says_what_it_checked(history, merchant):
    out, _ = run()
    assert "1 cards" in out and "purchases" in out and "OK" in out
    out, _ = run("--merchant", str(merchant.pk))
    assert f"merchant {merchant.pk}" in out and "OK" in out


def test_fails_on_a_corrupted_cached_balance(history):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_card SET balance = balance + 7 WHERE id = %s", [history.pk])
    with pytest.raises(CommandError, match="mismatch"):
        run()


def test_fails_on_a_corrupted_lot(history):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE loyalty_lot SET remaining = remaining - 1 WHERE id = "
            "(SELECT MIN(id) FROM loyalty_lot WHERE card_id = %s AND remaining > 0)",
            [history.pk],
        )
    with pytest.raises(CommandError):
        run()


def test_fails_on_corrupted_pending_and_purchase_totals(history):
    from loyalty.ledger.verification import verify_ledger

    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_card SET pending_points = 1 WHERE id = %s", [history.pk])
        cursor.execute("UPDATE loyalty_purchase SET points_earned = points_earned + 1")
    report = verify_ledger()
    assert any("pending" in p for p in report.problems)
    assert any("points_earned" in p for p in report.problems)


def test_unknown_merchant(history):
    with pytest.raises(CommandError, match="No merchant"):
        run("--merchant", "999999")


def test_fails_on_a_late_settle_hint_or_wrong_lifetime_spend(history):
    from loyalty.ledger.verification import verify_ledger

    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_card SET settle_after = NULL, lifetime_spend = 1 WHERE id = %s", [history.pk])
    problems = verify_ledger().problems
    assert any("settle_after" in p for p in problems)
    assert any("lifetime_spend" in p for p in problems)


def test_catches_a_refund_that_took_expired_points_again(card, buy, merchant, rules, monkeypatch):
    """Defect 13's state, written by the old refund logic (which ignored what had
    expired): reversed 50 + expired 20 > earned 50. Every other invariant holds."""
    from loyalty.ledger import refunds
    from loyalty.ledger.verification import verify_ledger

    rules(points_expiry_days=30, max_redeem_percent=100)
    a = buy(card, "1000")
    buy(card, "960", now=T0 + timedelta(days=10))
    buy(card, "30", redeem=30, now=T0 + timedelta(days=20))
    monkeypatch.setattr(refunds, "expired_from_purchase", lambda batch, p: 0)
    r = ledger.refund(merchant=merchant, purchase=a, idempotency_key="r", now=T0 + timedelta(days=35))
    card.refresh_from_db()
    assert (r.points_reversed, card.balance, card.debt) == (50, -2, 2)  # the bad state the issue describes
    report = verify_ledger()
    assert len(report.problems) == 1
    assert "20 expired" in report.problems[0] and "50 it earned" in report.problems[0]
    with pytest.raises(CommandError):
        run()
