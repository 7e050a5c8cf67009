"""What the Playwright browser tests share: Debian's Chromium, a phone's
viewport, a staff member's page opened already logged in, and screenshots
under artifacts/. The ``browser`` fixture is registered for the whole suite
in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser(monkeypatch):
    """Debian's Chromium, headless, closed after the test."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def logged_in_page(browser, live_server, user, *, viewport, locale="ru-RU"):
    """A page in a new context of ``viewport`` and ``locale`` carrying ``user``'s session cookie."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=viewport, locale=locale)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return context.new_page()


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save the page as artifacts/<name>.png."""
    path = settings.BASE_DIR / "artifacts" / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
