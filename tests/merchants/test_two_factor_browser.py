"""Turning on two-factor authentication in a real browser (issue 13): the owner opens it
from the settings hub, reads the key the page shows, types the code an authenticator app
would show (computed here with django-otp's totp), sees the recovery codes once, and the
next log-in asks for a code. Screenshots: artifacts/i13-2fa-*.png."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_otp.oath import totp
from playwright.sync_api import expect

from merchants.models import AuthenticatorDevice
from tests.browser import logged_in_page, screenshot
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def code_for(secret: str) -> str:
    """What the phone shows for the key typed by hand (base32, as the page prints it)."""
    text = secret.replace(" ", "")
    key = base64.b32decode(text + "=" * (-len(text) % 8))
    return f"{totp(key):06d}"


def test_owner_turns_on_two_factor_authentication(browser, live_server, owner):
    page = logged_in_page(browser, live_server, owner, viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/dashboard/settings/")
    page.click("a[href='/account/two-factor/']")
    expect(page.get_by_test_id("two-factor-qr").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("two-factor-secret").inner_text()
    screenshot(page, "i13-2fa-setup")

    page.fill("#id_token", "000000" if code_for(secret) != "000000" else "111111")
    page.get_by_role("button", name="Включить").click()
    expect(page.locator(".field-error, .errorlist, [role=alert]").first).to_be_visible()
    assert not AuthenticatorDevice.objects.filter(user=owner, confirmed=True).exists()

    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=True):  # past django-otp's throttle delay
        page.fill("#id_token", code_for(secret))
        page.get_by_role("button", name="Включить").click()
        codes = page.get_by_test_id("recovery-codes").locator("code")
        expect(codes).to_have_count(10)
        screenshot(page, "i13-2fa-recovery-codes")
    assert AuthenticatorDevice.objects.filter(user=owner, confirmed=True).exists()

    # Shown once: the page now only says it is on.
    page.goto(f"{live_server.url}/account/two-factor/")
    expect(page.get_by_test_id("two-factor-on")).to_be_visible()
    expect(page.get_by_test_id("recovery-codes")).to_have_count(0)

    # A fresh log-in asks for the code.
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=True):
        fresh = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU").new_page()
        fresh.goto(f"{live_server.url}/login/")
        fresh.fill("#id_username", owner.email)
        fresh.fill("#id_password", PASSWORD)
        fresh.click("button[type=submit]")
        expect(fresh).to_have_url(f"{live_server.url}/login/")
        fresh.fill("#id_password", PASSWORD)
        fresh.fill("#id_otp_token", code_for(secret))
        fresh.click("button[type=submit]")
        expect(fresh).to_have_url(f"{live_server.url}/dashboard/")
