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


BAD_VALUE_WORDS = {
    "ru": {
        "locale": "ru-RU",
        "save": "Сохранить программу",
        "welcome_bonus": "Не больше 100\xa0000 баллов.",
        "cashback_percent": "Не больше 100 %.",
        "name": "Укажите название программы: клиенты видят его на карте.",
        "inverted": "Перечислите уровни по возрастанию суммы покупок.",
    },
    "en": {
        "locale": "en-US",
        "save": "Save the program",
        "welcome_bonus": "At most 100,000 points.",
        "cashback_percent": "At most 100 %.",
        "name": "Give the program a name: customers see it on their card.",
        "inverted": "List the tiers from the lowest spend to the highest.",
    },
}


@pytest.mark.browser
@pytest.mark.parametrize("language", ["ru", "en"])
def test_program_with_bad_values_shows_human_errors_and_saves_nothing(
    live_server, transactional_db, browser, owner, merchant, language
):
    """Issue 12's "program settings save garbage", as an owner meets it: a welcome bonus of 10^12,
    an empty name, a cashback of 150 % and inverted tiers, each explained in the owner's language
    next to what is wrong (not "no more than 5 digits in total"); nothing is saved."""
    w = BAD_VALUE_WORDS[language]
    page = logged_in_page(browser, live_server, owner, viewport=PHONE, locale=w["locale"])
    page.goto(f"{live_server.url}/dashboard/program/")
    page.fill("#id_name", "")
    page.fill("#id_welcome_bonus", "1000000000000")
    page.fill("#id_cashback_percent", "150")
    page.fill("#id_tiers-1-threshold", "30000")
    page.fill("#id_tiers-2-threshold", "10000")
    page.get_by_role("button", name=w["save"]).click()
    for field in ("name", "welcome_bonus", "cashback_percent"):
        expect(page.locator(f"#id_{field}_error")).to_contain_text(w[field])
    expect(page.locator("#program-form .alert.error").filter(has_text=w["inverted"])).to_be_visible()
    body = page.locator("body").inner_text()
    assert "digits in total" not in body and "цифр" not in body
    screenshot(page, f"program-05-bad-values-{language}")
    program = Program.objects.get(merchant=merchant)
    assert program.current_version.number == 1 and program.welcome_bonus == 100 and program.name
