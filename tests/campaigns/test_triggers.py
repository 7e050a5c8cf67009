"""Automations end to end: the beat entry stored by setup_periodic_tasks names the dispatcher; the
dispatcher (run as beat would, Celery eager) evaluates each trigger in the merchant's time zone and
the real channel clients deliver to the loopback fakes. Time moves with time-machine."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from celery import current_app
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from campaigns import consent
from campaigns.models import Campaign, Delivery, DeliveryStatus
from loyalty.enrollment.services import enroll_customer
from loyalty.ledger import purchase
from loyalty.ledger.jobs import grant_birthday_bonuses
from loyalty.ledger.support import grant_bonus
from loyalty.models import Card, EntryKind, LedgerEntry
from loyalty.program.services import program_for, save_program
from tests.wallet.pipeline_support import eager_celery  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("english", "eager_celery")

NOON = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


def dispatch():
    """What beat does every minute: run the task its stored entry names."""
    entry = PeriodicTask.objects.get(name="campaigns: dispatcher")
    return current_app.tasks[entry.task].apply().get()


@pytest.fixture(autouse=True)
def beat(db):
    call_command("setup_periodic_tasks", verbosity=0)


def automation(merchant, trigger: str, **fields) -> Campaign:
    defaults = {"name": trigger, "kind": "automation", "status": "active", "holdout_percent": 0, "channels": ["email"]}
    return Campaign.objects.create(merchant=merchant, trigger=trigger, **{**defaults, **fields})


def enrol(merchant, n: int, *, name: str = "Анна", when=None, **extra) -> Card:
    program_for(merchant=merchant)
    return enroll_customer(
        merchant=merchant,
        phone=f"+7916{n:07d}",
        name=name,
        email=f"c{n}@example.test",
        marketing_consent=True,
        consent_channel="qr",
        consent_text_version="v1",
        now=when,
        **extra,
    )


def buy(merchant, card: Card, bill: str, when: datetime, n: int) -> None:
    purchase(
        merchant=merchant,
        card=card,
        location=None,
        bill_amount=Decimal(bill),
        redeem_points=0,
        redeem_rewards=0,
        receipt_id=f"R-{n}",
        idempotency_key=f"k-{n}",
        now=when,
    )


@pytest.mark.django_db
def test_welcome_fires_once_after_enrolment(merchant, smtp_server):
    with time_machine.travel(NOON, tick=False):
        automation(merchant, "welcome", subject="Добро пожаловать", body="{first_name}, рады знакомству!")
    with time_machine.travel(NOON + timedelta(minutes=1), tick=False):
        card = enrol(merchant, 1)
        dispatch()
        dispatch()
    [mail] = smtp_server.to(card.customer.email)
    assert mail.message["Subject"] == "Добро пожаловать"
    assert mail.part("text/plain").startswith("Анна, рады знакомству!")


@pytest.mark.django_db
def test_birthday_missed_while_beat_was_down_fires_late_and_pays_the_bonus_once(merchant, owner, telegram):
    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, birthday_bonus=200, birthday_days_before=3, welcome_bonus=0)
    with time_machine.travel(NOON - timedelta(days=30), tick=False):
        card = enrol(merchant, 1, birthday=date(1990, 6, 15))
        link = consent.telegram_link_for(customer=card.customer)
        consent.bind_telegram(token=link.token, chat_id=9001)
        automation(
            merchant,
            "birthday",
            trigger_days=3,
            channels=["telegram"],
            offer_points=200,
            body="{first_name}, с наступающим! Вам {balance} баллов.",
        )
    # The window opens on 12 June; beat was down until the 14th. The program's own birthday job
    # ran first and paid its bonus.
    late = datetime(2026, 6, 14, 9, 0, tzinfo=UTC)
    with time_machine.travel(late, tick=False):
        grant_birthday_bonuses(merchant=merchant, now=late)
        dispatch()
        dispatch()
    [sent] = telegram.to(9001)
    assert sent.text.startswith("Анна, с наступающим! Вам 200 баллов.")
    assert LedgerEntry.objects.filter(card=card, kind=EntryKind.BONUS_BIRTHDAY).count() == 1
    assert Delivery.objects.get(customer=card.customer).occurrence == "birthday:2026"


@pytest.mark.django_db
def test_win_back_by_sms_after_the_gap_and_not_before(merchant, twilio):
    start = NOON - timedelta(days=100)
    with time_machine.travel(start, tick=False):
        card = enrol(merchant, 1, name="Борис")
        buy(merchant, card, "500", start, 1)
        automation(merchant, "win_back", trigger_days=60, channels=["sms"], body="{first_name}, мы скучаем!")
    with time_machine.travel(start + timedelta(days=59), tick=False):
        dispatch()
    assert twilio.messages == []
    with time_machine.travel(start + timedelta(days=61), tick=False):
        dispatch()
        dispatch()
    assert [(m.to, m.body) for m in twilio.messages] == [(card.customer.phone, "Борис, мы скучаем!")]


@pytest.mark.django_db
def test_points_expiry_names_the_points_and_the_date_in_the_merchants_zone(merchant, owner, smtp_server):
    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, welcome_bonus=0)
    with time_machine.travel(NOON, tick=False):
        card = enrol(merchant, 1)
        grant_bonus(
            merchant=merchant, card=card, kind=EntryKind.BONUS_WELCOME, points=150, idempotency_key="g1", valid_days=5
        )
        automation(
            merchant,
            "points_expiry",
            trigger_days=7,
            transactional=True,
            body="{expiring_points} баллов сгорят {expiry_date}.",
        )
        dispatch()
    [mail] = smtp_server.to(card.customer.email)
    text = mail.part("text/plain")
    assert text.startswith("150 баллов сгорят ")
    assert Delivery.objects.get(customer=card.customer).status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_post_purchase_follow_up_respects_quiet_hours_then_goes_in_the_morning(merchant, smtp_server):
    evening = datetime(2026, 6, 10, 19, 30, tzinfo=UTC)  # 22:30 in Moscow
    with time_machine.travel(evening - timedelta(days=3), tick=False):
        card = enrol(merchant, 1)
        buy(merchant, card, "300", evening - timedelta(days=3), 1)
        automation(merchant, "post_purchase", trigger_days=3, body="{first_name}, как вам у нас?")
    with time_machine.travel(evening, tick=False):
        dispatch()
    assert smtp_server.messages == []
    assert Delivery.objects.get(customer=card.customer).not_before == datetime(2026, 6, 11, 6, 0, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 6, 11, 6, 1, tzinfo=UTC), tick=False):
        dispatch()
    assert len(smtp_server.to(card.customer.email)) == 1
