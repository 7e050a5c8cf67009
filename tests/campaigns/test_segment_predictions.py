"""Segment conditions on the stored per-customer prediction, the ready-made
"probably churning, high value" segment, and the CSV export of a saved segment.

The shop of conftest.py plus two buyers, with predictions written by hand (the
fit itself is tested in tests/analytics):

| customer | spend so far | RFM M | P(alive) | expected purchases 90 d | expected spend 90 d |
|----------|--------------|-------|----------|-------------------------|---------------------|
| Elena    |   200        | 1     | 0.80     | 0.700                   |  60                 |
| Gleb     |   600        | 2     | 0.50     | 2.250                   | 450                 |
| Anna     | 1 500        | 3     | 0.90     | 1.500                   | 800                 |
| Boris    | 3 000        | 4     | 0.30     | 0.200                   | 120                 |
| Dmitri   | 5 000        | 5     | 0.45     | 0.100                   | 120                 |
| Vera     | —            | —     | no prediction                                                    |

Expected-spend fifths (rank r of n = 5 by spend, ties share the lowest rank,
fifth = 1 + ⌊5 (r − 1) / 5⌋): Elena 1, Boris and Dmitri 2 (tied at rank 2),
Gleb 4, Anna 5; nobody is in the 3rd.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from analytics.models import CustomerPrediction
from campaigns.exceptions import SegmentDefinitionError
from campaigns.models import Segment
from campaigns.segments.predicted import PRESETS
from campaigns.segments.rfm import recompute_rfm
from loyalty.enrollment.services import enroll_customer
from loyalty.ledger import purchase
from loyalty.models import Tier
from merchants.models import AuditEvent
from tests.campaigns.conftest import NOW, noon
from tests.campaigns.test_segment_conditions import c, names

pytestmark = pytest.mark.django_db

PREDICTIONS = {
    "Elena": ("0.80", "0.700", "60"),
    "Gleb": ("0.50", "2.250", "450"),
    "Anna": ("0.90", "1.500", "800"),
    "Boris": ("0.30", "0.200", "120"),
    "Dmitri": ("0.45", "0.100", "120"),
}


def _buyer(merchant, location, phone, name, bill, n):
    card = enroll_customer(
        merchant=merchant, phone=phone, name=name, location=location, source="qr", now=noon(2026, 1, 10)
    )
    purchase(
        merchant=merchant,
        card=card,
        location=location,
        bill_amount=Decimal(bill),
        redeem_points=0,
        redeem_rewards=0,
        receipt_id=f"P-{n}",
        idempotency_key=f"p-{n}",
        now=noon(2026, 1, 20),
    )
    return card.customer


def _predict(merchant, customer, p_alive, purchases, spend):
    CustomerPrediction.objects.create(
        merchant=merchant,
        customer=customer,
        p_alive=Decimal(p_alive),
        expected_purchases_90d=Decimal(purchases),
        expected_spend_90d=Decimal(spend),
        fitted_at=NOW,
    )


@pytest.fixture
def predicted(shop):
    m = shop.merchant
    customers = {
        "Anna": shop.anna,
        "Boris": shop.boris,
        "Gleb": shop.gleb,
        "Dmitri": _buyer(m, shop.a, "+79160000005", "Dmitri", "5000", 1),
        "Elena": _buyer(m, shop.a, "+79160000006", "Elena", "200", 2),
    }
    for name, values in PREDICTIONS.items():
        _predict(m, customers[name], *values)
    return shop


def test_probability_still_active_in_percent(predicted):
    m = predicted.merchant
    assert names(m, c("predicted_alive", "lte", 50)) == {"Boris", "Gleb", "Dmitri"}
    assert names(m, c("predicted_alive", "lte", 49)) == {"Boris", "Dmitri"}
    assert names(m, c("predicted_alive", "gte", 80)) == {"Anna", "Elena"}
    assert names(m, c("predicted_alive", "between", [40, 50])) == {"Gleb", "Dmitri"}
    # Vera has no prediction: not even "at least 0 %" takes her in.
    assert names(m, c("predicted_alive", "gte", 0)) == {"Anna", "Boris", "Gleb", "Dmitri", "Elena"}


def test_expected_purchases_and_spend_of_the_next_90_days(predicted):
    m = predicted.merchant
    assert names(m, c("predicted_purchases_90d", "gte", "1.5")) == {"Anna", "Gleb"}
    assert names(m, c("predicted_purchases_90d", "lte", "0,2")) == {"Boris", "Dmitri"}
    assert names(m, c("predicted_purchases_90d", "between", ["0.5", "2"])) == {"Anna", "Elena"}
    assert names(m, c("predicted_spend_90d", "gte", "450")) == {"Anna", "Gleb"}
    assert names(m, c("predicted_spend_90d", "lte", "120")) == {"Boris", "Dmitri", "Elena"}
    assert names(m, c("predicted_spend_90d", "between", ["100", "500"])) == {"Boris", "Dmitri", "Gleb"}


def test_fifths_of_expected_spend_share_ties_and_ignore_other_merchants(predicted, other_merchant):
    m = predicted.merchant
    # Another merchant's predictions, all bigger, change nothing here.
    for n in range(5):
        card = enroll_customer(merchant=other_merchant, phone=f"+7917000000{n}", name=f"Other {n}", source="qr")
        _predict(other_merchant, card.customer, "0.1", "9", "99999")
    assert names(m, c("predicted_spend_fifth", "eq", 5)) == {"Anna"}
    assert names(m, c("predicted_spend_fifth", "gte", 4)) == {"Anna", "Gleb"}
    assert names(m, c("predicted_spend_fifth", "eq", 2)) == {"Boris", "Dmitri"}
    assert names(m, c("predicted_spend_fifth", "eq", 3)) == set()
    assert names(m, c("predicted_spend_fifth", "lte", 1)) == {"Elena"}
    assert names(m, c("predicted_spend_fifth", "between", [2, 4])) == {"Boris", "Dmitri", "Gleb"}


def test_combined_with_other_conditions_in_one_query(predicted, django_assert_num_queries):
    m = predicted.merchant
    with django_assert_num_queries(1):
        assert names(m, c("predicted_alive", "lte", 50), c("spend", "gte", "1000")) == {"Boris", "Dmitri"}


def test_the_churning_high_value_preset(predicted):
    m = predicted.merchant
    recompute_rfm(merchant=m, now=NOW)
    _label, _explanation, definition = PRESETS["churning_high_value"]
    # P(alive) ≤ 50 %: Gleb, Boris, Dmitri; spend in the top fifth (M = 5): Dmitri only.
    assert names(m, groups=definition["groups"]) == {"Dmitri"}


@pytest.mark.parametrize(
    ("condition", "ru", "en"),
    [
        (
            c("predicted_alive", "lte", 101),
            "«Вероятность, что клиент ещё с вами (прогноз)»: введите число от 0 до 100.",
            "“Probability still active (predicted)”: enter a number from 0 to 100.",
        ),
        (
            c("predicted_purchases_90d", "gte", "много"),
            "«Ожидаемые покупки за следующие 90 дней»: введите число не меньше нуля.",
            "“Expected purchases in the next 90 days”: enter a number of zero or more.",
        ),
        (
            c("predicted_purchases_90d", "between", ["2", "1"]),
            "«Ожидаемые покупки за следующие 90 дней»: начало диапазона позже его конца.",
            "“Expected purchases in the next 90 days”: the start of the range is after its end.",
        ),
        (
            c("predicted_spend_fifth", "eq", 6),
            "«Ожидаемые траты за 90 дней: пятая часть клиентов»: введите число от 1 до 5.",
            "“Expected 90-day spend: fifth of customers”: enter a number from 1 to 5.",
        ),
    ],
)
def test_bad_values_are_explained_in_the_users_language(predicted, condition, ru, en):
    for language, message in (("ru", ru), ("en", en)):
        with translation.override(language), pytest.raises(SegmentDefinitionError) as exc:
            names(predicted.merchant, condition)
        assert exc.value.errors == [message]


def test_the_builder_opens_prefilled_with_the_preset(client, marketer, predicted):
    client.force_login(marketer)
    page = client.get(reverse("segment_create"), {"preset": "churning_high_value"})
    assert page.status_code == 200
    assert page.context["name"] == "Вероятно уходят, ценные"
    assert page.context["definition"] == PRESETS["churning_high_value"][2]
    # The link to it is offered on a new segment, and an unknown preset is just an empty builder.
    assert 'href="?preset=churning_high_value"' in client.get(reverse("segment_create")).content.decode()
    empty = client.get(reverse("segment_create"), {"preset": "nope"})
    assert empty.context["definition"] == {"match": "all", "groups": [{"match": "all", "conditions": []}]}
    # Saved as it is offered, it counts Dmitri.
    recompute_rfm(merchant=predicted.merchant, now=NOW)
    saved = client.post(
        reverse("segment_create"),
        {"name": "Уходят", "definition": json.dumps(PRESETS["churning_high_value"][2])},
    )
    assert saved.status_code == 302
    listing = client.get(reverse("segment_list"))
    assert listing.context["rows"][0]["size"] == "1 клиент"


# -- export ---------------------------------------------------------------------


def _segment(merchant, definition, name="Уходят"):
    return Segment.objects.create(merchant=merchant, name=name, definition=definition)


def _rows(response) -> list[list[str]]:
    assert response.streaming
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


@pytest.mark.parametrize("person", ["owner", "marketer"])
def test_export_streams_the_segments_customers_and_is_audited(client, request, predicted, person):
    user = request.getfixturevalue(person)
    client.force_login(user)
    segment = _segment(predicted.merchant, {"groups": [{"conditions": [c("predicted_alive", "lte", 50)]}]})
    response = client.get(reverse("segment_export", args=[segment.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="segment-{segment.pk}-')
    rows = _rows(response)
    assert rows[0][:6] == ["phone", "name", "email", "birthday", "card_number", "balance"]
    by_name = {row[1]: row for row in rows[1:]}
    assert set(by_name) == {"Boris", "Gleb", "Dmitri"}
    boris = predicted.cards["Boris"]
    boris.refresh_from_db()
    assert by_name["Boris"][0] == "+79160000002"
    assert by_name["Boris"][4] == boris.number and by_name["Boris"][6] == "1"
    assert by_name["Boris"][5] == str(boris.balance)
    event = AuditEvent.objects.get(action="segment.exported")
    assert event.merchant_id == predicted.merchant.pk and event.actor == user
    assert event.target_id == str(segment.pk) and event.target_label == "Уходят"
    assert event.after["format"] == "csv"


def test_export_is_for_owners_and_marketers_of_the_segments_merchant(
    client, cashier, other_owner, predicted, other_merchant
):
    segment = _segment(predicted.merchant, {})
    client.force_login(cashier)
    assert client.get(reverse("segment_export", args=[segment.pk])).status_code == 403
    client.force_login(other_owner)
    assert client.get(reverse("segment_export", args=[segment.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action="segment.exported").exists()


def test_export_of_a_segment_that_needs_fixing_says_why_and_records_nothing(client, owner, predicted):
    gold = Tier.objects.get(merchant=predicted.merchant, name="Gold")
    segment = _segment(predicted.merchant, {"groups": [{"conditions": [c("tier", "in", [str(gold.pk)])]}]})
    Tier.objects.filter(pk=gold.pk).delete()
    client.force_login(owner)
    response = client.get(reverse("segment_export", args=[segment.pk]), follow=True)
    assert response.redirect_chain == [(reverse("segment_edit", args=[segment.pk]), 302)]
    assert [str(m) for m in response.context["messages"]] == ["«Уровень»: одного из выбранных вариантов больше нет."]
    assert not AuditEvent.objects.filter(action="segment.exported").exists()


# -- in a browser -------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize(("locale", "width"), [("ru-RU", "phone"), ("en-US", "desktop")])
def test_a_marketer_starts_from_the_preset_saves_and_downloads_it(
    live_server, transactional_db, browser, marketer, predicted, locale, width
):
    from playwright.sync_api import expect

    from tests.browser import PHONE, logged_in_page, screenshot

    words = {
        "ru-RU": {
            "preset": "Вероятно уходят, ценные",
            "one": "1 клиент",
            "save": "Сохранить сегмент",
            "csv": "Скачать CSV",
        },
        "en-US": {
            "preset": "Probably churning, high value",
            "one": "1 customer",
            "save": "Save the segment",
            "csv": "Download CSV",
        },
    }[locale]
    recompute_rfm(merchant=predicted.merchant, now=NOW)
    viewport = PHONE if width == "phone" else {"width": 1280, "height": 900}
    page = logged_in_page(browser, live_server, marketer, viewport=viewport, locale=locale)
    page.goto(f"{live_server.url}/dashboard/segments/")
    page.get_by_test_id("segment-presets").get_by_role("link", name=words["preset"]).click()
    expect(page.locator("#segment-name")).to_have_value(words["preset"])
    expect(page.get_by_test_id("segment-count")).to_have_text(words["one"])
    expect(page.get_by_test_id("segment-sample")).to_contain_text("Dmitri")
    # The probability is shown in percent, as typed.
    expect(page.get_by_test_id("segment-condition").first.locator("input.seg-num")).to_have_value("50")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"segments-preset-{locale[:2]}-{width}")
    page.get_by_role("button", name=words["save"]).click()
    row = page.get_by_test_id("segments").locator("tr", has_text=words["preset"])
    with page.expect_download() as download:
        row.get_by_role("link", name=words["csv"]).click()
    lines = download.value.path().read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 2 and lines[1].startswith("+79160000005,Dmitri,")
    screenshot(page, f"segments-list-export-{locale[:2]}-{width}")
    page.context.close()
