"""The owner sets the safeguards on a phone in Russian: a bad value gets a clear error under
its field, a good one is saved and shown on the settings hub. A support person's admin page
for a card reads grammatical Russian. Screenshots: artifacts/safeguards-*.png, admin-russian-*.png."""

import pytest
from playwright.sync_api import expect

from merchants.models import Merchant, User
from tests.browser import PHONE, logged_in_page, screenshot

DESKTOP = {"width": 1280, "height": 860}


@pytest.mark.browser
def test_the_owner_sets_the_safeguards_on_a_phone(live_server, transactional_db, browser, owner, merchant):
    page = logged_in_page(browser, live_server, owner, viewport=PHONE)
    page.goto(f"{live_server.url}/dashboard/settings/")
    page.get_by_text("Персональные данные и подтверждения").first.click()
    expect(page.locator("h1")).to_have_text("Персональные данные и подтверждения")
    page.get_by_label("Обезличивать клиентов").fill("0")
    page.get_by_label("Корректировки свыше").fill("5000")
    page.get_by_role("button", name="Сохранить").click()
    expect(page.get_by_text("Введите от 1 до 100 лет")).to_be_visible()
    screenshot(page, "safeguards-ru-phone-error")
    page.get_by_label("Обезличивать клиентов").fill("3")
    page.get_by_role("button", name="Сохранить").click()
    expect(page.get_by_text("Сохранено")).to_be_visible()
    merchant = Merchant.objects.get(pk=merchant.pk)
    assert (merchant.customer_retention_years, merchant.adjustment_approval_threshold) == (3, 5000)
    page.goto(f"{live_server.url}/dashboard/settings/")
    expect(page.get_by_text("данные хранятся 3 года после последнего визита")).to_be_visible()
    screenshot(page, "safeguards-ru-phone-hub")


@pytest.mark.browser
def test_the_admin_reads_grammatical_russian(live_server, transactional_db, browser):
    support = User.objects.create_superuser("root@platform.test", "correct-horse-battery")
    page = logged_in_page(browser, live_server, support, viewport=DESKTOP)
    page.goto(f"{live_server.url}/admin/loyalty/card/")
    expect(page.locator("h1")).to_have_text("Выберите карту для изменения")
    page.goto(f"{live_server.url}/admin/merchants/location/add/")
    expect(page.locator("h1")).to_have_text("Добавить точку")
    expect(page.locator(".breadcrumbs")).to_contain_text("Добавить точку")
    screenshot(page, "admin-russian-add-location")
