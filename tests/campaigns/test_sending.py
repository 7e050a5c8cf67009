"""Sending a campaign: channel preference and consent, placeholders, the unique delivery row,
holdout, frequency cap, quiet hours (across a daylight-saving change), retries and permanent
failures, pause and cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from campaigns import campaign_settings, consent, sending
from campaigns.models import CampaignSettings, ChannelConsent, Delivery, DeliveryStatus, Send, TelegramLink
from loyalty.models import AppleDevice, AppleRegistration, Card, WalletPass
from loyalty.wallet.contract import wallet_pass_for
from tests.campaigns.conftest import make_customer
from tests.campaigns.support import campaign_for, run_due, run_send

NOON_MOSCOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 12:00 in Moscow

pytestmark = pytest.mark.usefixtures("english")


def bind_telegram(customer, chat_id: int) -> None:
    link = consent.telegram_link_for(customer=customer)
    consent.bind_telegram(token=link.token, chat_id=chat_id)


def install_wallet(customer) -> WalletPass:
    card = Card.objects.get(customer=customer)
    wallet_pass = wallet_pass_for(card=card)
    device = AppleDevice.objects.create(device_library_identifier=f"dev-{customer.pk}", push_token="ab" * 32)
    AppleRegistration.objects.create(merchant_id=customer.merchant_id, device=device, wallet_pass=wallet_pass)
    return wallet_pass


@pytest.mark.django_db
def test_each_customer_gets_the_first_channel_they_have_and_consented_to(
    merchant, smtp_server, twilio, telegram, public_base
):
    anna = make_customer(merchant, 1, name="Анна Петрова")
    boris = make_customer(merchant, 2, name="Борис")
    vera = make_customer(merchant, 3, name="Вера", email="vera@example.test")
    gleb = make_customer(merchant, 4, name="Глеб", consent=False)
    bind_telegram(anna, 7001)
    consent.set_channel(customer=vera, channel="email", allowed=False, reason="unsubscribed")
    campaign = campaign_for(merchant)

    with time_machine.travel(NOON_MOSCOW, tick=False):
        send = run_send(campaign)

    [sent] = telegram.to(7001)
    balance = Card.objects.get(customer=anna).balance
    assert sent.text.startswith(f"Анна, у вас {balance} баллов.\n\nUnsubscribe: {public_base}/u/")
    [mail] = smtp_server.to(boris.email)
    assert "Борис, у вас" in mail.part("text/plain") and "Unsubscribe" in mail.part("text/plain")
    assert mail.message["List-Unsubscribe"]
    # Vera unsubscribed from e-mail: the next channel on the list, SMS.
    assert [m.to for m in twilio.messages] == [vera.phone]
    assert smtp_server.to("vera@example.test") == []
    rows = {d.customer_id: d for d in Delivery.objects.filter(campaign=campaign)}
    assert {rows[c.pk].channel for c in (anna, boris, vera)} == {"telegram", "email", "sms"}
    assert all(rows[c.pk].status == DeliveryStatus.SENT for c in (anna, boris, vera))
    # No marketing consent: no message, and the row says why.
    assert (rows[gleb.pk].status, rows[gleb.pk].reason) == (DeliveryStatus.SKIPPED, "no channel with consent")
    assert send.status == "done"
    campaign.refresh_from_db()
    assert campaign.status == "done"

    # Running the same occurrence again sends nothing twice.
    with time_machine.travel(NOON_MOSCOW + timedelta(minutes=5), tick=False):
        run_send(campaign)
    assert len(telegram.sent) == 1 and len(smtp_server.messages) == 1 and len(twilio.messages) == 1
    assert Delivery.objects.filter(campaign=campaign).count() == 4


@pytest.mark.django_db
def test_wallet_channel_puts_the_message_on_the_card_and_grants_the_offer(merchant):
    anna = make_customer(merchant, 1)
    wallet_pass = install_wallet(anna)
    not_installed = make_customer(merchant, 2, email="")
    campaign = campaign_for(
        merchant,
        channels=["wallet"],
        body="{first_name}, +50 баллов до {expiry_date}! Баланс {balance}.",
        offer_points=50,
        offer_valid_days=14,
    )
    before = Card.objects.get(customer=anna).balance
    with time_machine.travel(NOON_MOSCOW, tick=False):
        run_send(campaign)
    wallet_pass.refresh_from_db()
    card = Card.objects.get(customer=anna)
    assert card.balance == before + 50
    assert wallet_pass.message_body.startswith("Анна, +50 баллов до ")
    assert wallet_pass.message_body.endswith(f"Баланс {card.balance}.")
    assert wallet_pass.message_header == "Новости «Зерна»"
    delivery = Delivery.objects.get(campaign=campaign, customer=anna)
    assert (delivery.status, delivery.provider_id, delivery.bonus_points) == ("sent", wallet_pass.message_key, 50)
    assert Delivery.objects.get(campaign=campaign, customer=not_installed).status == DeliveryStatus.SKIPPED


@pytest.mark.django_db
def test_holdout_is_deterministic_and_about_the_share_asked(merchant, smtp_server):
    customers = [make_customer(merchant, n) for n in range(1, 201)]
    campaign = campaign_for(merchant, channels=["email"], holdout_percent=10)
    with time_machine.travel(NOON_MOSCOW, tick=False):
        run_send(campaign)
    held = set(Delivery.objects.filter(campaign=campaign, status="holdout").values_list("customer_id", flat=True))
    assert 8 <= len(held) <= 35, len(held)
    assert held == {
        c.pk for c in customers if sending.in_holdout(campaign_id=campaign.pk, customer_id=c.pk, percent=10)
    }
    received = {m.rcpt_tos[0] for m in smtp_server.messages}
    assert received == {c.email for c in customers if c.pk not in held}


@pytest.mark.django_db
def test_frequency_cap_counts_every_campaign_and_exempts_service_messages(merchant, smtp_server):
    anna = make_customer(merchant, 1)
    settings = campaign_settings.settings_for(merchant=merchant)
    assert (settings.cap_messages, settings.cap_days) == (2, 7)
    start = NOON_MOSCOW
    for day in range(3):
        with time_machine.travel(start + timedelta(days=day), tick=False):
            run_send(campaign_for(merchant, name=f"Акция {day}", channels=["email"]))
    with time_machine.travel(start + timedelta(days=3), tick=False):
        run_send(campaign_for(merchant, name="Баллы сгорают", channels=["email"], transactional=True))
    statuses = list(Delivery.objects.filter(customer=anna).order_by("created_at").values_list("status", "reason"))
    assert statuses == [("sent", ""), ("sent", ""), ("skipped", "frequency cap"), ("sent", "")]
    assert len(smtp_server.to(anna.email)) == 3
    # A week after the first message the cap has room again.
    with time_machine.travel(start + timedelta(days=7, hours=1), tick=False):
        run_send(campaign_for(merchant, name="Через неделю", channels=["email"]))
    assert len(smtp_server.to(anna.email)) == 4
    CampaignSettings.objects.filter(merchant=merchant).update(exempt_transactional=False)


@pytest.mark.django_db
def test_quiet_hours_defer_to_the_morning_across_a_daylight_saving_change(merchant, telegram):
    merchant.time_zone = "Europe/Berlin"
    merchant.save(update_fields=["time_zone"])
    anna = make_customer(merchant, 1)
    bind_telegram(anna, 7001)
    campaign = campaign_for(merchant, channels=["telegram"])
    # Saturday 28 March 2026, 22:30 in Berlin (UTC+1); the clocks go forward that night.
    evening = datetime(2026, 3, 28, 21, 30, tzinfo=UTC)
    with time_machine.travel(evening, tick=False):
        run_send(campaign)
    delivery = Delivery.objects.get(campaign=campaign)
    assert delivery.status == DeliveryStatus.PENDING
    # 09:00 on Sunday in Berlin is 07:00 UTC (summer time), not 08:00.
    assert delivery.not_before == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert telegram.sent == []
    run_due(now=datetime(2026, 3, 29, 6, 59, tzinfo=UTC))
    assert telegram.sent == []
    with time_machine.travel(datetime(2026, 3, 29, 7, 1, tzinfo=UTC), tick=False):
        run_due(now=datetime(2026, 3, 29, 7, 1, tzinfo=UTC))
    assert len(telegram.to(7001)) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_transient_errors_retry_with_backoff_and_permanent_ones_keep_the_providers_reason(merchant, telegram):
    anna, boris = make_customer(merchant, 1), make_customer(merchant, 2, name="Борис")
    bind_telegram(anna, 7001)
    bind_telegram(boris, 7002)
    telegram.blocked.add(7002)
    telegram.fail_next.append(502)
    campaign = campaign_for(merchant, channels=["telegram"])
    with time_machine.travel(NOON_MOSCOW, tick=False):
        run_send(campaign)
    first = Delivery.objects.get(campaign=campaign, customer=anna)
    assert (first.status, first.attempts) == (DeliveryStatus.PENDING, 1)
    assert first.not_before == NOON_MOSCOW + timedelta(seconds=30)
    blocked = Delivery.objects.get(campaign=campaign, customer=boris)
    assert blocked.status == DeliveryStatus.FAILED
    assert blocked.reason == "403 Forbidden: bot was blocked by the user"
    # The blocked bot turns Telegram off for Boris only.
    assert ChannelConsent.objects.get(customer=boris, channel="telegram").allowed is False
    assert TelegramLink.objects.get(customer=boris).blocked_at is not None
    assert not ChannelConsent.objects.filter(customer=anna).exclude(allowed=True).exists()

    later = NOON_MOSCOW + timedelta(seconds=31)
    with time_machine.travel(later, tick=False):
        run_due(now=later)
    first.refresh_from_db()
    assert (first.status, first.attempts) == (DeliveryStatus.SENT, 2)
    assert len(telegram.to(7001)) == 1


@pytest.mark.django_db
def test_unsubscribing_stops_a_message_already_queued(merchant, smtp_server, public_base):
    anna = make_customer(merchant, 1)
    campaign = campaign_for(merchant, channels=["email"])
    with time_machine.travel(NOON_MOSCOW, tick=False):
        send, _ = sending.start_send(campaign=campaign, occurrence="once")
        pending, _ = sending.fan_out_chunk(send_id=send.pk)
        token = consent.unsubscribe_token(customer_id=anna.pk, channel="email")
        from django.test import Client
        from django.urls import reverse

        assert Client().get(reverse("campaigns_unsubscribe", args=[token])).status_code == 200
        sending.send_deliveries(send_id=send.pk, delivery_ids=pending)
    assert smtp_server.messages == []
    assert Delivery.objects.get(campaign=campaign).status == DeliveryStatus.SKIPPED


@pytest.mark.django_db
def test_pause_stops_the_send_and_cancel_drops_what_is_left(merchant, smtp_server):
    for n in range(1, 6):
        make_customer(merchant, n)
    campaign = campaign_for(merchant, channels=["email"])
    with time_machine.travel(NOON_MOSCOW, tick=False):
        send, _ = sending.start_send(campaign=campaign, occurrence="once")
        pending, _ = sending.fan_out_chunk(send_id=send.pk)
        sending.pause(campaign=campaign)
        outcome = sending.send_deliveries(send_id=send.pk, delivery_ids=pending)
        assert outcome.stopped and smtp_server.messages == []
        sending.resume(campaign=campaign)
        sending.send_deliveries(send_id=send.pk, delivery_ids=pending[:2])
        assert len(smtp_server.messages) == 2
        assert sending.cancel(campaign=campaign) == 3
        sending.send_deliveries(send_id=send.pk, delivery_ids=pending)
    assert len(smtp_server.messages) == 2
    assert sending.progress(campaign=campaign) | {} == {
        "total": 5,
        "sent": 2,
        "delivered": 0,
        "failed": 0,
        "skipped": 0,
        "holdout": 0,
        "remaining": 0,
        "cancelled": 3,
    }


@pytest.mark.django_db
def test_preview_counts_per_channel_after_consent_cap_and_holdout_and_renders_real_customers(merchant, smtp_server):
    from campaigns.preview import preview

    people = [make_customer(merchant, n, name=f"Гость{n} Иванов") for n in range(1, 41)]
    no_consent = make_customer(merchant, 99, consent=False)
    bind_telegram(people[0], 7001)
    campaign = campaign_for(
        merchant, channels=["telegram", "email"], holdout_percent=10, body="{first_name}: {balance}"
    )
    # Boris has had two marketing messages this week already.
    boris = people[1]
    old = campaign_for(merchant, name="old", channels=["email"])
    old_send = Send.objects.create(merchant=merchant, campaign=old, occurrence="x")
    for n in range(2):
        Delivery.objects.create(
            merchant=merchant,
            campaign=old,
            send=old_send,
            customer=boris,
            occurrence=f"x{n}",
            channel="email",
            status=DeliveryStatus.SENT,
            claimed_at=NOON_MOSCOW - timedelta(days=1),
            sent_at=NOON_MOSCOW - timedelta(days=1),
        )
    with time_machine.travel(NOON_MOSCOW, tick=False):
        result = preview(campaign=campaign)

    def held(customer) -> bool:
        return sending.in_holdout(campaign_id=campaign.pk, customer_id=customer.pk, percent=10)

    assert result.audience == 41 and result.holdout == sum(held(c) for c in [*people, no_consent])
    assert result.no_channel == (0 if held(no_consent) else 1)  # no consent
    assert result.capped == (0 if held(boris) else 1)
    assert result.per_channel["telegram"] == (0 if held(people[0]) else 1)
    assert (
        result.per_channel["email"]
        == 41 - result.holdout - result.no_channel - result.capped - result.per_channel["telegram"]
    )
    assert result.deferred_until is None
    assert len(result.samples) <= 3
    for name, _channel, text in result.samples:
        assert text == f"{name.split()[0]}: {Card.objects.get(customer__name=name).balance}"


@pytest.mark.django_db
def test_recurring_campaign_gets_its_own_beat_entry_in_the_merchants_zone(merchant, smtp_server):
    import json

    from django_celery_beat.models import PeriodicTask

    make_customer(merchant, 1)
    campaign = campaign_for(merchant, channels=["email"])
    sending.set_recurring(campaign=campaign, crontab={"minute": "0", "hour": "10", "day_of_week": "1"})
    task = PeriodicTask.objects.get(pk=campaign.periodic_task_id)
    assert task.task == "campaigns.tasks.run_recurring_campaign_task" and json.loads(task.args) == [campaign.pk]
    assert str(task.crontab.timezone) == "Europe/Moscow" and task.crontab.hour == "10"
    sending.pause(campaign=campaign)
    task.refresh_from_db()
    assert not task.enabled
