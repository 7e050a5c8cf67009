"""``{% telegram_news_link card %}`` for the customer's pages (web card, join success page): the
"get news in Telegram" button with the ``t.me/<bot>?start=<token>`` link, or nothing when no bot is
configured, the card is blocked, or the chat is already bound. Loaded by loyalty's templates with
``{% load campaigns_telegram %}``, so loyalty's code never imports campaigns."""

from __future__ import annotations

from django import template

from campaigns import consent
from campaigns.models import TelegramLink

register = template.Library()


@register.inclusion_tag("campaigns/_telegram_link.html")
def telegram_news_link(card) -> dict:
    if card is None or getattr(card, "is_blocked", False) or not consent.telegram_configured():
        return {"url": ""}
    bound = TelegramLink.objects.filter(customer_id=card.customer_id, chat_id__isnull=False, blocked_at__isnull=True)
    if bound.exists():
        return {"url": "", "bound": True}
    return {"url": consent.telegram_deep_link(customer=card.customer)}
