"""The program page in a real browser: the mechanic decides which sections
show, a bad value is explained next to its field, a good save makes a version.
Screenshots: artifacts/program-*.png."""

import pytest
from playwright.sync_api import expect

from loyalty.models import Program
from tests.browser import PHONE, logged_in_page, screenshot

DESKTOP = {"width": 1280, "height": 900}


@pytest.mark.browser
def test_edit_program_in_the_browser(live_server, transactional_db, browser, marketer, merchant):
    page = logged_in_page(browser, live_server, marketer, viewport=DESKTOP, locale="en-US")
    page.goto(f"{live_server.url}/dashboard/program/")
    expect(page.get_by_role("heading", name="Bonus program")).to_be_visible()
    expect(page.get_by_label("Cashback, %")).to_have_value("5.00")
    expect(page.get_by_label("Every N-th visit is free: N")).to_be_hidden()  # cashback program: stamps hidden
    expect(page.get_by_label("Points per currency unit")).to_be_hidden()
    screenshot(page, "program-01-cashback-desktop")

    page.get_by_text("Stamps (every N-th visit is a reward)").click()
    expect(page.get_by_label("Every N-th visit is free: N")).to_be_visible()
    expect(page.get_by_label("Cashback, %")).to_be_hidden()
    screenshot(page, "program-02-stamps")
    page.get_by_text("Cashback in points").click()

    page.get_by_label("Cashback, %").fill("150")
    page.get_by_role("button", name="Save the program").click()
    expect(page.locator("#id_cashback_percent_error")).to_be_visible()
    screenshot(page, "program-03-error")
    assert Program.objects.get(merchant=merchant).current_version.number == 1

    page.get_by_label("Cashback, %").fill("7")
    page.get_by_text("Cashback in points").click()
    page.get_by_role("button", name="Save the program").click()
    expect(page.locator(".message.success, .messages li").first).to_contain_text("version 2")
    program = Program.objects.get(merchant=merchant)
    assert program.cashback_percent == 7 and program.current_version.number == 2


@pytest.mark.browser
def test_program_page_on_a_phone_in_russian(live_server, transactional_db, browser, owner):
    page = logged_in_page(browser, live_server, owner, viewport=PHONE, locale="ru-RU")
    page.goto(f"{live_server.url}/dashboard/program/")
    expect(page.locator("#program-form")).to_be_visible()
    # Nothing overflows a phone screen sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "program-04-phone-ru")
