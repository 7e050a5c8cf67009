"""Issue 12 in Chromium on a phone (390×844), in Russian and English:
a cashier issues a card to a customer who is not found and goes on with the
purchase, then refunds part of yesterday's purchase; a customer joins where the
merchant has no wallet certificates and shares their referral link.
Screenshots: artifacts/i12-*.png."""

# The fixtures are imported from api_support, so pytest arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from loyalty import ledger
from loyalty.models import Customer, PersonalDataConsent, Purchase, Refund, WalletPass
from loyalty.program.services import program_for
from tests.browser import PHONE, logged_in_page, screenshot
from tests.loyalty.api_support import pos_card, pos_program  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORDS = {
    "ru": {
        "locale": "ru-RU",
        "issue": "Выдать новую карту",
        "issued": "Карта выдана",
        "refund_start": "Возврат прошлой покупки",
        "refunded": "Возврат",
        "fineprint": "карта открывается в браузере",
        "open_card": "Открыть мою карту",
        "copied": "Ссылка скопирована",
        "consent": "согласие компании «Кофейня „Зерно“»",
        "bill_error": "Проверьте сумму чека",
    },
    "en": {
        "locale": "en-US",
        "issue": "Issue a new card",
        "issued": "Card issued",
        "refund_start": "Refund a past purchase",
        "refunded": "Refunded",
        "fineprint": "the card opens in your browser",
        "open_card": "Open my card",
        "copied": "Link copied",
        "consent": "I agree that «Кофейня „Зерно“» processes",
        "bill_error": "Check the bill",
    },
}


@pytest.fixture(params=["ru", "en"])
def language(request, settings):
    settings.LANGUAGE_CODE = request.param
    return request.param


@pytest.fixture
def no_wallets(settings):
    settings.APPLE_PASS_CERT_FILE = ""
    settings.GOOGLE_WALLET_ISSUER_ID = ""


def test_cashier_enrols_a_new_customer_and_refunds_yesterdays_purchase(
    live_server, browser, language, cashier, merchant, location, pos_card
):
    w = WORDS[language]
    merchant.cashiers_can_refund = True
    merchant.save()
    yesterday = ledger.purchase(
        merchant=merchant,
        card=pos_card,
        location=location,
        bill_amount=Decimal("800"),
        receipt_id="R-yesterday",
        idempotency_key=f"y-{uuid.uuid4().hex}",
        now=timezone.now() - timedelta(days=1),
    )
    page = logged_in_page(browser, live_server, cashier, viewport=PHONE, locale=w["locale"])
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/dashboard/till/")

    # A customer without a card: not found, and the till offers to issue one.
    page.fill("#find-q", "8 903 555-12-34")
    page.keyboard.press("Enter")
    expect(page.locator("#enrol-start")).to_be_visible()
    expect(page.locator("#enrol-start")).to_have_text(w["issue"])
    screenshot(page, f"i12-till-1-not-found-{language}")
    page.click("#enrol-start")
    expect(page.locator("#enrol-phone")).to_have_value("8 903 555-12-34")
    expect(page.locator("#enrol-consent-text")).to_contain_text(w["consent"])
    page.fill("#enrol-name", "Борис")
    # Without the tick nothing is issued, and the till says why in words.
    page.click("#enrol-submit")
    expect(page.locator("#till-alert")).to_be_visible()
    expect(page.locator("#till-alert")).not_to_contain_text("consent:")
    assert not Customer.objects.filter(phone="+79035551234").exists()
    page.check("#enrol-consent")
    screenshot(page, f"i12-till-2-enrol-{language}")
    page.click("#enrol-submit")
    expect(page.locator("#customer-name")).to_have_text("Борис")
    expect(page.locator("#till-alert")).to_contain_text(w["issued"])
    customer = Customer.objects.get(phone="+79035551234")
    assert PersonalDataConsent.objects.get(customer=customer).channel == "till"

    # A typo in the bill reads as a sentence, not a field name.
    page.fill("#bill", "12345678901234")
    expect(page.locator("#till-alert")).to_contain_text(w["bill_error"])
    expect(page.locator("#till-alert")).not_to_contain_text("bill_amount")
    # And the purchase goes on with the new card.
    page.fill("#bill", "500")
    expect(page.locator("#confirm")).to_be_enabled()
    page.click("#confirm")
    expect(page.locator("#result")).to_be_visible()
    assert Purchase.objects.filter(card__customer=customer, bill_amount=Decimal("500")).exists()
    screenshot(page, f"i12-till-3-bought-{language}")

    # Yesterday's customer comes back: refund 300 of their 800 purchase.
    page.click("#next-customer")
    page.fill("#find-q", "8 916 123 45 67")
    page.keyboard.press("Enter")
    expect(page.locator("#customer-name")).to_have_text("Анна")
    page.click("#refund-start")
    row = page.locator(f'#refunds-list li[data-purchase="{yesterday.pk}"]')
    expect(row).to_be_visible()
    screenshot(page, f"i12-till-4-refund-list-{language}")
    row.locator("button").click()
    expect(page.locator("#refund-amount")).to_have_value("800.00")
    page.fill("#refund-amount", "300")
    screenshot(page, f"i12-till-5-refund-form-{language}")
    page.click("#refund-submit")
    expect(page.locator("#till-alert")).to_contain_text(w["refunded"])
    refund = Refund.objects.get(purchase=yesterday)
    assert refund.amount == Decimal("300") and refund.actor == cashier
    pos_card.refresh_from_db()
    balance = re.sub(r"\D", "", page.locator("#balance").inner_text())
    assert int(balance) == pos_card.balance == 40 - 15
    screenshot(page, f"i12-till-6-refunded-{language}")


def test_customer_joins_without_wallets_and_shares_a_referral_link(
    live_server, browser, language, no_wallets, merchant, location, settings
):
    w = WORDS[language]
    settings.PUBLIC_BASE_URL = live_server.url
    program_for(merchant=merchant)
    context = browser.new_context(viewport=PHONE, locale=w["locale"], device_scale_factor=2)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)

    page.goto(f"{live_server.url}/join/{merchant.slug}/")
    expect(page.locator(".join-fineprint")).to_contain_text(w["fineprint"])
    expect(page.locator("body")).not_to_contain_text("Wallet")
    expect(page.locator(".consent").first).to_contain_text("«Кофейня „Зерно“»")
    screenshot(page, f"i12-join-1-form-{language}")
    page.fill("#id_name", "Вера")
    page.fill("#id_phone", "+7 926 000-11-22")
    page.check("#id_personal_data_consent")
    page.click(".join-submit")
    expect(page.locator(".welcome")).to_be_visible()
    expect(page.locator(".wallet-button")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("Wallet")
    screenshot(page, f"i12-join-2-welcome-{language}")

    customer = Customer.objects.get(phone="+79260001122")
    token = WalletPass.objects.get(card__customer=customer).web_token
    # An old or forwarded pass link: the web card, no set-up instructions for the merchant.
    page.goto(f"{live_server.url}/wallet/apple/{token}.pkpass")
    expect(page.locator("body")).not_to_contain_text("certificate")
    page.get_by_role("link", name=w["open_card"]).click()

    # The web card: the personal link and code, and the share button.
    expect(page.locator("#referral")).to_be_visible()
    expect(page.locator("#referral-code")).to_have_text(customer.referral_code)
    link = page.locator("#referral-link").input_value()
    assert link == f"{live_server.url}/join/{merchant.slug}/?ref={customer.referral_code}"
    screenshot(page, f"i12-join-3-card-{language}")

    # No share sheet in this browser: the link is copied.
    page.evaluate("delete Navigator.prototype.share")
    page.click("#referral-share")
    expect(page.locator("#referral-status")).to_contain_text(w["copied"])
    assert page.evaluate("navigator.clipboard.readText()") == link
    screenshot(page, f"i12-join-4-copied-{language}", full_page=False)

    # A phone with a share sheet gets it, with the link.
    page.evaluate(
        "Navigator.prototype.share = function (data) { window.__shared = data; return Promise.resolve(); };"
        "Navigator.prototype.canShare = function () { return true; };"
    )
    page.click("#referral-share")
    page.wait_for_function("() => window.__shared !== undefined")
    assert page.evaluate("window.__shared.url") == link

    # The link works: a friend who opens it joins as referred.
    friend = browser.new_context(viewport=PHONE, locale=w["locale"]).new_page()
    friend.goto(link)
    expect(friend.locator(".join-card .alert.success")).to_be_visible()
    friend.fill("#id_name", "Олег")
    friend.fill("#id_phone", "+7 926 000-33-44")
    friend.check("#id_personal_data_consent")
    friend.click(".join-submit")
    expect(friend.locator(".welcome")).to_be_visible()
    assert Customer.objects.get(phone="+79260003344").referred_by == customer
