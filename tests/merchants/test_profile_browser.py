"""A café owner signs up with a Cyrillic name on a phone or a desktop, in Russian or
English: the sign-up suggests the country's currency and time zone, the profile shows
a readable address, a bad address gets a clear error, the owner changes the address
and the time zone, and the old join link (as printed on a QR poster) leads to the new
one. Screenshots: artifacts/profile-<lang>-<device>-*.png."""

import pytest
from playwright.sync_api import expect

from merchants.models import Merchant, MerchantSlugAlias
from tests.browser import PHONE, screenshot

DESKTOP = {"width": 1280, "height": 860}
TEXT = {
    "ru": {
        "create": "Создать аккаунт бизнеса",
        "settings": "Настройки",
        "profile": "Профиль компании",
        "bad": "Латинские строчные буквы",
        "save": "Сохранить",
        "saved": "Профиль компании сохранён",
    },
    "en": {
        "create": "Create my business account",
        "settings": "Settings",
        "profile": "Business profile",
        "bad": "Latin lowercase letters",
        "save": "Save",
        "saved": "Business profile saved",
    },
}


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_sign_up_with_cyrillic_name_change_profile_old_link_redirects(
    live_server, transactional_db, browser, settings, lang, device
):
    settings.PUBLIC_BASE_URL = live_server.url
    url = live_server.url
    text = TEXT[lang]
    name = f"{lang}-{device}"
    context = browser.new_context(viewport=PHONE if device == "phone" else DESKTOP, locale=f"{lang}-RU")
    page = context.new_page()

    page.goto(f"{url}/signup/")
    page.locator("#id_business_name").fill("Кофейня Ромашка")
    page.locator("#id_country").select_option("KZ")
    # The country's currency and time zone are suggested.
    expect(page.locator("#id_currency")).to_have_value("KZT")
    expect(page.locator("#id_time_zone")).to_have_value("Asia/Almaty")
    page.locator("#id_full_name").fill("Айгерим Сапарова")
    page.locator("#id_email").fill(f"owner-{name}@romashka.test")
    page.locator("#id_password1").fill("pale-lantern-orbit-42")
    page.locator("#id_password2").fill("pale-lantern-orbit-42")
    screenshot(page, f"profile-{name}-01-signup")
    page.get_by_role("button", name=text["create"]).click()
    expect(page).to_have_url(f"{url}/dashboard/")
    merchant = Merchant.objects.get()
    assert (merchant.slug, merchant.currency, merchant.time_zone) == ("kofeinia-romashka", "KZT", "Asia/Almaty")

    # Settings → Business profile: the readable address is there.
    if device == "phone":
        page.locator(".nav-toggle").click()
    page.locator(".nav").get_by_role("link", name=text["settings"], exact=True).click()
    page.get_by_role("link", name=text["profile"]).first.click()
    expect(page).to_have_url(f"{url}/dashboard/profile/")
    expect(page.locator("#id_slug")).to_have_value("kofeinia-romashka")
    expect(page.locator("#join-url")).to_contain_text(f"{url}/join/kofeinia-romashka/")
    screenshot(page, f"profile-{name}-02-profile")

    # A bad address is refused next to the field.
    page.locator("#id_slug").fill("Ромашка!")
    page.get_by_role("button", name=text["save"], exact=True).click()
    expect(page.locator("#id_slug_error")).to_contain_text(text["bad"])
    screenshot(page, f"profile-{name}-03-bad-slug")

    # A good one, and another time zone.
    page.locator("#id_slug").fill("romashka-almaty")
    page.locator("#id_time_zone").select_option("Asia/Qyzylorda")
    page.get_by_role("button", name=text["save"], exact=True).click()
    expect(page.locator(".messages")).to_contain_text(text["saved"])
    expect(page.locator("#old-slugs")).to_contain_text("/join/kofeinia-romashka/")
    screenshot(page, f"profile-{name}-04-saved")
    merchant.refresh_from_db()
    assert (merchant.slug, merchant.time_zone) == ("romashka-almaty", "Asia/Qyzylorda")
    assert MerchantSlugAlias.objects.filter(merchant=merchant, slug="kofeinia-romashka").exists()

    # A customer scans an old poster.
    customer = browser.new_context(viewport=PHONE, locale=f"{lang}-RU").new_page()
    customer.goto(f"{url}/join/kofeinia-romashka/")
    expect(customer).to_have_url(f"{url}/join/romashka-almaty/")
    expect(customer.locator("body")).to_contain_text("Кофейня Ромашка")
    screenshot(customer, f"profile-{name}-05-old-link-joins")
    context.close()
