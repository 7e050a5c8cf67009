"""A person signs up a merchant, adds a location, invites a cashier, creates an
API key (seen once), logs out; the cashier opens the invitation on a phone, sets
a password and lands on the dashboard. Screenshots: artifacts/onboarding-*.png."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from merchants.models import ApiKey, Invitation, Location, Merchant, User
from tests.browser import PHONE, screenshot

DESKTOP = {"width": 1280, "height": 860}


@pytest.mark.browser
def test_sign_up_to_cashier_login(live_server, transactional_db, browser, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    url = live_server.url
    owner_ctx = browser.new_context(viewport=DESKTOP, locale="ru-RU")
    page = owner_ctx.new_page()

    # Sign up (a first try with mismatched passwords shows the error next to the field).
    page.goto(f"{url}/signup/")
    page.get_by_label("Название бизнеса").fill("Кофейня «Зерно»")
    expect(page.get_by_label("Страна")).to_have_value("RU")
    expect(page.get_by_label("Валюта")).to_have_value("RUB")
    expect(page.get_by_label("Часовой пояс")).to_have_value("Europe/Moscow")
    page.get_by_label("Ваше имя").fill("Анна Смирнова")
    page.get_by_label("E-mail").fill("anna@zerno.test")
    page.get_by_label("Пароль", exact=True).fill("pale-lantern-orbit-42")
    page.get_by_label("Пароль ещё раз").fill("pale-lantern-orbit-41")
    page.get_by_role("button", name="Создать аккаунт бизнеса").click()
    expect(page.locator("#id_password2_error")).to_contain_text("Пароли не совпадают")
    assert not Merchant.objects.exists()
    screenshot(page, "onboarding-01-signup-error")
    page.get_by_label("Пароль", exact=True).fill("pale-lantern-orbit-42")
    page.get_by_label("Пароль ещё раз").fill("pale-lantern-orbit-42")
    page.get_by_role("button", name="Создать аккаунт бизнеса").click()
    expect(page).to_have_url(f"{url}/dashboard/")
    expect(page.locator(".topbar .brand")).to_contain_text("Кофейня «Зерно»")
    screenshot(page, "onboarding-02-dashboard-owner")

    # Add a location.
    page.locator(".nav").get_by_role("link", name="Настройки", exact=True).click()
    page.get_by_role("link", name="Точки", exact=True).click()
    page.get_by_role("link", name="+ Добавить точку").first.click()
    page.get_by_label("Название").fill("Покровка")
    page.get_by_label("Адрес").fill("ул. Покровка, 17, Москва")
    page.get_by_label("Широта").fill("55,759812")
    page.get_by_label("Долгота").fill("37.6432")
    page.get_by_role("button", name="Добавить точку").click()
    expect(page.locator(".messages")).to_contain_text("Точка «Покровка» добавлена")
    screenshot(page, "onboarding-03-locations")
    assert Location.objects.get().latitude is not None

    # Invite a cashier: the link is on the page (and in the outbox).
    page.locator(".nav").get_by_role("link", name="Настройки", exact=True).click()
    page.get_by_role("link", name="Сотрудники", exact=True).click()
    page.get_by_role("link", name="+ Пригласить").click()
    page.get_by_label("E-mail").fill("ivan@zerno.test")
    page.get_by_label("Кассир — только касса").check()
    page.get_by_role("button", name="Отправить приглашение").click()
    link = page.get_by_test_id("invitation-link").input_value()
    assert link.startswith(f"{url}/invite/")
    assert link in mail.outbox[-1].body
    screenshot(page, "onboarding-04-staff-invited")

    # Create an API key: seen once.
    page.locator(".nav").get_by_role("link", name="Настройки", exact=True).click()
    page.get_by_role("link", name="API-ключи", exact=True).click()
    page.get_by_role("link", name="+ Новый API-ключ").first.click()
    page.get_by_label("Название").fill("Касса 1")
    page.get_by_role("button", name="Создать ключ").click()
    secret = page.get_by_test_id("api-key-secret").input_value()
    assert re.fullmatch(r"lk_[0-9a-f]{8}_[\w-]{43}", secret)
    screenshot(page, "onboarding-05-api-key-once")
    page.reload()
    expect(page.get_by_test_id("api-key-secret")).to_have_count(0)
    assert secret not in page.content()
    expect(page.locator("table")).to_contain_text("Касса 1")
    assert ApiKey.objects.get().key_hash != secret

    # The owner's pages on a phone.
    phone_owner = browser.new_context(viewport=PHONE, locale="ru-RU", storage_state=owner_ctx.storage_state())
    mobile = phone_owner.new_page()
    for path, name in [
        ("/dashboard/", "06-phone-dashboard"),
        ("/dashboard/staff/", "07-phone-staff"),
        ("/dashboard/api-keys/", "08-phone-api-keys"),
        ("/dashboard/locations/new/", "09-phone-location-form"),
    ]:
        mobile.goto(url + path)
        assert mobile.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], f"{path} scrolls sideways"
        screenshot(mobile, f"onboarding-{name}")
    phone_owner.close()

    # Log out.
    page.get_by_role("button", name="Выйти").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    owner_ctx.close()

    # The cashier opens the link on a phone, sets a password, and is in.
    cashier_ctx = browser.new_context(viewport=PHONE, locale="ru-RU")
    phone = cashier_ctx.new_page()
    phone.goto(link)
    expect(phone.locator("h1")).to_contain_text("Кофейня «Зерно»")
    expect(phone.locator(".auth-lead")).to_contain_text("Кассир")
    phone.get_by_label("Ваше имя").fill("Иван Петров")
    phone.get_by_label("Пароль", exact=True).fill("quiet-harbour-lamp-7")
    phone.get_by_label("Пароль ещё раз").fill("quiet-harbour-lamp-7")
    screenshot(phone, "onboarding-10-phone-invitation")
    phone.get_by_role("button", name="Задать пароль и войти").click()
    expect(phone).to_have_url(f"{url}/dashboard/")
    expect(phone.locator(".page-head .lead")).to_have_text("Кофейня «Зерно» · Кассир")
    # A cashier sees home and the till, nothing an owner or marketer manages.
    expect(phone.locator(".nav a")).to_have_text(["Главная", "Касса"])
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "onboarding-11-phone-cashier-dashboard")
    cashier = User.objects.get(email="ivan@zerno.test")
    assert [(m.role, m.merchant.name) for m in cashier.memberships.all()] == [("cashier", "Кофейня «Зерно»")]
    assert Invitation.objects.get().accepted_at is not None

    # The link does not work twice.
    phone.goto(link)
    expect(phone.locator(".alert.error")).to_contain_text("уже использовано")
    cashier_ctx.close()


@pytest.mark.browser
def test_sign_up_page_in_english_on_a_phone(live_server, transactional_db, browser):
    ctx = browser.new_context(viewport=PHONE, locale="en-US")
    page = ctx.new_page()
    page.goto(f"{live_server.url}/signup/")
    expect(page.get_by_label("Country")).to_have_value("RU")
    expect(page.locator("#id_country option:checked")).to_have_text("Russia")
    expect(page.get_by_label("Currency")).to_have_value("RUB")
    # Choosing a country suggests its currency (until the person picks one).
    page.get_by_label("Country").select_option("KZ")
    expect(page.get_by_label("Currency")).to_have_value("KZT")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_label("Country").select_option("AM")
    expect(page.get_by_label("Currency")).to_have_value("USD")
    page.get_by_label("Time zone").select_option("Asia/Almaty")
    page.get_by_role("button", name="Create my business account").click()
    expect(page.locator("#id_business_name_error")).to_contain_text("This field is required")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "onboarding-12-phone-signup-en")
    ctx.close()
