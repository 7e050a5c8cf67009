"""The Content-Security-Policy header (django-csp; issue 13) on HTML responses, in the test settings and
with production settings (DEBUG=0, in a fresh interpreter as a server process would start).

The browser side (every page satisfies the policy) is tests/test_csp_browser.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

from loyalty.wallet.passes import wallet_pass_for
from tests import factories
from tests.test_settings_guards import PRODUCTION
from tests.test_tenancy import _card

# Every directive, exactly: a source added to one of them (an origin, 'unsafe-inline') must be a decision
# made here too. style-src's nonce changes with every response; NONCE stands for it.
NONCE = "'nonce-…'"
EXPECTED = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = [NONCE if s.startswith("'nonce-") else s for s in sources]
    return parsed


def nonce_of(header: str) -> str:
    match = re.search(r"'nonce-([^']+)'", header)
    assert match, header
    return match.group(1)


@pytest.mark.django_db
def test_html_pages_carry_the_policy(client):
    owner = factories.UserFactory(role="owner")
    for path in ("/login/", "/signup/", "/password-reset/", "/admin/login/", "/no-such-page/"):
        response = client.get(path)
        assert response["Content-Type"].startswith("text/html"), path
        assert directives(response["Content-Security-Policy"]) == EXPECTED, path
    client.force_login(owner)
    for path in ("/dashboard/", "/dashboard/program/", "/dashboard/till/", "/dashboard/campaigns/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert directives(response["Content-Security-Policy"]) == EXPECTED, path


@pytest.mark.django_db
def test_a_page_with_the_merchants_colours_allows_its_own_style_element_by_nonce(client):
    """The web card's colours are a <style> element carrying the response's nonce; the header names that
    nonce and no other, and the next response has another one."""
    card = _card(factories.MerchantFactory())
    url = f"/card/{wallet_pass_for(card=card).web_token}/"
    first, second = client.get(url), client.get(url)
    assert first.status_code == 200
    header = first["Content-Security-Policy"]
    assert directives(header) == {**EXPECTED, "style-src": ["'self'", NONCE]}
    nonce = nonce_of(header)
    html = first.content.decode()
    styles = re.findall(r"<style([^>]*)>", html)
    assert styles and all(attrs == f' nonce="{nonce}"' for attrs in styles), styles
    assert 'style="' not in html and "<script>" not in html
    assert nonce_of(second["Content-Security-Policy"]) != nonce


PRINT_HEADERS = """
import json, django
django.setup()
from django.test import Client
from django.test.utils import override_settings
# The manifest of hashed static file names is built by collectstatic at deploy time; the header does not
# depend on it, so the pages are rendered with plain static names here.
with override_settings(STORAGES={**__import__("django.conf").conf.settings.STORAGES,
                                 "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}):
    client = Client(HTTP_HOST="loyalty.example")
    out = {}
    for path in ("/login/", "/no-such-page/"):
        r = client.get(path, secure=True, headers={"X-Forwarded-Proto": "https"})
        out[path] = {"status": r.status_code, "type": r["Content-Type"], "csp": r.get("Content-Security-Policy")}
print(json.dumps(out))
"""


def test_production_settings_send_the_same_policy():
    environment = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "SECRETS_ENCRYPTION_KEY", "DEBUG"}}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", ALLOWED_HOSTS="loyalty.example")
    environment.update(PRODUCTION, BEHIND_HTTPS_PROXY="1")
    result = subprocess.run(
        [sys.executable, "-c", PRINT_HEADERS],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["/login/"]["status"] == 200
    # A 404 with DEBUG off is an ordinary page: django-csp leaves out only DEBUG's technical pages.
    assert answers["/no-such-page/"]["status"] == 404
    for path, answer in answers.items():
        assert answer["type"].startswith("text/html"), path
        assert answer["csp"] and directives(answer["csp"]) == EXPECTED, (path, answer)
