"""Fixtures for the campaigns tests.

The channel fakes on 127.0.0.1 (SMTP, Twilio-shaped SMS gateway, Telegram Bot API) with the
settings pointing at them, ``make_customer``; and ``shop``, a small hand-made shop whose segment
answers are worked out by hand.

Merchant time zone Europe/Moscow; "now" is 2026-03-10 12:00 Moscow (09:00 UTC).
Cashback 5 %, no welcome bonus, no returning-customer boost, points expire
after 100 days. Tiers: Base (0), Gold (2 000 spent).

| customer | enrolled (source)  | birthday   | purchases (Moscow noon unless said)          | where |
|----------|--------------------|------------|----------------------------------------------|-------|
| Anna     | 2026-01-05 (qr)    | 1990-03-12 | 02-01: 500 · 03-08: 1 000                    | A, B  |
| Boris    | 2025-12-01 (cash.) | 1985-12-31 | 2025-12-10: 3 000                            | A     |
| Gleb     | 2026-02-20 (import)| 1995-01-02 | 03-01, 03-05, 03-10 (10:00): 100, 200, 300   | A     |
| Vera     | 2026-03-09 (qr)    | 2000-02-29 | none                                         |       |

Marketing consent: Anna and Gleb. Wallets: Anna Apple, Boris Google, the
others the web card only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from loyalty.enrollment.services import enroll_customer
from loyalty.ledger import purchase
from loyalty.models import AppleDevice, AppleRegistration, WalletPass
from loyalty.program.services import program_for, save_program
from loyalty.wallet.contract import wallet_pass_for
from tests import factories

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def noon(y: int, m: int, d: int, hour_utc: int = 9) -> datetime:
    return datetime(y, m, d, hour_utc, 0, tzinfo=UTC)


@pytest.fixture
def shop(merchant, owner):
    program_for(merchant=merchant)
    save_program(
        merchant=merchant,
        actor=owner,
        welcome_bonus=0,
        returning_after_days=None,
        points_expiry_days=100,
        tiers=[
            {"name": "Base", "threshold": Decimal("0")},
            {"name": "Gold", "threshold": Decimal("2000")},
        ],
    )
    a = factories.LocationFactory(merchant=merchant, name="A")
    b = factories.LocationFactory(merchant=merchant, name="B")
    receipts = iter(range(1, 1000))

    def enrol(phone, name, when, source, birthday, consent=False):
        card = enroll_customer(
            merchant=merchant,
            phone=phone,
            name=name,
            birthday=birthday,
            location=a,
            source=source,
            marketing_consent=consent,
            consent_channel="qr" if consent else "",
            consent_text_version="1" if consent else "",
            now=when,
        )
        return card

    def buy(card, bill, when, location):
        n = next(receipts)
        purchase(
            merchant=merchant,
            card=card,
            location=location,
            bill_amount=Decimal(bill),
            redeem_points=0,
            redeem_rewards=0,
            receipt_id=f"R-{n}",
            idempotency_key=f"k-{n}",
            now=when,
        )

    anna = enrol("+79160000001", "Anna", noon(2026, 1, 5), "qr", date(1990, 3, 12), consent=True)
    boris = enrol("+79160000002", "Boris", noon(2025, 12, 1), "cashier", date(1985, 12, 31))
    gleb = enrol("+79160000003", "Gleb", noon(2026, 2, 20), "import", date(1995, 1, 2), consent=True)
    vera = enrol("+79160000004", "Vera", noon(2026, 3, 9), "qr", date(2000, 2, 29))

    buy(boris, "3000", noon(2025, 12, 10), a)
    buy(anna, "500", noon(2026, 2, 1), a)
    buy(gleb, "100", noon(2026, 3, 1), a)
    buy(gleb, "200", noon(2026, 3, 5), a)
    buy(anna, "1000", noon(2026, 3, 8), b)
    buy(gleb, "300", noon(2026, 3, 10, hour_utc=7), a)

    device = AppleDevice.objects.create(device_library_identifier="dev-anna", push_token="tok")
    AppleRegistration.objects.create(merchant=merchant, device=device, wallet_pass=wallet_pass_for(card=anna))
    wallet_pass_for(card=boris)
    WalletPass.objects.filter(card=boris).update(google_saved_at=NOW)
    for card in (gleb, vera):
        wallet_pass_for(card=card)

    return SimpleNamespace(
        merchant=merchant,
        a=a,
        b=b,
        anna=anna.customer,
        boris=boris.customer,
        gleb=gleb.customer,
        vera=vera.customer,
        cards={"Anna": anna, "Boris": boris, "Gleb": gleb, "Vera": vera},
    )


TELEGRAM_SECRET = "webhook-secret-123"


@pytest.fixture
def english():
    # The channel tests read English strings; the project default is Russian.
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
