"""A marketer builds a segment in a real browser: the count follows every
edit (conditions, an OR group), the segment is saved and listed, and an RFM
grid cell opens as a segment. In Russian and in English.
Screenshots: artifacts/segments-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from campaigns.models import Segment
from campaigns.segments.rfm import recompute_rfm
from tests.browser import PHONE, logged_in_page, screenshot

DESKTOP = {"width": 1280, "height": 900}

WORDS = {
    "ru-RU": {
        "everyone": "4 клиента",
        "two": "2 клиента",
        "three": "3 клиента",
        "one": "1 клиент",
        "pick_one": "«Откуда пришёл»: отметьте хотя бы один вариант.",
        "any": "any",
        "saved": "Сегмент «QR или частые» сохранён.",
    },
    "en-US": {
        "everyone": "4 customers",
        "two": "2 customers",
        "three": "3 customers",
        "one": "1 customer",
        "pick_one": "“Enrolment source”: choose at least one option.",
        "any": "any",
        "saved": "Segment “QR или частые” saved.",
    },
}


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["ru-RU", "en-US"])
def test_build_a_segment_and_watch_the_count(live_server, transactional_db, browser, marketer, merchant, shop, locale):
    words = WORDS[locale]
    tag = locale[:2]
    page = logged_in_page(browser, live_server, marketer, viewport=DESKTOP, locale=locale)
    page.goto(f"{live_server.url}/dashboard/segments/new/")
    count = page.get_by_test_id("segment-count")
    # No conditions yet: every customer.
    expect(count).to_have_text(words["everyone"])

    page.get_by_test_id("add-condition").click()
    condition = page.get_by_test_id("segment-condition").first
    condition.locator("select").first.select_option("source")
    # A choice with nothing ticked is explained at once.
    expect(page.get_by_test_id("segment-live-errors")).to_have_text(words["pick_one"])
    condition = page.get_by_test_id("segment-condition").first
    condition.locator("input[value=qr]").check()
    expect(count).to_have_text(words["two"])
    expect(page.get_by_test_id("segment-live-errors")).to_have_text("")
    expect(page.get_by_test_id("segment-sample").locator("li")).to_have_count(2)
    expect(page.get_by_test_id("segment-sample")).to_contain_text("Vera")
    screenshot(page, f"segments-01-one-condition-{tag}")

    # A second group, "three purchases or more", joined with OR.
    page.get_by_test_id("add-group").click()
    second = page.get_by_test_id("segment-group").nth(1).get_by_test_id("segment-condition").first
    second.locator("select").first.select_option("purchase_count")
    second = page.get_by_test_id("segment-group").nth(1).get_by_test_id("segment-condition").first
    second.locator("select").nth(1).select_option("gte")
    second.locator("input.seg-num").first.fill("3")
    # Still AND between the groups: qr customers with three purchases: nobody.
    expect(count).to_have_text("0 " + words["two"].split(" ", 1)[1].replace("клиента", "клиентов"))
    page.locator(".seg-top select").select_option(words["any"])
    expect(count).to_have_text(words["three"])
    expect(page.get_by_test_id("segment-sample")).to_contain_text("Gleb")
    screenshot(page, f"segments-02-or-groups-{tag}")

    # Removing a condition updates the count too.
    page.get_by_test_id("segment-group").nth(0).get_by_test_id("segment-condition").first.locator(".seg-remove").click()
    # A group without conditions is left out: only "three purchases or more" is left (Gleb).
    expect(count).to_have_text(words["one"])
    page.get_by_test_id("segment-group").nth(0).get_by_test_id("add-condition").click()
    first = page.get_by_test_id("segment-group").nth(0).get_by_test_id("segment-condition").first
    first.locator("select").first.select_option("source")
    page.get_by_test_id("segment-group").nth(0).get_by_test_id("segment-condition").first.locator(
        "input[value=qr]"
    ).check()
    expect(count).to_have_text(words["three"])

    page.locator("#segment-name").fill("QR или частые")
    page.get_by_test_id("segment-save").click()
    expect(page.locator(".messages li").first).to_have_text(words["saved"])
    expect(page.get_by_test_id("segments")).to_contain_text(words["three"])
    screenshot(page, f"segments-03-saved-{tag}")
    segment = Segment.objects.get(merchant=merchant)
    assert segment.definition["match"] == "any"
    assert [c["field"] for g in segment.definition["groups"] for c in g["conditions"]] == ["source", "purchase_count"]

    # Editing it shows the same count again.
    page.get_by_role("link", name="QR или частые").first.click()
    expect(count).to_have_text(words["three"])


@pytest.mark.browser
def test_a_cell_of_the_rfm_grid_opens_as_a_segment_on_a_phone(live_server, transactional_db, browser, marketer, shop):
    recompute_rfm(merchant=shop.merchant)
    page = logged_in_page(browser, live_server, marketer, viewport=PHONE, locale="ru-RU")
    page.goto(f"{live_server.url}/dashboard/segments/rfm/")
    expect(page.get_by_test_id("rfm-cell-3-3")).to_contain_text("1")
    expect(page.get_by_test_id("rfm-group-lost")).to_have_text("1")
    screenshot(page, "segments-04-rfm-phone-ru")
    page.get_by_test_id("rfm-cell-3-3").click()
    expect(page.get_by_test_id("segment-count")).to_have_text("1 клиент")
    expect(page.get_by_test_id("segment-sample")).to_contain_text("Gleb")
    expect(page.locator("#segment-name")).to_have_value("Давность 3, частота 3")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "segments-05-rfm-cell-phone-ru")
