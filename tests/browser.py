"""What the Playwright browser tests share: Debian's Chromium, a phone's
viewport, a staff member's page opened already logged in, and screenshots
under artifacts/. The ``browser`` fixture (one Chromium per run, fresh contexts per test) is
registered for the whole suite in tests/conftest.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def _chromium():
    """One Debian Chromium, headless, for the whole run (per xdist worker): launching it is the slow part.

    Playwright's sync API drives an asyncio loop that stays registered as this thread's *running* loop
    between its calls. While it is, Django refuses ORM calls (SynchronousOnlyOperation) and asgiref keeps
    database connections per context, apart from the test's, so they were never closed and the test
    database could not be dropped. The loop is therefore only registered while a browser test runs."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        loop = asyncio.get_running_loop()
        asyncio._set_running_loop(None)
        try:
            yield chromium, loop
        finally:
            asyncio._set_running_loop(loop)
            chromium.close()


@pytest.fixture
def browser(_chromium, monkeypatch):
    """The run's Chromium; every context a test opens (``new_context``, ``new_page``) is closed after it."""
    # The ORM calls the test makes between page actions are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    chromium, loop = _chromium
    asyncio._set_running_loop(loop)
    try:
        yield chromium
    finally:
        try:
            for context in list(chromium.contexts):
                context.close()
        finally:
            # Connections the test body opened while the loop was registered live in that context's
            # storage; close them before the loop is taken away (and the test database is flushed).
            connections.close_all()
            asyncio._set_running_loop(None)


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
