"""Issue 12, the customer: the enrolment limit counts per device and per address
(proxy-aware) and skips failed validation; the join page and pass links are
honest about wallets; the web card carries a referral link; the consent names
the business correctly in Russian; no double full stop after a time."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import translation

from loyalty.enrollment import ratelimit
from loyalty.enrollment.selectors import default_consent
from loyalty.models import Customer, WalletPass
from loyalty.program.services import program_for
from tests.loyalty.test_enroll import good_data, wallets_on  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def join_url(merchant):
    program_for(merchant=merchant)
    return reverse("enroll", args=[merchant.slug])


@pytest.fixture
def no_wallets(settings):
    settings.APPLE_PASS_CERT_FILE = ""
    settings.GOOGLE_WALLET_ISSUER_ID = ""


def phone(i: int) -> str:
    return f"+7916555{i:04d}"


# --- the enrolment limit ---------------------------------------------------------------------------


def test_one_device_is_limited_but_its_neighbours_on_the_same_wifi_are_not(join_url, one_rate_limit_window):
    device = Client()
    device.get(join_url)  # the join page gives the browser its device cookie
    assert ratelimit.DEVICE_COOKIE in device.cookies
    for i in range(ratelimit.ENROLL_PER_DEVICE.count):
        assert device.post(join_url, good_data(phone=phone(i))).status_code == 302
    assert device.post(join_url, good_data(phone=phone(99))).status_code == 429
    # Twenty more phones on the café's Wi-Fi (the same address) still join.
    for i in range(20):
        neighbour = Client()
        neighbour.get(join_url)
        assert neighbour.post(join_url, good_data(phone=phone(100 + i))).status_code == 302
    assert ratelimit.ENROLL_PER_IP.count >= 100


def test_a_forged_device_cookie_is_a_new_device(join_url):
    device = Client()
    device.cookies[ratelimit.DEVICE_COOKIE] = "forged"
    assert device.post(join_url, good_data(phone=phone(1))).status_code == 302
    assert device.cookies[ratelimit.DEVICE_COOKIE].value != "forged"


def test_failed_validation_does_not_count(join_url, one_rate_limit_window):
    device = Client()
    for _ in range(ratelimit.ENROLL_PER_DEVICE.count * 2):
        assert device.post(join_url, good_data(phone="12")).status_code == 400
    assert device.post(join_url, good_data(phone=phone(1))).status_code == 302


def test_behind_the_proxy_addresses_are_counted_apart(join_url, settings, monkeypatch, one_rate_limit_window):
    monkeypatch.setattr(ratelimit, "ENROLL_PER_IP", ratelimit.Limit(3, 600))
    settings.BEHIND_HTTPS_PROXY = True

    def post(i, forwarded):
        client = Client()  # a new device each time: only the address limit applies
        return client.post(join_url, good_data(phone=phone(i)), REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)

    # The proxy appends the client's address; what the client wrote before it is not trusted.
    for i in range(3):
        assert post(i, f"1.2.3.{i}, 203.0.113.5").status_code == 302
    assert post(10, "9.9.9.9, 203.0.113.5").status_code == 429
    assert post(11, "203.0.113.6").status_code == 302

    # Without the setting the header is ignored: everyone is the proxy's address.
    settings.BEHIND_HTTPS_PROXY = False
    cache.clear()
    for i in range(3):
        assert post(20 + i, f"198.51.100.{i}").status_code == 302
    assert post(30, "198.51.100.77").status_code == 429


# --- wallets, referral --------------------------------------------------------------------------


def test_join_page_without_wallets_promises_only_the_web_card(client, join_url, no_wallets):
    html = client.get(join_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Wallet" not in html and "the card opens in your browser" in html


def test_join_page_with_wallets_names_them(client, join_url, wallets_on):  # noqa: F811
    html = client.get(join_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Apple Wallet, Google Wallet or your browser" in html


def test_pass_links_without_wallets_send_the_customer_to_the_web_card(client, join_url, no_wallets):
    client.post(join_url, good_data())
    token = WalletPass.objects.get().web_token
    for url in (reverse("wallet_apple_pass", args=[token]), reverse("wallet_google_save", args=[token])):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        html = response.content.decode()
        assert response.status_code == 404
        assert reverse("webcard", args=[token]) in html
        assert "certificate" not in html and "issuer" not in html and "Wallet settings" not in html


def test_web_card_has_a_referral_link_and_share_button(client, merchant, join_url, settings):
    settings.PUBLIC_BASE_URL = "https://loyalty.example"
    client.post(join_url, good_data())
    customer = Customer.objects.get()
    token = WalletPass.objects.get().web_token
    html = client.get(reverse("webcard", args=[token]), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert f'value="https://loyalty.example/join/{merchant.slug}/?ref={customer.referral_code}"' in html
    assert 'id="referral-share"' in html and 'src="/static/js/webcard.js"' in html
    # The share button's script is a static file (the Content Security Policy allows no inline script).
    script = Path(finders.find("js/webcard.js")).read_text()
    assert "navigator.share" in script and "clipboard" in script
    assert "Пригласите друга" in html and "Поделиться ссылкой" in html


# --- wording --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("Кофейня «Зерно»", "компании «Кофейня „Зерно“» на обработку"),
        ("«Зерно»", "компании «Зерно» на обработку"),
        ('ООО "Ромашка"', "компании «ООО „Ромашка“» на обработку"),
        ("Ромашка", "компании «Ромашка» на обработку"),
    ],
)
def test_russian_consent_names_any_business_correctly(merchant, name, quoted):
    merchant.name = name
    with translation.override("ru"):
        consent = default_consent(merchant=merchant)
    assert quoted in consent.personal_data_text
    assert "»»" not in consent.personal_data_text and "««" not in consent.personal_data_text
    assert "от компании «" in consent.marketing_text


def test_no_double_full_stop_after_a_time(merchant, owner):
    from django.template.loader import render_to_string
    from django.utils import timezone

    with translation.override("en"):
        text = render_to_string(
            "merchants/email/invitation_body.txt",
            {"merchant": merchant, "expires_at": timezone.now().replace(hour=3, minute=56), "link": "x"},
        )
    assert ".." not in text.replace("...", "")
