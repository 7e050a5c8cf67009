"""Wallet settings and the card's wallet page in a real browser: the owner
sees why the wallets are off, uploads a certificate (a bad one is explained,
a good one shows its pass type id, team and expiry), and the card page shows
the device and the push. Screenshots: artifacts/wallet-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from loyalty.enrollment.services import enroll_customer
from loyalty.models import AppleDevice, AppleRegistration, Delivery
from loyalty.program.services import program_for
from loyalty.wallet import passes
from tests.browser import PHONE, logged_in_page, screenshot

DESKTOP = {"width": 1280, "height": 900}


@pytest.mark.browser
def test_owner_sets_up_apple_wallet(live_server, transactional_db, browser, owner, merchant, pki, settings, tmp_path):
    settings.PUBLIC_BASE_URL = "https://loyalty.test"
    settings.APPLE_PASS_CERT_FILE = ""
    settings.LANGUAGE_CODE = "en"
    good, expired = tmp_path / "pass.p12", tmp_path / "expired.p12"
    good.write_bytes(pki.pass_cert.p12(b"pw"))
    expired.write_bytes(pki.expired.p12(b"pw"))

    page = logged_in_page(browser, live_server, owner, viewport=DESKTOP, locale="en-US")
    page.goto(f"{live_server.url}/dashboard/wallet/")
    expect(page.get_by_test_id("apple-reason")).to_contain_text("no pass certificate is set up")
    expect(page.get_by_test_id("google-reason")).to_contain_text("demo mode")
    screenshot(page, "wallet-01-nothing-set-desktop")

    apple = page.get_by_test_id("apple-form")
    apple.get_by_label("Certificate").set_input_files(str(expired))
    apple.get_by_label("Password").fill("pw")
    apple.get_by_role("button", name="Upload the certificate").click()
    expect(page.get_by_role("alert")).to_contain_text("The certificate expired on")
    screenshot(page, "wallet-02-expired-refused")

    apple = page.get_by_test_id("apple-form")
    apple.get_by_label("Certificate").set_input_files(str(good))
    apple.get_by_label("Password").fill("pw")
    apple.get_by_role("button", name="Upload the certificate").click()
    expect(page.get_by_test_id("apple-certificate")).to_contain_text(pki.pass_type_identifier)
    expect(page.get_by_test_id("apple-certificate")).to_contain_text(pki.team_identifier)
    expect(page.get_by_test_id("apple-reason")).to_have_count(0)
    screenshot(page, "wallet-03-certificate-saved")

    phone = logged_in_page(browser, live_server, owner, viewport=PHONE, locale="ru-RU")
    phone.goto(f"{live_server.url}/dashboard/wallet/")
    expect(phone.get_by_test_id("apple-certificate")).to_be_visible()
    screenshot(phone, "wallet-04-settings-phone")


@pytest.mark.browser
def test_card_wallet_page(live_server, transactional_db, browser, marketer, merchant, location):
    program_for(merchant=merchant)
    card = enroll_customer(merchant=merchant, phone="+79160001122", name="Анна Иванова", location=location)
    wallet_pass = passes.wallet_pass_for(card=card)
    device = AppleDevice.objects.create(device_library_identifier="d" * 32, push_token="ab" * 32)
    AppleRegistration.objects.create(merchant=merchant, device=device, wallet_pass=wallet_pass)
    Delivery.objects.create(
        merchant=merchant, wallet_pass=wallet_pass, device=device, channel="apple", status="ok", detail="apns-id X"
    )
    page = logged_in_page(browser, live_server, marketer, viewport=DESKTOP, locale="en-US")
    page.goto(f"{live_server.url}/dashboard/cards/{card.pk}/")
    expect(page.get_by_test_id("card-wallets")).to_be_visible()
    expect(page.get_by_test_id("devices")).to_be_visible()
    screenshot(page, "wallet-05-card-desktop")
    phone = logged_in_page(browser, live_server, marketer, viewport=PHONE, locale="ru-RU")
    phone.goto(f"{live_server.url}/dashboard/cards/{card.pk}/")
    expect(phone.get_by_test_id("devices")).to_be_visible()
    screenshot(phone, "wallet-06-card-phone")
