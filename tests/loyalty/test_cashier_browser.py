"""The till page in Chromium at a phone's size: a cashier logs in, finds a
customer by phone, accrues, redeems on a second purchase, undoes it. The
balances on screen are checked against the database; screenshots go to
artifacts/cashier-*.png."""

# The fixtures are imported from api_support, so pytest arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from loyalty.models import Card, Purchase, Refund
from tests.browser import PHONE, screenshot
from tests.factories import PASSWORD
from tests.loyalty.api_support import give_points, pos_card, pos_program  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def russian_catalogue(settings):
    """The Russian interface, from the project's compiled catalogue."""
    settings.LANGUAGE_CODE = "ru"


def digits(text: str) -> int:
    return int(re.sub(r"[^\d-]", "", text.replace("−", "-")))


def test_cashier_accrues_redeems_and_undoes(
    live_server, browser, russian_catalogue, cashier, merchant, location, pos_card
):
    give_points(merchant, location, pos_card, "2000.00")  # 100 points to start with
    context = browser.new_context(viewport=PHONE, locale="ru-RU", device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(10_000)

    # Log in and open the till from the menu.
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", cashier.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click("nav >> text=Касса")
    expect(page.locator("#find-q")).to_be_focused()
    screenshot(page, "cashier-1-find")

    # Find the customer by phone, typed the way people say it.
    page.fill("#find-q", "8 916 123 45 67")
    page.keyboard.press("Enter")
    expect(page.locator("#customer")).to_be_visible()
    expect(page.locator("#customer-name")).to_have_text("Анна")
    expect(page.locator("#balance")).to_have_text("100 баллов")
    expect(page.locator("#bill")).to_be_focused()

    # 1. Accrue on a bill of 500: 5 % = 25 points.
    page.fill("#bill", "500")
    expect(page.locator("#sum-earn")).to_have_text("25 баллов")
    expect(page.locator("#confirm")).to_be_enabled()
    screenshot(page, "cashier-2-bill")
    page.click("#confirm")
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#result-earned")).to_have_text("+25 баллов")
    expect(page.locator("#result-balance")).to_have_text("125 баллов")
    expect(page.locator("#undo-note")).to_contain_text("Отменить можно до")
    screenshot(page, "cashier-3-accrued")
    assert Card.objects.get(pk=pos_card.pk).balance == 125 == digits(page.inner_text("#result-balance"))

    # 2. Next purchase: 1000 with the most points allowed (all 125: under the 30 % cap).
    page.click("#next-customer")
    page.fill("#find-q", pos_card.number)
    page.keyboard.press("Enter")
    expect(page.locator("#balance")).to_have_text("125 баллов")
    page.fill("#bill", "1000")
    expect(page.locator("#sum-pay")).to_have_text("1\u00a0000,00\u00a0₽")
    page.click("#redeem-max")
    expect(page.locator("#redeem")).to_have_value("125")
    expect(page.locator("#sum-pay")).to_have_text("875,00\u00a0₽")
    expect(page.locator("#sum-earn")).to_have_text("43 балла")  # 5 % of 875, rounded down
    expect(page.locator("#redeem-help")).to_contain_text("125 баллов")
    screenshot(page, "cashier-4-redeem")
    # A double tap: both taps land, one purchase is written.
    page.dblclick("#confirm")
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#result-redeemed")).to_have_text("−125 баллов")
    expect(page.locator("#result-balance")).to_have_text("43 балла")
    screenshot(page, "cashier-5-redeemed")
    assert Purchase.objects.filter(card=pos_card).count() == 3
    assert Card.objects.get(pk=pos_card.pk).balance == 43 == digits(page.inner_text("#result-balance"))

    # 3. Undo it: the 125 points come back, the 43 go.
    page.click("#undo")
    expect(page.locator("#till-alert")).to_contain_text("Покупка отменена. Баланс: 125 баллов.")
    expect(page.locator("#balance")).to_have_text("125 баллов")
    screenshot(page, "cashier-6-undone")
    assert Refund.objects.count() == 1
    assert Card.objects.get(pk=pos_card.pk).balance == 125 == digits(page.inner_text("#balance"))

    # Nothing on the page is wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()


def test_unknown_customer_and_english(live_server, browser, cashier, location, pos_card):
    context = browser.new_context(viewport=PHONE, locale="en-US", device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", cashier.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/dashboard/till/")
    page.fill("#find-q", "+7 999 000-00-00")
    page.keyboard.press("Enter")
    expect(page.locator("#till-alert")).to_contain_text("No card found")
    expect(page.locator("#customer")).to_be_hidden()
    # Headless Chromium on Linux has no BarcodeDetector: the camera button stays hidden and typing works.
    has_detector = page.evaluate("'BarcodeDetector' in window")
    expect(page.locator("#scan-button")).to_be_visible() if has_detector else expect(
        page.locator("#scan-button")
    ).to_be_hidden()
    page.fill("#find-q", pos_card.number)
    page.keyboard.press("Enter")
    expect(page.locator("#balance")).to_have_text("0 points")
    page.fill("#bill", "12,50")
    expect(page.locator("#sum-pay")).to_have_text("RUB\u00a012.50")
    screenshot(page, "cashier-7-english")
    context.close()
