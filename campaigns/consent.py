"""Per-channel marketing consent: one-click unsubscribe links, the channel turned off when a
provider says the customer cannot be reached, and the Telegram chat binding.

A customer may be sent marketing on a channel when they gave the general marketing consent
(``Customer.marketing_consent``, recorded at enrolment) and have not turned that channel off.
Unsubscribing takes effect at once: the sender re-checks consent when it claims each delivery.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from loyalty.models import Customer

from .models import ChannelChoices, ChannelConsent, TelegramLink

UNSUBSCRIBE_SALT = "campaigns.unsubscribe"


def unsubscribe_token(*, customer_id: int, channel: str) -> str:
    return signing.dumps([customer_id, channel], salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(*, customer_id: int, channel: str) -> str:
    path = reverse("campaigns_unsubscribe", args=[unsubscribe_token(customer_id=customer_id, channel=channel)])
    return settings.PUBLIC_BASE_URL + path


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    try:
        customer_id, channel = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if channel not in ChannelChoices.values:
        return None
    return int(customer_id), channel


def set_channel(
    *, customer: Customer, channel: str, allowed: bool, reason: str = "", now: datetime | None = None
) -> ChannelConsent:
    now = now or timezone.now()
    consent, _ = ChannelConsent.objects.update_or_create(
        customer=customer,
        channel=channel,
        defaults={
            "merchant_id": customer.merchant_id,
            "allowed": allowed,
            "off_reason": reason[:300],
            "updated_at": now,
        },
    )
    return consent


def unsubscribe(*, token: str, now: datetime | None = None) -> tuple[Customer, str] | None:
    """The one-click unsubscribe: turn the token's channel off for its customer. Replays are harmless."""
    parsed = read_unsubscribe_token(token)
    if parsed is None:
        return None
    customer_id, channel = parsed
    customer = Customer.objects.filter(pk=customer_id).select_related("merchant").first()
    if customer is None:
        return None
    set_channel(customer=customer, channel=channel, allowed=False, reason="unsubscribed", now=now)
    return customer, channel


def channel_off(*, customer_id: int, channel: str, reason: str, now: datetime | None = None) -> None:
    """A provider said this customer cannot be reached on this channel (blocked bot, dead address)."""
    now = now or timezone.now()
    customer = Customer.objects.get(pk=customer_id)
    with transaction.atomic():
        set_channel(customer=customer, channel=channel, allowed=False, reason=reason, now=now)
        if channel == ChannelChoices.TELEGRAM:
            TelegramLink.objects.filter(customer=customer).update(blocked_at=now)


# --- Telegram ---------------------------------------------------------------------------------


def telegram_link_for(*, customer: Customer) -> TelegramLink:
    link, _ = TelegramLink.objects.get_or_create(customer=customer, defaults={"merchant_id": customer.merchant_id})
    return link


def telegram_configured() -> bool:
    return bool(settings.TELEGRAM_BOT_USERNAME and settings.TELEGRAM_BOT_TOKEN)


def telegram_deep_link(*, customer: Customer) -> str:
    """``https://t.me/<bot>?start=<token>``, or "" when no bot is configured."""
    if not telegram_configured():
        return ""
    token = telegram_link_for(customer=customer).token
    return f"https://t.me/{settings.TELEGRAM_BOT_USERNAME}?start={token}"


def bind_telegram(*, token: str, chat_id: int, now: datetime | None = None) -> TelegramLink | None:
    """The customer pressed Start in the bot: bind the chat, and turn the channel on (pressing
    Start is an explicit request for messages there)."""
    now = now or timezone.now()
    with transaction.atomic():
        link = TelegramLink.objects.select_for_update().filter(token=token).select_related("customer").first()
        if link is None:
            return None
        link.chat_id = chat_id
        link.bound_at = now
        link.blocked_at = None
        link.save(update_fields=["chat_id", "bound_at", "blocked_at"])
        set_channel(customer=link.customer, channel=ChannelChoices.TELEGRAM, allowed=True, now=now)
    return link


def channel_label(channel: str) -> str:
    return str(dict(ChannelChoices.choices).get(channel, channel))
