"""Each channel client against a loopback fake speaking the provider's protocol."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from campaigns import consent
from campaigns.channels.base import OutgoingMessage, TransientChannelError
from campaigns.channels.email import EmailChannel
from campaigns.channels.sms import SmsChannel
from campaigns.channels.telegram import TelegramChannel
from campaigns.models import ChannelConsent, TelegramLink
from tests.campaigns.conftest import TELEGRAM_SECRET, make_customer

pytestmark = pytest.mark.usefixtures("english")


def message(merchant, customer, address: str, **extra) -> OutgoingMessage:
    return OutgoingMessage(
        merchant_id=merchant.pk,
        customer_id=customer.pk,
        address=address,
        text="Привет, Анна! У вас 120 баллов.",
        subject="Новости «Зерна»",
        **extra,
    )


@pytest.mark.django_db
def test_email_goes_over_smtp_with_html_text_and_one_click_unsubscribe(merchant, smtp_server, public_base):
    customer = make_customer(merchant, 1)
    url = consent.unsubscribe_url(customer_id=customer.pk, channel="email")
    with EmailChannel() as client:
        result = client.send(
            message(
                merchant,
                customer,
                "anna@example.test",
                html="<p>Привет, Анна!</p>",
                unsubscribe_url=url,
                sender_name="Зерно",
            )
        )
    assert result.ok
    [mail] = smtp_server.to("anna@example.test")
    assert mail.message["Subject"] == "Новости «Зерна»"
    # A long header is folded; its value is the same.
    assert mail.message["List-Unsubscribe"].strip() == f"<{url}>"
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Зерно" in mail.message["From"] and "noreply@loyalty.test" in mail.message["From"]
    assert "120 баллов" in mail.part("text/plain")
    assert "<p>Привет, Анна!</p>" in mail.part("text/html")

    # The mail client's one-click POST (RFC 8058) turns e-mail off for this customer only.
    path = url.removeprefix(public_base)
    response = Client().post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert ChannelConsent.objects.get(customer=customer, channel="email").allowed is False
    assert not ChannelConsent.objects.filter(customer=customer, channel="sms").exists()


@pytest.mark.django_db
def test_email_refused_address_is_a_permanent_failure_with_the_servers_words(merchant, smtp_server):
    customer = make_customer(merchant, 1)
    smtp_server.refuse.add("gone@example.test")
    smtp_server.defer.add("later@example.test")
    with EmailChannel() as client:
        refused = client.send(message(merchant, customer, "gone@example.test"))
        with pytest.raises(TransientChannelError, match="451"):
            client.send(message(merchant, customer, "later@example.test"))
    assert not refused.ok and refused.channel_off
    assert refused.reason.startswith("550") and "No such user" in refused.reason
    assert smtp_server.messages == []


@pytest.mark.django_db
def test_sms_through_the_twilio_api_shape_and_its_signed_delivery_report(merchant, twilio, public_base):
    customer = make_customer(merchant, 1)
    callback = public_base + reverse("campaigns_sms_status")
    with SmsChannel(status_callback_url=callback) as client:
        result = client.send(message(merchant, customer, customer.phone, sender_name="Zerno"))
        twilio.invalid.add("+79990000000")
        refused = client.send(message(merchant, customer, "+79990000000"))
        twilio.fail_next.append(503)
        with pytest.raises(TransientChannelError):
            client.send(message(merchant, customer, customer.phone))
    [sms] = twilio.messages
    assert result.ok and result.provider_id == sms.sid
    assert (sms.to, sms.sender, sms.status_callback) == (customer.phone, "Zerno", callback)
    assert "120 баллов" in sms.body
    assert not refused.ok and refused.channel_off and refused.reason.startswith("21211")

    # The report is accepted only with Twilio's signature.
    client = Client()
    assert twilio.report(sms.sid, "delivered", client=client, token="wrong").status_code == 403
    assert twilio.report(sms.sid, "delivered", client=client).status_code == 204


@pytest.mark.django_db
def test_telegram_start_link_binds_the_chat_then_messages_arrive_and_a_block_turns_the_channel_off(
    merchant, telegram, public_base
):
    customer = make_customer(merchant, 1)
    link = consent.telegram_deep_link(customer=customer)
    token = TelegramLink.objects.get(customer=customer).token
    assert link == f"https://t.me/zerno_loyalty_bot?start={token}"

    webhook = reverse("campaigns_telegram_webhook")
    update = json.dumps(telegram.start_update(555001, token))
    client = Client()
    # Without Telegram's secret header the update is refused.
    assert client.post(webhook, update, content_type="application/json").status_code == 403
    assert TelegramLink.objects.get(customer=customer).chat_id is None
    answer = client.post(
        webhook, update, content_type="application/json", headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    )
    assert answer.status_code == 200
    assert answer.json()["method"] == "sendMessage" and answer.json()["chat_id"] == 555001
    assert merchant.name in answer.json()["text"]
    assert TelegramLink.objects.get(customer=customer).chat_id == 555001

    with TelegramChannel() as bot:
        sent = bot.send(message(merchant, customer, "555001"))
        telegram.blocked.add(555001)
        blocked = bot.send(message(merchant, customer, "555001"))
        telegram.fail_next.append(429)
        with pytest.raises(TransientChannelError) as retry:
            bot.send(message(merchant, customer, "555001"))
    assert sent.ok and [s.text for s in telegram.to(555001)] == ["Привет, Анна! У вас 120 баллов."]
    assert not blocked.ok and blocked.channel_off and "bot was blocked by the user" in blocked.reason
    assert retry.value.retry_after == 1


@pytest.mark.django_db
def test_the_web_card_offers_the_telegram_link_until_the_chat_is_bound(merchant, telegram):
    from loyalty.models import Card
    from loyalty.wallet.contract import wallet_pass_for

    customer = make_customer(merchant, 1)
    wallet_pass = wallet_pass_for(card=Card.objects.get(customer=customer))
    page = Client().get(reverse("webcard", args=[wallet_pass.web_token]))
    assert page.status_code == 200
    token = TelegramLink.objects.get(customer=customer).token
    assert f'href="https://t.me/zerno_loyalty_bot?start={token}"' in page.content.decode()
    consent.bind_telegram(token=token, chat_id=42)
    page = Client().get(reverse("webcard", args=[wallet_pass.web_token]))
    assert "t.me/zerno_loyalty_bot" not in page.content.decode()
    assert "Новости приходят вам в Telegram." in page.content.decode()  # the page speaks Russian by default
