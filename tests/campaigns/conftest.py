"""Fixtures for the campaigns tests: the channel fakes on 127.0.0.1 (SMTP, Twilio-shaped SMS
gateway, Telegram Bot API) with the settings pointing at them, and customers to send to."""

from __future__ import annotations

import pytest

from loyalty.enrollment.services import enroll_customer
from loyalty.program.services import program_for

TELEGRAM_SECRET = "webhook-secret-123"


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def smtp_server(settings):
    from tests.fakes.smtp import FakeSMTP

    server = FakeSMTP().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "Loyalty <noreply@loyalty.test>"
    yield server
    server.stop()


@pytest.fixture
def twilio(settings):
    from tests.fakes.twilio import FakeTwilio

    fake = FakeTwilio().start()
    settings.SMS_GATEWAY_URL = fake.url
    settings.SMS_ACCOUNT_SID = fake.account_sid
    settings.SMS_AUTH_TOKEN = fake.auth_token
    yield fake
    fake.stop()


@pytest.fixture
def telegram(settings):
    from tests.fakes.telegram import FakeTelegram

    fake = FakeTelegram().start()
    settings.TELEGRAM_API_URL = fake.url
    settings.TELEGRAM_BOT_TOKEN = fake.token
    settings.TELEGRAM_BOT_USERNAME = "zerno_loyalty_bot"
    settings.TELEGRAM_WEBHOOK_SECRET = TELEGRAM_SECRET
    yield fake
    fake.stop()


@pytest.fixture
def public_base(settings):
    settings.PUBLIC_BASE_URL = "https://loyalty.test"
    return settings.PUBLIC_BASE_URL


def make_customer(merchant, n: int, *, name: str = "Анна Петрова", email: str | None = None, consent: bool = True):
    program_for(merchant=merchant)
    return enroll_customer(
        merchant=merchant,
        phone=f"+7916{n:07d}",
        name=name,
        email=email if email is not None else f"c{n}@example.test",
        marketing_consent=consent,
        consent_channel="qr" if consent else "",
        consent_text_version="v1" if consent else "",
    ).customer
