"""The POS API's interactive docs render in Chromium from the project's own
static files (drf-spectacular-sidecar): no request leaves 127.0.0.1."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_is_served_locally(live_server, browser):
    hosts: set[str] = set()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("request", lambda request: hosts.add(urlparse(request.url).hostname or ""))
    page.goto(f"{live_server.url}/api/pos/v1/docs/")
    expect(page.locator(".swagger-ui .title")).to_contain_text("Loyalty POS API", timeout=15_000)
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert page.locator("text=/api/pos/v1/purchases/").count() >= 1
    expect(page.locator(".btn.authorize")).to_be_visible()
    screenshot(page, "pos-api-docs", full_page=False)
    page.close()
    assert hosts <= {"localhost", "127.0.0.1"}, hosts
