"""Tier promotion on the crossing purchase, nightly demotion, windows, events."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from loyalty import ledger
from loyalty.ledger.jobs import demote_tiers
from loyalty.ledger.tasks import demote_tiers_task, nightly_tier_demotion_task
from loyalty.models import Tier, TierChange
from tests.loyalty.conftest import T0, fresh

pytestmark = pytest.mark.django_db


def tier_name(card):
    return fresh(card).tier.name


def test_new_card_starts_on_the_lowest_tier(card):
    assert card.tier.name == "Бронза"


def test_promotion_on_the_purchase_that_crosses_the_threshold(card, buy):
    buy(card, "9999.99")
    assert tier_name(card) == "Бронза"
    p = buy(card, "0.01", now=T0 + timedelta(minutes=1))
    assert tier_name(card) == "Серебро"
    change = TierChange.objects.get()
    assert (change.from_tier_name, change.to_tier_name, change.reason, change.purchase_id) == (
        "Бронза",
        "Серебро",
        "promotion",
        p.pk,
    )
    assert change.spend == Decimal("10000.00")


def test_promotion_can_skip_a_tier_and_new_rate_applies_after(card, buy):
    p = buy(card, "30000")
    assert p.points_earned == 1500  # earned at the tier the card had (Бронза 5 %)
    assert tier_name(card) == "Золото"
    assert buy(card, "1000", now=T0 + timedelta(minutes=1)).points_earned == 100  # Золото 10 %


def test_tier_earn_rate_and_discount(card, buy, rules):
    rules(mechanic="discount")
    buy(card, "10000")
    p = buy(card, "1000", now=T0 + timedelta(minutes=1))
    assert (p.discount_percent, p.discount_amount) == (Decimal("5"), Decimal("50.00"))


def test_refunds_reduce_tier_spend(card, buy, merchant, rules):
    rules(tier_demotion_enabled=True)
    p = buy(card, "12000")
    assert tier_name(card) == "Серебро"
    ledger.refund(merchant=merchant, purchase=p, amount=Decimal("5000"), idempotency_key="r")
    assert tier_name(card) == "Серебро"  # demotion waits for the nightly job
    assert demote_tiers(merchant=merchant, now=T0 + timedelta(days=1)) == 1
    assert tier_name(card) == "Бронза"
    assert TierChange.objects.filter(reason="demotion").get().to_tier_name == "Бронза"


def test_rolling_window_demotion_only_if_enabled(card, buy, merchant, rules):
    rules(tier_window_months=3)
    buy(card, "15000")
    assert tier_name(card) == "Серебро"
    later = T0 + timedelta(days=100)
    assert demote_tiers(merchant=merchant, now=later) == 0  # demotion disabled
    assert tier_name(card) == "Серебро"
    rules(tier_demotion_enabled=True)
    assert demote_tiers(merchant=merchant, now=T0 + timedelta(days=80)) == 0  # still inside the window
    assert demote_tiers_task(merchant.pk, now_iso=later.isoformat()) == 1
    assert tier_name(card) == "Бронза"
    assert demote_tiers(merchant=merchant, now=later) == 0  # idempotent


def test_rolling_window_counts_only_recent_spend_for_promotion(card, buy, rules):
    rules(tier_window_months=1)
    buy(card, "6000")
    buy(card, "6000", now=T0 + timedelta(days=40))
    assert tier_name(card) == "Бронза"
    buy(card, "4000", now=T0 + timedelta(days=41))
    assert tier_name(card) == "Серебро"


def test_nightly_dispatcher_uses_the_merchants_local_night(card, buy, merchant, rules, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    rules(tier_window_months=1, tier_demotion_enabled=True)
    buy(card, "10000")
    with time_machine.travel(datetime(2026, 6, 1, 23, 40, tzinfo=UTC), tick=False):  # 02:40 Moscow
        assert nightly_tier_demotion_task() == 0
    assert tier_name(card) == "Серебро"
    with time_machine.travel(datetime(2026, 6, 2, 0, 40, tzinfo=UTC), tick=False):  # 03:40 Moscow
        assert nightly_tier_demotion_task() == 1
    assert tier_name(card) == "Бронза"


def test_tiers_are_editable(card, buy, merchant, owner, rules):
    tiers = list(Tier.objects.filter(merchant=merchant).order_by("threshold"))
    rules(
        tiers=[
            {"id": tiers[0].pk, "name": "Новичок", "threshold": Decimal("0")},
            {"id": tiers[1].pk, "name": "Друг", "threshold": Decimal("500"), "earn_rate": Decimal("20")},
        ]
    )
    assert Tier.objects.filter(merchant=merchant).count() == 2
    buy(card, "500")
    assert tier_name(card) == "Друг"
    assert buy(card, "100", now=T0 + timedelta(minutes=1)).points_earned == 20


def test_the_nightly_demotion_counts_the_spend_of_merged_customers(enroll, buy, merchant, owner, rules):
    """A merge promotes the kept card on the person's combined spend (loyalty.ledger.merge); the nightly
    demotion must not take it back because the duplicate's purchases stay on the duplicate's card."""
    from loyalty.ledger.merge import merge_customers
    from loyalty.ledger.verification import verify_ledger

    rules(tier_window_months=1, tier_demotion_enabled=True, welcome_bonus=0)
    keep, dup = enroll(), enroll()
    buy(keep, "6000")
    buy(dup, "6000")
    merge_customers(
        merchant=merchant,
        keep=keep.customer,
        duplicate=dup.customer,
        reason="same person",
        actor=owner,
        now=T0 + timedelta(minutes=5),
    )
    assert tier_name(keep) == "Серебро"
    assert demote_tiers(merchant=merchant, now=T0 + timedelta(days=1)) == 0
    assert tier_name(keep) == "Серебро"
    # Once the window has passed both cards' purchases, the person's spend is 0 and the tier falls.
    assert demote_tiers(merchant=merchant, now=T0 + timedelta(days=40)) == 1
    assert tier_name(keep) == "Бронза"
    assert verify_ledger().ok
