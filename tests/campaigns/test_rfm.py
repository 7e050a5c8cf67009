"""RFM: quintile scores and the named groups on hand-made customers, ties,
the grid, and the nightly beat task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from campaigns.models import RfmGroup, RfmScore
from campaigns.segments.rfm import recompute_rfm, rfm_group_for, rfm_overview
from config.celery import app
from loyalty.enrollment.services import enroll_customer
from loyalty.ledger import purchase
from loyalty.program.services import program_for, save_program
from tests.campaigns.conftest import NOW

pytestmark = pytest.mark.django_db

# Customer i (1..10) makes i purchases of BILL[i] each, the last DAYS_AGO[i] days before NOW.
DAYS_AGO = {1: 5, 2: 50, 3: 3, 4: 40, 5: 1, 6: 30, 7: 10, 8: 20, 9: 60, 10: 2}
BILL = {1: 900, 2: 50, 3: 100, 4: 200, 5: 50, 6: 100, 7: 100, 8: 50, 9: 200, 10: 200}


@pytest.fixture
def receipts():
    return iter(range(1, 10_000))


def make_customer(merchant, name, phone, purchases, receipts):
    card = enroll_customer(merchant=merchant, phone=phone, name=name, now=NOW - timedelta(days=100))
    for when, bill in purchases:
        n = next(receipts)
        purchase(
            merchant=merchant,
            card=card,
            location=None,
            bill_amount=Decimal(bill),
            redeem_points=0,
            redeem_rewards=0,
            receipt_id=f"R-{n}",
            idempotency_key=f"k-{n}",
            now=when,
        )
    return card.customer


@pytest.fixture
def ten(merchant, owner, receipts):
    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, welcome_bonus=0, returning_after_days=None)
    customers = {}
    for i in range(1, 11):
        last = NOW - timedelta(days=DAYS_AGO[i])
        purchases = [(last - timedelta(minutes=i - k), BILL[i]) for k in range(1, i + 1)]
        customers[i] = make_customer(merchant, f"C{i}", f"+7916100{i:04d}", purchases, receipts)
    return customers


def scores(merchant) -> dict[str, tuple[int, int, int, str]]:
    return {
        s.customer.name: (s.recency, s.frequency, s.monetary, s.group)
        for s in RfmScore.objects.for_merchant(merchant).select_related("customer")
    }


def test_quintiles_and_groups_worked_out_by_hand(merchant, ten):
    assert recompute_rfm(merchant=merchant, now=NOW) == 10
    # Recency, oldest last purchase first: C9 C2 | C4 C6 | C8 C7 | C1 C3 | C10 C5.
    # Frequency (C_i bought i times): C1 C2 | C3 C4 | C5 C6 | C7 C8 | C9 C10.
    # Spend: C2 100, C5 250 | C3 300, C8 400 | C6 600, C7 700 | C4 800, C1 900 | C9 1 800, C10 2 000.
    assert scores(merchant) == {
        "C1": (4, 1, 4, RfmGroup.PROMISING),
        "C2": (1, 1, 1, RfmGroup.LOST),
        "C3": (4, 2, 2, RfmGroup.POTENTIAL_LOYALISTS),
        "C4": (2, 2, 4, RfmGroup.HIBERNATING),
        "C5": (5, 3, 1, RfmGroup.POTENTIAL_LOYALISTS),
        "C6": (2, 3, 3, RfmGroup.AT_RISK),
        "C7": (3, 4, 3, RfmGroup.LOYAL),
        "C8": (3, 4, 2, RfmGroup.LOYAL),
        "C9": (1, 5, 5, RfmGroup.CANT_LOSE),
        "C10": (5, 5, 5, RfmGroup.CHAMPIONS),
    }


def test_the_grid_counts_each_cell_and_group(merchant, ten):
    recompute_rfm(merchant=merchant, now=NOW)
    overview = rfm_overview(merchant=merchant)
    assert overview.scored == 10
    cells = {(cell.recency, cell.frequency): cell.count for row in overview.grid for cell in row}
    assert len(cells) == 25
    assert {k: v for k, v in cells.items() if v} == {
        (4, 1): 1,
        (1, 1): 1,
        (4, 2): 1,
        (2, 2): 1,
        (5, 3): 1,
        (2, 3): 1,
        (3, 4): 2,
        (1, 5): 1,
        (5, 5): 1,
    }
    # The top row is recency 5, columns frequency 1..5.
    assert [cell.frequency for cell in overview.grid[0]] == [1, 2, 3, 4, 5]
    assert overview.grid[0][0].recency == 5
    per_group = {group.value: n for group, _explanation, n in overview.groups}
    assert per_group["loyal"] == 2 and per_group["potential_loyalists"] == 2 and per_group["new"] == 0
    assert sum(per_group.values()) == 10
    assert len(overview.groups) == 11 and all(str(explanation) for _g, explanation, _n in overview.groups)


def test_every_cell_of_the_grid_has_one_named_group():
    grid = {(r, f): rfm_group_for(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert set(grid.values()) == set(RfmGroup)
    assert grid[(5, 5)] == RfmGroup.CHAMPIONS
    assert grid[(5, 1)] == RfmGroup.NEW
    assert grid[(1, 1)] == RfmGroup.LOST
    assert grid[(1, 5)] == RfmGroup.CANT_LOSE
    assert grid[(3, 3)] == RfmGroup.NEED_ATTENTION


def test_equal_values_get_equal_scores(merchant, owner, receipts):
    program_for(merchant=merchant)
    day = NOW - timedelta(days=3)
    # Same day for everyone; purchases 1, 1, 1, 2, 3; spend 100 each purchase.
    for i, count in enumerate([1, 1, 1, 2, 3], start=1):
        make_customer(
            merchant, f"T{i}", f"+7916200{i:04d}", [(day + timedelta(minutes=k), 100) for k in range(count)], receipts
        )
    recompute_rfm(merchant=merchant, now=NOW)
    # NTILE over five rows gives 1..5; the three one-time buyers share the lowest, 1.
    assert {name: (r, f, m) for name, (r, f, m, _g) in scores(merchant).items()} == {
        "T1": (1, 1, 1),
        "T2": (1, 1, 1),
        "T3": (1, 1, 1),
        "T4": (1, 4, 4),
        "T5": (1, 5, 5),
    }


def test_recompute_is_idempotent_and_drops_customers_no_longer_scored(merchant, ten, other_merchant):
    never = enroll_customer(merchant=merchant, phone="+79163000001", name="Never", now=NOW).customer
    RfmScore.objects.create(
        merchant=merchant, customer=never, recency=5, frequency=5, monetary=5, group="champions", computed_at=NOW
    )
    recompute_rfm(merchant=merchant, now=NOW)
    first = scores(merchant)
    assert "Never" not in first
    recompute_rfm(merchant=merchant, now=NOW + timedelta(minutes=5))
    assert scores(merchant) == first
    # Another merchant's recompute touches nothing of this one.
    program_for(merchant=other_merchant)
    recompute_rfm(merchant=other_merchant, now=NOW)
    assert scores(merchant) == first


def test_the_nightly_beat_entry_recomputes_in_the_merchants_night(merchant, ten, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    call_command("setup_periodic_tasks", stdout=open("/dev/null", "w"))
    entry = PeriodicTask.objects.get(name="campaigns: nightly RFM scores")
    assert entry.enabled and entry.crontab.minute == "45" and entry.crontab.hour == "*"
    task = app.tasks[entry.task]
    with time_machine.travel(datetime(2026, 3, 11, 0, 45, tzinfo=UTC), tick=False):  # 03:45 in Moscow
        assert task() == []
    assert not RfmScore.objects.for_merchant(merchant).exists()
    with time_machine.travel(datetime(2026, 3, 11, 1, 45, tzinfo=UTC), tick=False):  # 04:45 in Moscow
        assert task() == [merchant.pk]
    assert RfmScore.objects.for_merchant(merchant).count() == 10
    assert RfmScore.objects.for_merchant(merchant).values_list("computed_at", flat=True).distinct().get() == datetime(
        2026, 3, 11, 1, 45, tzinfo=UTC
    )


def test_the_per_merchant_task_skips_a_merchant_that_is_gone(merchant, ten):
    from campaigns.segments.tasks import recompute_rfm_for_merchant_task

    assert recompute_rfm_for_merchant_task(merchant.pk) == 10
    merchant.is_active = False
    merchant.save(update_fields=["is_active"])
    assert recompute_rfm_for_merchant_task(merchant.pk) == 0
    assert recompute_rfm_for_merchant_task(10**9) == 0
