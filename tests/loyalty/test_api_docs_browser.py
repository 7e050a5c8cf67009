"""The POS API's interactive docs render in Chromium from the project's own
static files (drf-spectacular-sidecar): no request leaves 127.0.0.1."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect, sync_playwright

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_is_served_locally(live_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    hosts: set[str] = set()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda request: hosts.add(urlparse(request.url).hostname or ""))
        page.goto(f"{live_server.url}/api/pos/v1/docs/")
        expect(page.locator(".swagger-ui .title")).to_contain_text("Loyalty POS API", timeout=15_000)
        expect(page.locator(".opblock-summary-path").first).to_be_visible()
        assert page.locator("text=/api/pos/v1/purchases/").count() >= 1
        expect(page.locator(".btn.authorize")).to_be_visible()
        page.screenshot(path=django_settings.BASE_DIR / "artifacts" / "pos-api-docs.png", full_page=False)
        browser.close()
    assert hosts <= {"localhost", "127.0.0.1"}, hosts
