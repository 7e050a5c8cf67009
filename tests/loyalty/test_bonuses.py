"""Welcome, birthday, referral and returning-customer bonuses."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from loyalty.ledger.jobs import grant_birthday_bonuses
from loyalty.ledger.tasks import birthday_bonuses_task, grant_birthday_bonuses_task
from loyalty.models import EntryKind, LedgerEntry
from tests.loyalty.conftest import T0, fresh

pytestmark = pytest.mark.django_db


def test_welcome_bonus_on_enrolment(enroll, rules):
    rules(welcome_bonus=150)
    card = enroll()
    assert card.balance == 150
    entry = LedgerEntry.objects.get(card=card)
    assert (entry.kind, entry.points, entry.idempotency_key) == (
        EntryKind.BONUS_WELCOME,
        150,
        f"welcome:{card.customer_id}",
    )


def test_no_welcome_bonus_when_zero_or_no_points_mechanic(enroll, rules):
    rules(welcome_bonus=0)
    assert enroll().balance == 0
    rules(welcome_bonus=100, mechanic="stamps")
    assert enroll().balance == 0


# --- birthday -----------------------------------------------------------------------------------


@pytest.fixture
def birthday_rules(rules):
    rules(birthday_bonus=300, birthday_days_before=3, birthday_valid_days=14, welcome_bonus=0)


def test_birthday_bonus_days_before_and_valid_for(enroll, birthday_rules, merchant):
    card = enroll(birthday=date(1990, 3, 13))
    too_early = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # 4 days before
    assert grant_birthday_bonuses(merchant=merchant, now=too_early) == 0
    now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 3 days before
    assert grant_birthday_bonuses(merchant=merchant, now=now) == 1
    entry = LedgerEntry.objects.get(card=card, kind=EntryKind.BONUS_BIRTHDAY)
    assert entry.points == 300
    assert entry.idempotency_key == f"birthday:{card.customer_id}:2026"
    assert entry.lot.expires_at == datetime(2026, 3, 24, 21, 0, tzinfo=UTC)  # through 24 March Moscow
    assert fresh(card).balance == 300


def test_birthday_bonus_is_granted_once_per_year(enroll, birthday_rules, merchant):
    card = enroll(birthday=date(1990, 3, 13))
    for day in range(10, 14):  # the window overlaps four runs
        grant_birthday_bonuses_task(merchant.pk, now_iso=datetime(2026, 3, day, 9, tzinfo=UTC).isoformat())
    assert LedgerEntry.objects.filter(card=card, kind=EntryKind.BONUS_BIRTHDAY).count() == 1
    grant_birthday_bonuses(merchant=merchant, now=datetime(2027, 3, 12, 9, tzinfo=UTC))
    assert LedgerEntry.objects.filter(card=card, kind=EntryKind.BONUS_BIRTHDAY).count() == 2


def test_birthday_is_decided_in_the_merchants_time_zone(enroll, rules, merchant):
    rules(birthday_bonus=300, birthday_days_before=0, welcome_bonus=0)
    card = enroll(birthday=date(1990, 3, 11))
    # 22:30 UTC on 10 March is already 11 March in Moscow.
    assert grant_birthday_bonuses(merchant=merchant, now=datetime(2026, 3, 10, 20, 30, tzinfo=UTC)) == 0
    assert grant_birthday_bonuses(merchant=merchant, now=datetime(2026, 3, 10, 22, 30, tzinfo=UTC)) == 1
    assert fresh(card).balance == 300


def test_leap_day_birthday_in_a_common_year(enroll, rules, merchant):
    rules(birthday_bonus=300, birthday_days_before=0, welcome_bonus=0)
    card = enroll(birthday=date(2000, 2, 29))
    assert grant_birthday_bonuses(merchant=merchant, now=datetime(2027, 2, 28, 9, tzinfo=UTC)) == 1
    assert fresh(card).balance == 300


def test_birthday_dispatcher_runs_at_the_local_morning_hour(enroll, birthday_rules, merchant, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    card = enroll(birthday=date(1990, 3, 12))
    with time_machine.travel(datetime(2026, 3, 10, 5, 20, tzinfo=UTC), tick=False):  # 08:20 Moscow
        assert birthday_bonuses_task() == 0
    with time_machine.travel(datetime(2026, 3, 10, 6, 20, tzinfo=UTC), tick=False):  # 09:20 Moscow
        assert birthday_bonuses_task() == 1
    assert fresh(card).balance == 300


# --- referral -------------------------------------------------------------------------------------


@pytest.fixture
def referral_rules(rules):
    rules(referral_referrer_bonus=100, referral_friend_bonus=50, referral_cap=2, welcome_bonus=0)


def test_referral_bonuses_after_the_friends_first_purchase(enroll, buy, referral_rules):
    referrer = enroll()
    friend = enroll(referral_code=referrer.customer.referral_code.lower(), source="referral")
    assert friend.customer.referred_by_id == referrer.customer_id
    assert fresh(referrer).balance == 0 and fresh(friend).balance == 0  # nothing until a purchase
    buy(friend, "1000")
    assert fresh(referrer).balance == 100
    assert fresh(friend).balance == 50 + 50
    buy(friend, "1000", now=T0 + timedelta(days=1))  # only the first purchase counts
    assert fresh(referrer).balance == 100


def test_referral_cap_per_referrer(enroll, buy, referral_rules):
    referrer = enroll()
    friends = [enroll(referral_code=referrer.customer.referral_code) for _ in range(3)]
    for friend in friends:
        buy(friend, "100")
    assert fresh(referrer).balance == 200  # capped at 2
    assert all(fresh(f).balance == 50 + 5 for f in friends)  # friends always get theirs


def test_unknown_referral_code_is_refused(enroll, referral_rules):
    from loyalty.exceptions import LoyaltyError

    with pytest.raises(LoyaltyError) as exc:
        enroll(referral_code="NOPE1234")
    assert (exc.value.code, exc.value.field) == ("referral_code_not_found", "referral_code")


# --- returning customer -----------------------------------------------------------------------------


def test_returning_customer_multiplier_on_next_purchases(card, buy, rules):
    rules(returning_after_days=30, returning_multiplier=Decimal("2"), returning_purchases=2)
    assert buy(card, "1000").points_earned == 50
    assert buy(card, "1000", now=T0 + timedelta(days=29)).points_earned == 50  # not away long enough
    back = T0 + timedelta(days=59)
    p = buy(card, "1000", now=back)
    assert p.points_earned == 100
    assert "returning" in LedgerEntry.objects.get(purchase=p, kind=EntryKind.EARN).reason
    assert buy(card, "1000", now=back + timedelta(days=1)).points_earned == 100
    assert buy(card, "1000", now=back + timedelta(days=2)).points_earned == 50
