"""Erase what campaigns hold about a customer when loyalty anonymises them
(issue 13): the Telegram binding and per-channel settings. Delivery history
stays (it names no contact details), so reports still add up."""

from __future__ import annotations

from campaigns.models import ChannelConsent, TelegramLink


def erase_customer(sender, *, merchant, customer, **kwargs) -> None:
    TelegramLink.objects.for_merchant(merchant).filter(customer=customer).delete()
    ChannelConsent.objects.for_merchant(merchant).filter(customer=customer).delete()
