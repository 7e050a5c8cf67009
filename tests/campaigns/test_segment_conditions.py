"""Each segment condition on the hand-made shop of conftest.py: the expected
names are worked out by hand from its table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import translation

from campaigns.exceptions import SegmentDefinitionError
from campaigns.segments.query import audience_for, customers_in_segment
from campaigns.segments.rfm import recompute_rfm
from loyalty.models import Lot, Tier
from tests import factories
from tests.campaigns.conftest import NOW

pytestmark = pytest.mark.django_db


def names(merchant, *conditions, match="all", now=NOW, groups=None) -> set[str]:
    definition = {"match": match, "groups": groups or [{"match": "all", "conditions": list(conditions)}]}
    return set(customers_in_segment(merchant=merchant, definition=definition, now=now).values_list("name", flat=True))


def c(field, op=None, value=None, **extra) -> dict:
    condition = {"field": field, "value": value, **extra}
    if op:
        condition["op"] = op
    return condition


def test_days_since_last_purchase(shop):
    m = shop.merchant
    # Anna bought 2 days ago, Boris 90, Gleb today; Vera never.
    assert names(m, c("days_since_last_purchase", "gte", 30)) == {"Boris"}
    assert names(m, c("days_since_last_purchase", "gte", 90)) == {"Boris"}
    assert names(m, c("days_since_last_purchase", "gte", 91)) == set()
    assert names(m, c("days_since_last_purchase", "lte", 2)) == {"Anna", "Gleb"}
    assert names(m, c("days_since_last_purchase", "eq", 2)) == {"Anna"}
    assert names(m, c("days_since_last_purchase", "eq", 0)) == {"Gleb"}
    assert names(m, c("days_since_last_purchase", "between", [1, 90])) == {"Anna", "Boris"}


def test_days_are_counted_in_the_merchants_time_zone(shop):
    # 22:30 UTC on 10 March is already 11 March in Moscow: Gleb's purchase was yesterday there.
    late = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)
    assert names(shop.merchant, c("days_since_last_purchase", "eq", 1), now=late) == {"Gleb"}
    assert names(shop.merchant, c("days_since_last_purchase", "eq", 0), now=late) == set()


def test_number_of_purchases_all_time_and_in_a_period(shop):
    m = shop.merchant
    assert names(m, c("purchase_count", "gte", 2)) == {"Anna", "Gleb"}
    assert names(m, c("purchase_count", "eq", 0)) == {"Vera"}
    assert names(m, c("purchase_count", "lte", 1)) == {"Boris", "Vera"}
    # The last 30 days start on 9 February: Anna 1 (8 March), Gleb 3.
    assert names(m, c("purchase_count", "gte", 1, days=30)) == {"Anna", "Gleb"}
    assert names(m, c("purchase_count", "eq", 0, days=30)) == {"Boris", "Vera"}
    # The last 10 days start on 1 March (Gleb's first purchase that day counts), 9 days on 2 March.
    assert names(m, c("purchase_count", "eq", 3, days=10)) == {"Gleb"}
    assert names(m, c("purchase_count", "eq", 2, days=9)) == {"Gleb"}


def test_spend_all_time_and_in_a_period(shop):
    m = shop.merchant
    # All time: Anna 1 500, Boris 3 000, Gleb 600, Vera 0.
    assert names(m, c("spend", "gte", "1500")) == {"Anna", "Boris"}
    assert names(m, c("spend", "between", ["500", "1500"])) == {"Anna", "Gleb"}
    # Last 30 days: Anna 1 000, Gleb 600, Boris and Vera nothing.
    assert names(m, c("spend", "lte", "0", days=30)) == {"Boris", "Vera"}
    assert names(m, c("spend", "gte", "700", days=30)) == {"Anna"}
    assert names(m, c("spend", "eq", "600", days=30)) == {"Gleb"}


def test_purchase_conditions_of_one_group_agree_when_they_share_a_scan(shop):
    # Conditions on purchase counts and spend in periods, ANDed in one group, are evaluated
    # together (one grouped scan, each aggregate over its own period); the answers are those
    # of the single conditions above, intersected.
    m = shop.merchant
    assert names(m, c("purchase_count", "gte", 1, days=30), c("spend", "gte", "700", days=30)) == {"Anna"}
    assert names(m, c("purchase_count", "eq", 3, days=10), c("spend", "gte", "600", days=30)) == {"Gleb"}
    assert names(m, c("purchase_count", "gte", 2, days=9), c("spend", "gte", "1000", days=30)) == set()
    # One that 0 satisfies stays a condition of its own beside the shared scan.
    assert names(m, c("spend", "lte", "0", days=30), c("purchase_count", "gte", 1, days=30)) == set()
    assert (
        names(
            m,
            c("purchase_count", "gte", 1, days=30),
            c("spend", "between", ["500", "700"], days=30),
            c("purchase_count", "lte", 1, days=9),
        )
        == set()
    )
    assert names(m, c("purchase_count", "gte", 1, days=30), c("spend", "between", ["500", "700"], days=30)) == {"Gleb"}


def test_average_check(shop):
    m = shop.merchant
    # Anna 750, Boris 3 000, Gleb 200; Vera has none and matches no comparison.
    assert names(m, c("average_check", "gte", "750")) == {"Anna", "Boris"}
    assert names(m, c("average_check", "lte", "750")) == {"Anna", "Gleb"}
    assert names(m, c("average_check", "between", ["100", "1000.50"])) == {"Anna", "Gleb"}
    assert names(m, c("average_check", "eq", "750")) == {"Anna"}


def test_tier(shop):
    gold = Tier.objects.get(merchant=shop.merchant, name="Gold")
    assert names(shop.merchant, c("tier", "in", [str(gold.pk)])) == {"Boris"}


def test_balance(shop):
    m = shop.merchant
    # 5 % cashback: Anna 25 + 50, Boris 150, Gleb 5 + 10 + 15, Vera 0.
    assert names(m, c("balance", "gte", 75)) == {"Anna", "Boris"}
    assert names(m, c("balance", "eq", 30)) == {"Gleb"}
    assert names(m, c("balance", "lte", 0)) == {"Vera"}


def test_points_expiring_within_n_days(shop):
    m = shop.merchant
    # Points last 100 days: Boris's 150 (bought 10 December) are valid through 20 March (they expire
    # at the midnight that starts 21 March), Anna's first 25 through 12 May.
    boris_lot = Lot.objects.get(card=shop.cards["Boris"])
    assert boris_lot.expires_at.astimezone(m.tzinfo).isoformat() == "2026-03-21T00:00:00+03:00"
    assert names(m, c("points_expiring", "gte", 1, days=10)) == {"Boris"}
    assert names(m, c("points_expiring", "gte", 1, days=9)) == set()
    # Within 63 days (to 12 May) Anna's 25 join; Gleb's first lot expires on 9 June.
    assert names(m, c("points_expiring", "gte", 20, days=63)) == {"Anna", "Boris"}
    assert names(m, c("points_expiring", "gte", 20, days=62)) == {"Boris"}
    assert names(m, c("points_expiring", "between", [1, 100], days=63)) == {"Anna"}


def test_birthday_within_n_days(shop):
    m = shop.merchant
    # Anna's birthday is on 12 March: within 2 days of 10 March, not within 1.
    assert names(m, c("birthday_within", value=2)) == {"Anna"}
    assert names(m, c("birthday_within", value=1)) == set()


def test_birthday_window_wraps_around_the_new_year(shop):
    m = shop.merchant
    dec30 = datetime(2026, 12, 30, 9, 0, tzinfo=UTC)
    # Boris on 31 December, Gleb on 2 January.
    assert names(m, c("birthday_within", value=3), now=dec30) == {"Boris", "Gleb"}
    assert names(m, c("birthday_within", value=2), now=dec30) == {"Boris"}


def test_29_february_birthdays_count_on_28_february_in_common_years(shop):
    m = shop.merchant
    common = datetime(2027, 2, 27, 9, 0, tzinfo=UTC)
    assert names(m, c("birthday_within", value=1), now=common) == {"Vera"}
    assert names(m, c("birthday_within", value=0), now=common) == set()
    leap = datetime(2028, 2, 27, 9, 0, tzinfo=UTC)
    assert names(m, c("birthday_within", value=1), now=leap) == set()
    assert names(m, c("birthday_within", value=2), now=leap) == {"Vera"}


def test_enrolment_date_and_days_since_enrolment(shop):
    m = shop.merchant
    assert names(m, c("enrolled", "between", ["2026-01-01", "2026-02-28"])) == {"Anna", "Gleb"}
    assert names(m, c("enrolled", "gte", "2026-03-09")) == {"Vera"}
    assert names(m, c("enrolled", "lte", "2025-12-01")) == {"Boris"}
    assert names(m, c("enrolled", "eq", "2026-01-05")) == {"Anna"}
    assert names(m, c("enrolled_days_ago", "lte", 1)) == {"Vera"}
    assert names(m, c("enrolled_days_ago", "gte", 99)) == {"Boris"}
    assert names(m, c("enrolled_days_ago", "gte", 100)) == set()


def test_enrolment_source(shop):
    assert names(shop.merchant, c("source", "in", ["qr"])) == {"Anna", "Vera"}
    assert names(shop.merchant, c("source", "in", ["import", "cashier"])) == {"Boris", "Gleb"}


def test_location_of_the_last_purchase(shop):
    m = shop.merchant
    assert names(m, c("last_purchase_location", "in", [str(shop.b.pk)])) == {"Anna"}
    assert names(m, c("last_purchase_location", "in", [str(shop.a.pk)])) == {"Boris", "Gleb"}


def test_wallet_installed(shop):
    m = shop.merchant
    assert names(m, c("wallet", "in", ["apple"])) == {"Anna"}
    assert names(m, c("wallet", "in", ["google"])) == {"Boris"}
    assert names(m, c("wallet", "in", ["web"])) == {"Gleb", "Vera"}
    assert names(m, c("wallet", "in", ["apple", "web"])) == {"Anna", "Gleb", "Vera"}
    assert names(m, c("wallet", "in", ["apple", "google"])) == {"Anna", "Boris"}
    assert names(m, c("wallet", "in", ["google", "web"])) == {"Boris", "Gleb", "Vera"}
    assert names(m, c("wallet", "in", ["apple", "google", "web"])) == {"Anna", "Boris", "Gleb", "Vera"}


def test_marketing_consent(shop):
    assert names(shop.merchant, c("marketing_consent", "is", True)) == {"Anna", "Gleb"}
    assert names(shop.merchant, c("marketing_consent", "is", False)) == {"Boris", "Vera"}


def test_rfm_group_and_scores(shop):
    m = shop.merchant
    recompute_rfm(merchant=m, now=NOW)
    # Three buyers, NTILE(5) gives tiles 1..3: recency Boris < Anna < Gleb, frequency the same order,
    # spend Gleb < Anna < Boris. Boris R1F1 lost, Anna R2F2 hibernating, Gleb R3F3 need attention.
    assert names(m, c("rfm_group", "in", ["lost", "need_attention"])) == {"Boris", "Gleb"}
    assert names(m, c("rfm_group", "in", ["hibernating"])) == {"Anna"}
    assert names(m, c("rfm_score", "gte", 2, score="m")) == {"Anna", "Boris"}
    assert names(m, c("rfm_score", "eq", 3, score="r")) == {"Gleb"}


def test_and_or_groups(shop):
    m = shop.merchant
    gold = Tier.objects.get(merchant=m, name="Gold")
    qr = c("source", "in", ["qr"])
    frequent = c("purchase_count", "gte", 3)
    # Either group: qr customers or three purchases.
    assert names(m, match="any", groups=[{"conditions": [qr]}, {"conditions": [frequent]}]) == {"Anna", "Vera", "Gleb"}
    # Both groups; the first is an OR inside.
    either = {"match": "any", "conditions": [qr, c("tier", "in", [str(gold.pk)])]}
    bought = {"match": "all", "conditions": [c("purchase_count", "gte", 1)]}
    assert names(m, match="all", groups=[either, bought]) == {"Anna", "Boris"}
    # AND inside one group.
    assert names(m, qr, c("purchase_count", "gte", 1)) == {"Anna"}
    # No conditions: everyone.
    assert names(m, groups=[{"conditions": []}]) == {"Anna", "Boris", "Gleb", "Vera"}


def test_segments_never_reach_another_merchants_customers(shop, other_merchant):
    from loyalty.enrollment.services import enroll_customer
    from loyalty.program.services import program_for

    program_for(merchant=other_merchant)
    enroll_customer(merchant=other_merchant, phone="+79160000009", name="Outsider", source="qr", now=NOW)
    assert names(shop.merchant, c("source", "in", ["qr"])) == {"Anna", "Vera"}
    assert set(audience_for(merchant=shop.merchant, segment=None).values_list("name", flat=True)) == {
        "Anna",
        "Boris",
        "Gleb",
        "Vera",
    }


def test_a_tier_or_location_of_another_merchant_is_refused(shop, other_merchant):
    elsewhere = factories.LocationFactory(merchant=other_merchant)
    with pytest.raises(SegmentDefinitionError) as exc:
        names(shop.merchant, c("last_purchase_location", "in", [str(elsewhere.pk)]))
    assert exc.value.errors == ["«Точка последней покупки»: одного из выбранных вариантов больше нет."]


def test_invalid_definitions_list_every_problem_in_the_users_language(shop):
    definition = {
        "groups": [
            {
                "conditions": [
                    {"field": "nonsense"},
                    {"field": "balance", "op": "gte", "value": "many"},
                    {"field": "spend", "op": "between", "value": ["900", "100"]},
                    {"field": "purchase_count", "op": "gte", "value": 1, "days": 0},
                    {"field": "birthday_within", "value": 400},
                ]
            }
        ]
    }
    with translation.override("en"), pytest.raises(SegmentDefinitionError) as exc:
        customers_in_segment(merchant=shop.merchant, definition=definition)
    assert exc.value.errors == [
        "Unknown condition “nonsense”.",
        "“Points balance”: enter a whole number.",
        "“Spend”: the start of the range is after its end.",
        "“Number of purchases”: the period is a number of days from 1 to 3650.",
        "“Birthday within”: enter a number from 0 to 366.",
    ]
    with translation.override("ru"), pytest.raises(SegmentDefinitionError) as exc:
        customers_in_segment(merchant=shop.merchant, definition=definition)
    assert exc.value.errors == [
        "Неизвестное условие «nonsense».",
        "«Баланс баллов»: введите целое число.",
        "«Сумма покупок»: начало диапазона позже его конца.",
        "«Число покупок»: период — число дней от 1 до 3650.",
        "«День рождения в ближайшие»: введите число от 0 до 366.",
    ]


def test_consent_per_channel(shop):
    from django.apps import apps

    try:
        channel_consent = apps.get_model("campaigns", "ChannelConsent")
    except LookupError:
        pytest.skip("per-channel consent comes with the sending side (branch h9-send)")
    m = shop.merchant
    # Anna and Gleb consented; Anna unsubscribed from e-mail; Boris (no consent) "allowed" SMS stays out.
    channel_consent.objects.create(merchant=m, customer=shop.anna, channel="email", allowed=False)
    channel_consent.objects.create(merchant=m, customer=shop.boris, channel="sms", allowed=True)
    assert names(m, c("channel_consent", "in", ["email"])) == {"Gleb"}
    assert names(m, c("channel_consent", "in", ["sms"])) == {"Anna", "Gleb"}
    assert names(m, c("channel_consent", "in", ["email", "sms"])) == {"Anna", "Gleb"}
