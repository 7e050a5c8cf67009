"""Days are the merchant's days, also on the two days a year that have 23 or 25 hours. A café in Berlin:
summer time starts on 29 March 2026 (02:00 → 03:00, a 23-hour day) and ends on 25 October 2026
(03:00 → 02:00, a 25-hour day). The answers below are worked out by hand in UTC."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from loyalty import ledger
from loyalty.enrollment.services import enroll_customer
from loyalty.ledger.verification import verify_ledger
from loyalty.models import Lot
from loyalty.program.services import program_for, save_program
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def berlin(db):
    merchant = factories.MerchantFactory(name="Café Berlin", country="DE", currency="EUR", time_zone="Europe/Berlin")
    owner = factories.UserFactory(merchant=merchant, role="owner", email="owner@berlin.test")
    location = factories.LocationFactory(merchant=merchant, name="Mitte")
    program_for(merchant=merchant)
    return merchant, owner, location


def card_of(merchant, location, now):
    with time_machine.travel(now, tick=False):
        return enroll_customer(merchant=merchant, phone="+4915112345678", location=location)


def buy(merchant, location, card, at: datetime, bill="1000.00"):
    with time_machine.travel(at, tick=False):
        return ledger.purchase(
            merchant=merchant,
            card=card,
            location=location,
            bill_amount=Decimal(bill),
            receipt_id=f"R-{at.isoformat()}",
            idempotency_key=f"k-{at.isoformat()}",
        )


def test_points_valid_one_day_expire_at_local_midnight_after_the_23_hour_day(berlin):
    merchant, owner, location = berlin
    save_program(
        merchant=merchant, actor=owner, cashback_percent=Decimal("5"), welcome_bonus=0, points_expiry_days=1,
        returning_after_days=None, point_value=Decimal("1"),  # a point of 1 EUR (the default is a cent): 50 points
    )  # fmt: skip
    bought_at = datetime(2026, 3, 28, 11, 0, tzinfo=UTC)  # Saturday 12:00 CET
    card = card_of(merchant, location, bought_at)
    assert buy(merchant, location, card, bought_at).points_earned == 50
    [lot] = Lot.objects.filter(card=card)
    # Valid through Sunday 29 March (local), gone at Monday 00:00 CEST = Sunday 22:00 UTC
    # (not 23:00 UTC, which 48 hours after Saturday's midnight would give).
    assert lot.expires_at == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)

    ledger.settle_card(merchant=merchant, card=card.pk, now=datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC))
    card.refresh_from_db()
    assert card.balance == 50
    ledger.settle_card(merchant=merchant, card=card.pk, now=datetime(2026, 3, 29, 22, 0, 1, tzinfo=UTC))
    card.refresh_from_db()
    assert card.balance == 0
    assert verify_ledger(merchant_id=merchant.pk, now=datetime(2026, 3, 30, 12, 0, tzinfo=UTC)).ok


@pytest.mark.parametrize(
    "first, same_day, next_day",
    [
        # 29 March 2026, 23 hours: 00:00 CET = 28 Mar 23:00 UTC … 24:00 CEST = 29 Mar 22:00 UTC.
        (
            datetime(2026, 3, 28, 23, 30, tzinfo=UTC),  # 00:30 local
            datetime(2026, 3, 29, 21, 30, tzinfo=UTC),  # 23:30 local, 22 hours later
            datetime(2026, 3, 29, 22, 0, 1, tzinfo=UTC),  # 00:00:01 on the 30th
        ),
        # 25 October 2026, 25 hours: 00:00 CEST = 24 Oct 22:00 UTC … 24:00 CET = 25 Oct 23:00 UTC.
        (
            datetime(2026, 10, 24, 22, 30, tzinfo=UTC),  # 00:30 local
            datetime(2026, 10, 25, 22, 30, tzinfo=UTC),  # 23:30 local, 24 hours later: still the same day
            datetime(2026, 10, 25, 23, 0, 1, tzinfo=UTC),  # 00:00:01 on the 26th
        ),
    ],
    ids=["23-hour day", "25-hour day"],
)
def test_daily_earn_cap_counts_the_merchants_day_across_a_clock_change(berlin, first, same_day, next_day):
    merchant, owner, location = berlin
    save_program(
        merchant=merchant, actor=owner, cashback_percent=Decimal("5"), welcome_bonus=0, daily_earn_cap=50,
        returning_after_days=None,
    )  # fmt: skip
    card = card_of(merchant, location, first - timedelta(days=1))
    assert buy(merchant, location, card, first).points_earned == 50
    assert buy(merchant, location, card, same_day).points_earned == 0  # the cap is used up for this day
    assert buy(merchant, location, card, next_day).points_earned == 50  # a new local day
    card.refresh_from_db()
    assert card.balance == 100
    assert verify_ledger(merchant_id=merchant.pk, now=next_day + timedelta(hours=1)).ok
