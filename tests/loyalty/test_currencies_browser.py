"""The till of a yen café in Chromium at a phone's size, in Russian: the bill is typed in whole
yen on a digits-only keypad, half a yen is refused in the cashier's words, amounts are shown
without decimals, and points are earned at one per 100 yen. Screenshots: artifacts/till-jpy-*.png."""

# The fixtures are imported from api_support, so pytest arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from loyalty.models import Card, Purchase
from loyalty.program.services import save_program
from tests import factories
from tests.browser import PHONE, screenshot
from tests.factories import PASSWORD
from tests.loyalty.api_support import pos_card, pos_program  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def merchant(db):
    return factories.MerchantFactory(name="Kissa Sakura", currency="JPY", country="JP", time_zone="Asia/Tokyo")


@pytest.fixture
def russian_catalogue(settings):
    settings.LANGUAGE_CODE = "ru"


def test_yen_till_takes_whole_yen(
    live_server, browser, russian_catalogue, cashier, merchant, owner, location, pos_card
):
    # One point per 100 yen.
    save_program(merchant=merchant, actor=owner, mechanic="points", points_per_unit=Decimal("0.01"))
    context = browser.new_context(viewport=PHONE, locale="ru-RU", device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", cashier.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/dashboard/till/")

    page.fill("#find-q", pos_card.number)
    page.keyboard.press("Enter")
    expect(page.locator("#customer")).to_be_visible()
    expect(page.locator("#bill")).to_have_attribute("inputmode", "numeric")

    # Half a yen does not exist: the cashier reads why, nothing is written.
    page.fill("#bill", "1250,5")
    expect(page.locator("#till-alert")).to_contain_text("введите целое число, например 450")
    screenshot(page, "till-jpy-1-half-yen")
    assert Purchase.objects.count() == 0

    # 1250 yen: shown without decimals, 12 points (one per 100 yen, rounded down).
    page.fill("#bill", "1250")
    expect(page.locator("#sum-pay")).to_have_text("1\u00a0250\u00a0¥")
    expect(page.locator("#sum-earn")).to_have_text("12 баллов")
    page.click("#confirm")
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#result-earned")).to_have_text("+12 баллов")
    screenshot(page, "till-jpy-2-bought")
    purchase = Purchase.objects.get()
    assert purchase.bill_amount == Decimal("1250") and purchase.currency == "JPY"
    assert Card.objects.get(pk=pos_card.pk).balance == 12
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()
