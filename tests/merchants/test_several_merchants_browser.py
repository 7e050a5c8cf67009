"""Issue 12 in a real browser: an agency marketer with one login works for two
cafés and switches between them in the dashboard's header (desktop and phone,
Russian and English). Screenshots: artifacts/switch-*.png."""

import pytest
from playwright.sync_api import expect

from merchants.models import Role
from tests import factories
from tests.browser import PHONE, logged_in_page, screenshot

DESKTOP = {"width": 1280, "height": 900}
TEXT = {
    "ru": {"switch": "Перейти", "marketer": "Маркетолог", "cashier": "Кассир", "now": "Теперь вы работаете в кабинете"},
    "en": {"switch": "Switch", "marketer": "Marketer", "cashier": "Cashier", "now": "You are now working on"},
}


@pytest.mark.browser
@pytest.mark.parametrize(("language", "viewport"), [("ru", PHONE), ("en", DESKTOP)], ids=["ru-phone", "en-desktop"])
def test_an_agency_marketer_switches_between_two_cafes(live_server, transactional_db, browser, language, viewport):
    t = TEXT[language]
    zerno = factories.MerchantFactory(name="Кофейня «Зерно»")
    utro = factories.MerchantFactory(name="Пекарня «Утро»")
    person = factories.UserFactory(email="smm@agency.test", full_name="Вера", merchant=zerno, role=Role.MARKETER)
    factories.join(person, utro, Role.CASHIER)
    page = logged_in_page(
        browser, live_server, person, viewport=viewport, locale="ru-RU" if language == "ru" else "en-US"
    )

    page.goto(f"{live_server.url}/dashboard/")
    switcher = page.get_by_test_id("merchant-switch")
    expect(switcher).to_be_visible()
    expect(switcher.locator("option")).to_have_text(["Кофейня «Зерно»", "Пекарня «Утро»"])
    # The first by name is open, with the role held there.
    expect(page.locator(".page-head .lead")).to_have_text(f"Кофейня «Зерно» · {t['marketer']}")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(page, f"switch-1-zerno-{language}")

    switcher.select_option(label="Пекарня «Утро»")
    page.get_by_role("button", name=t["switch"]).click()
    expect(page.locator(".messages")).to_contain_text(t["now"])
    expect(page.locator(".page-head .lead")).to_have_text(f"Пекарня «Утро» · {t['cashier']}")
    expect(page.get_by_test_id("merchant-switch")).to_have_value(str(utro.pk))
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(page, f"switch-2-utro-{language}")

    # The choice stays for the session: another page, then home again.
    page.goto(f"{live_server.url}/dashboard/till/")
    page.goto(f"{live_server.url}/dashboard/")
    expect(page.locator(".page-head .lead")).to_have_text(f"Пекарня «Утро» · {t['cashier']}")
    # The program page is the marketer's in «Зерно», not the cashier's in «Утро».
    assert page.goto(f"{live_server.url}/dashboard/program/").status == 403
