"""The summary tables: the incremental refresh, step by step, ends where a full
rebuild does; a rerun adds nothing; rows younger than the lag wait for the
next run; the nightly task and the beat schedule are in place."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django_celery_beat.models import PeriodicTask

from analytics import summaries
from analytics.models import SummaryState
from analytics.tasks import nightly_summaries_task, refresh_summaries_task
from loyalty.enrollment.services import enroll_customer
from loyalty.ledger import purchase, refund
from loyalty.models import LedgerEntry, Purchase
from merchants.models import Location
from tests import factories
from tests.analytics.test_metrics import NOW, msk

pytestmark = pytest.mark.django_db

# After every row of the shop below (its last purchases are late in March).
LATER = NOW + timedelta(days=30)

TABLES = {
    summaries.DM_TABLE: "merchant_id, day",
    summaries.DL_TABLE: "merchant_id, location_id, day",
    summaries.CS_TABLE: "card_id",
    summaries.CM_TABLE: "card_id, month, location_id",
    summaries.BC_TABLE: "merchant_id, location_id, kind, month, prev_month, first_month, next_month",
}


def snapshot() -> dict[str, list[tuple]]:
    out = {}
    with connection.cursor() as cursor:
        for table, order in TABLES.items():
            cursor.execute(f"SELECT * FROM {table} ORDER BY {order}")
            out[table] = [row[1:] for row in cursor.fetchall()]  # without the surrogate id
    return out


@pytest.fixture
def shop(merchant, location):
    """Two locations, a dozen customers, purchases spread over months (some
    out of order in time), redemptions and refunds; a few events happen
    between refresh runs."""
    l2 = factories.LocationFactory(merchant=merchant, name="Арбат")
    events = []
    cards = [
        enroll_customer(
            merchant=merchant, phone=f"+7916111{i:04d}", location=(location, l2, None)[i % 3], now=msk(2025, 12, 1 + i)
        )
        for i in range(12)
    ]
    n = 0
    for month in (12, 1, 2, 3):
        year = 2025 if month == 12 else 2026
        for i, card in enumerate(cards):
            if (i + month) % 4 == 0:
                continue
            n += 1
            at = msk(year, month, 1 + (i * 7 + month) % 27, 10 + i % 8)
            p = purchase(
                merchant=merchant,
                card=card,
                location=(location, l2, None)[(i + month) % 3],
                bill_amount=Decimal(100 + 37 * i + month),
                receipt_id=f"R{n}",
                idempotency_key=f"k{n}",
                now=at,
            )
            events.append(p)
            if n % 5 == 0:
                refund(
                    merchant=merchant,
                    purchase=p,
                    amount=Decimal("20"),
                    idempotency_key=f"rf{n}",
                    now=at + timedelta(days=2),
                )
    return cards


def test_incremental_refresh_equals_a_full_rebuild(merchant, shop):
    # The refresh runs "every few minutes": here it stops after every 7th purchase (in id order),
    # at cut points that fall between a purchase and its entries, refunds and cards.
    ids = list(Purchase.objects.order_by("pk").values_list("pk", flat=True))
    marks = []
    for pk in ids[::7]:
        _refresh_up_to(pk)
        marks.append(SummaryState.objects.get(key=summaries.STATE_KEY).purchase_hwm)
    assert len(set(marks)) > 3, "the refresh did not run in steps"
    summaries.refresh(now=LATER, lag=timedelta(0))
    incremental = snapshot()
    assert incremental[summaries.CS_TABLE], "the refresh counted nothing"
    summaries.rebuild(now=LATER, lag=timedelta(0))
    rebuilt = snapshot()
    for table in TABLES:
        assert rebuilt[table] == incremental[table], table


def _refresh_up_to(purchase_id: int) -> None:
    """One refresh whose snapshot ends at ``purchase_id``: rows above it are
    'younger than the lag' from its point of view."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(created_at) FROM loyalty_purchase WHERE id <= %s", [purchase_id])
        (at,) = cursor.fetchone()
    # Rows created after ``at`` are younger than lag=0 at now=at, so the refresh stops before the first of them.
    summaries.refresh(now=at, lag=timedelta(0))


def test_a_rerun_adds_nothing(merchant, shop):
    first = summaries.refresh(now=LATER, lag=timedelta(0))
    assert first.purchases > 0 and first.entries > 0 and first.refunds > 0 and first.cards > 0
    version = SummaryState.objects.get(key=summaries.STATE_KEY).version
    counted = snapshot()
    again = summaries.refresh(now=LATER, lag=timedelta(0))
    assert not again.changed
    assert snapshot() == counted
    assert SummaryState.objects.get(key=summaries.STATE_KEY).version == version


def test_rows_younger_than_the_lag_wait_for_the_next_run(merchant, shop):
    summaries.refresh(now=LATER, lag=timedelta(0))
    card = shop[0]
    late = purchase(
        merchant=merchant,
        card=card,
        location=None,
        bill_amount=Decimal("555"),
        receipt_id="late",
        idempotency_key="late",
        now=LATER + timedelta(minutes=10),
    )
    early = summaries.refresh(now=LATER + timedelta(minutes=11), lag=timedelta(minutes=2))
    assert (early.purchases, early.entries) == (0, 0)
    assert SummaryState.objects.get(key=summaries.STATE_KEY).purchase_hwm < late.pk
    later = summaries.refresh(now=LATER + timedelta(minutes=13), lag=timedelta(minutes=2))
    state = SummaryState.objects.get(key=summaries.STATE_KEY)
    assert state.purchase_hwm == late.pk
    assert state.entry_hwm == LedgerEntry.objects.filter(purchase=late).order_by("pk").last().pk
    assert later.purchases == 1
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT purchases, bill_total FROM {summaries.CS_TABLE} WHERE card_id = %s", [card.pk])
        purchases, bill = cursor.fetchone()
    assert purchases == Purchase.objects.filter(card=card).count()
    assert bill == sum(p.bill_amount for p in Purchase.objects.filter(card=card))


def test_the_tasks_refresh_and_rebuild(merchant, shop):
    refresh_summaries_task()  # the default lag: the hand-made history is months old
    counted = snapshot()
    assert counted[summaries.DM_TABLE]
    nightly_summaries_task()
    assert snapshot() == counted
    state = SummaryState.objects.get(key=summaries.STATE_KEY)
    assert state.rebuilt_at is not None and state.cohorts_at is not None


def test_the_beat_schedule_declares_the_analytics_tasks():
    call_command("setup_periodic_tasks", stdout=open("/dev/null", "w"))
    names = set(PeriodicTask.objects.filter(enabled=True).values_list("task", flat=True))
    assert {"analytics.tasks.refresh_summaries_task", "analytics.tasks.nightly_summaries_task"} <= names


def _direct_buyers(merchant, first: date, last: date, location, upto: int) -> tuple[int, int]:
    """Distinct buyers and repeat buyers of the months [first, last] counted straight from
    the purchases (ids up to ``upto``): the definition in analytics/metrics.py."""
    where = "AND p.location_id = %(loc)s" if location is not None else ""
    month = "date_trunc('month', p.created_at AT TIME ZONE m.time_zone)::date"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*), count(*) FILTER (WHERE s.visits >= 2 OR f.first_month < %(a)s)
            FROM (SELECT p.card_id, count(*) AS visits
                  FROM loyalty_purchase p JOIN merchants_merchant m ON m.id = p.merchant_id
                  WHERE p.merchant_id = %(mid)s AND p.id <= %(upto)s AND {month} BETWEEN %(a)s AND %(b)s {where}
                  GROUP BY p.card_id) s
            JOIN (SELECT p.card_id, min({month}) AS first_month
                  FROM loyalty_purchase p JOIN merchants_merchant m ON m.id = p.merchant_id
                  WHERE p.merchant_id = %(mid)s AND p.id <= %(upto)s GROUP BY p.card_id) f ON f.card_id = s.card_id
            """,
            {"mid": merchant.pk, "upto": upto, "a": first, "b": last, "loc": location.pk if location else None},
        )
        return cursor.fetchone()


def _assert_every_range_exact(merchant, locations) -> int:
    from analytics import metrics

    upto = SummaryState.objects.get(key=summaries.STATE_KEY).purchase_hwm
    months = [date(2025, 11, 1)] + [metrics.add_months(date(2025, 11, 1), i) for i in range(1, 7)]
    checked = 0
    for i, a in enumerate(months):
        for b in months[i:]:
            for location in (None, *locations):
                got = metrics._buyers(merchant=merchant, period=metrics.Period(a, b), location=location)
                assert got == _direct_buyers(merchant, a, b, location, upto), (a, b, location)
                checked += got[0]
    return checked


def test_buyers_of_every_range_are_exact_through_refreshes_back_dating_and_a_rebuild(merchant, location, shop):
    """The buyer counts give, for every range of months, every location and the whole
    business, the buyers and repeat buyers a direct count of the purchases gives: after
    each step of the refresh, after purchases dated into closed months (a new first month,
    a month filled in between two others) and after the rebuild, which recounts the same rows."""
    l2 = Location.objects.get(merchant=merchant, name="Арбат")
    ids = list(Purchase.objects.order_by("pk").values_list("pk", flat=True))
    for pk in ids[::11]:
        _refresh_up_to(pk)
        _assert_every_range_exact(merchant, [location, l2])
    summaries.refresh(now=LATER, lag=timedelta(0))
    assert _assert_every_range_exact(merchant, [location, l2]) > 0
    back_dated = [
        (shop[2], location, msk(2026, 2, 27)),  # (2 + 2) % 4 == 0: had skipped February
        (shop[3], l2, msk(2025, 11, 20)),  # before the shop's first month: a new first month
        (shop[7], None, msk(2026, 1, 5)),  # (7 + 1) % 4 == 0: fills January between December and February
        (shop[7], location, msk(2026, 1, 6)),  # a second January visit at another place
        (shop[5], location, LATER - timedelta(minutes=5)),  # and one this month
    ]
    for n, (card, where, at) in enumerate(back_dated):
        purchase(
            merchant=merchant,
            card=card,
            location=where,
            bill_amount=Decimal("10"),
            receipt_id=f"late{n}",
            idempotency_key=f"late{n}",
            now=at,
        )
        summaries.refresh(now=LATER, lag=timedelta(0))
        _assert_every_range_exact(merchant, [location, l2])
    incremental = snapshot()
    summaries.rebuild(now=LATER, lag=timedelta(0))
    assert snapshot() == incremental
    _assert_every_range_exact(merchant, [location, l2])


def test_three_decimal_money_is_summed_exactly_by_the_refresh_and_the_rebuild(db):
    """A dinar café (KWD, three decimals): the summaries keep every fils, so the incremental
    refresh, the nightly rebuild and the ledger's own sums agree to the last digit."""
    from analytics.models import CustomerStats, DailyMerchantStats

    dinar = factories.MerchantFactory(name="Dinar café", currency="KWD", country="KW", time_zone="Asia/Kuwait")
    where = factories.LocationFactory(merchant=dinar)
    card = enroll_customer(merchant=dinar, phone="+96550000001", location=where, now=msk(2026, 1, 2))
    bills = [Decimal("1.234"), Decimal("2.344"), Decimal("0.001")]
    for n, bill in enumerate(bills):
        p = purchase(
            merchant=dinar,
            card=card,
            location=where,
            bill_amount=bill,
            receipt_id=f"K{n}",
            idempotency_key=f"kwd{n}",
            now=msk(2026, 1, 5 + n, 12),
        )
    refund(merchant=dinar, purchase=p, amount=Decimal("0.001"), idempotency_key="kwd-rf", now=msk(2026, 1, 9, 12))
    expected_bills = sum(bills)  # 3.579; two decimals would make it 3.57
    for run in (summaries.refresh, summaries.rebuild):
        run(now=LATER, lag=timedelta(0))
        days = DailyMerchantStats.objects.filter(merchant=dinar)
        assert sum(d.bill_total for d in days) == expected_bills == Decimal("3.579"), run.__name__
        assert sum(d.refund_total for d in days) == Decimal("0.001"), run.__name__
        stats = CustomerStats.objects.get(merchant=dinar)
        assert (stats.bill_total, stats.refund_total) == (Decimal("3.579"), Decimal("0.001")), run.__name__


def test_the_nightly_command_rebuilds_and_fits_every_merchant_now(merchant, shop):
    """``manage.py analytics_nightly`` (run by ``make run`` once the demo has loaded): the
    summaries with cohorts, and a prediction fit recorded for each active merchant."""
    from analytics.models import PredictionFit

    other = factories.MerchantFactory()
    call_command("analytics_nightly", stdout=open("/dev/null", "w"))
    state = SummaryState.objects.get(key=summaries.STATE_KEY)
    assert state.rebuilt_at is not None and state.cohorts_at is not None
    assert snapshot()[summaries.DM_TABLE]
    assert set(PredictionFit.objects.values_list("merchant_id", flat=True)) == {merchant.pk, other.pk}
