"""Fixtures for the loyalty domain tests: a café's program and a card on it."""

from datetime import UTC, datetime

import pytest

from loyalty.enrollment.services import enroll_customer
from loyalty.program.services import program_for, save_program

# A fixed moment (noon in Moscow) so that days and expiry dates are predictable.
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def program(merchant):
    return program_for(merchant=merchant)


@pytest.fixture
def rules(merchant, owner, program):
    """Change the program's rules: ``rules(cashback_percent=10)``."""

    def change(**changes):
        return save_program(merchant=merchant, actor=owner, **changes)

    return change


@pytest.fixture
def enroll(merchant, location, program):
    counter = iter(range(1000, 9999))

    def make(phone=None, now=T0, **kwargs):
        return enroll_customer(
            merchant=merchant, phone=phone or f"+7916555{next(counter):04d}", location=location, now=now, **kwargs
        )

    return make


@pytest.fixture
def card(enroll, rules):
    """A fresh card with no welcome bonus: balance 0, simple 5 % cashback."""
    rules(welcome_bonus=0, returning_after_days=None)
    return enroll()


@pytest.fixture
def buy(merchant, location):
    counter = iter(range(1, 100000))

    def make(card, bill, *, redeem=0, rewards=0, now=T0, key=None, receipt=None, **kwargs):
        from loyalty.ledger import purchase

        n = next(counter)
        return purchase(
            merchant=merchant,
            card=card,
            location=location,
            bill_amount=bill,
            redeem_points=redeem,
            redeem_rewards=rewards,
            receipt_id=receipt or f"R-{n}",
            idempotency_key=key or f"key-{n}",
            now=now,
            **kwargs,
        )

    return make


def fresh(card):
    card.refresh_from_db()
    return card
