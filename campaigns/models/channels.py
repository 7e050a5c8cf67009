"""What the campaigns app knows about reaching one customer: per-channel marketing consent (the
one-click unsubscribe writes here) and the customer's Telegram chat."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScopedManager


class ChannelChoices(models.TextChoices):
    WALLET = "wallet", _("Wallet card")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    TELEGRAM = "telegram", _("Telegram")


class ChannelConsent(models.Model):
    """The customer's choice for one channel. No row: the customer's general marketing consent
    (``Customer.marketing_consent``) decides. ``allowed=False`` is an unsubscribe (or the provider
    telling us the address is dead, ``off_reason``); it wins over the general consent at once."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("loyalty.Customer", on_delete=models.CASCADE, related_name="channel_consents")
    channel = models.CharField(_("channel"), max_length=16, choices=ChannelChoices.choices)
    allowed = models.BooleanField(_("allowed"))
    off_reason = models.CharField(_("reason"), max_length=300, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("channel consent")
        verbose_name_plural = _("channel consents")
        constraints = [
            models.UniqueConstraint(fields=["customer", "channel"], name="channel_consent_unique"),
        ]
        indexes = [models.Index(fields=["merchant", "channel", "allowed"], name="channel_consent_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.channel} {'on' if self.allowed else 'off'}"


def _start_token() -> str:
    # Telegram allows [A-Za-z0-9_-], up to 64 characters, in a start parameter.
    return secrets.token_urlsafe(24)


class TelegramLink(models.Model):
    """The customer's Telegram chat, bound when they open ``t.me/<bot>?start=<token>``."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    customer = models.OneToOneField("loyalty.Customer", on_delete=models.CASCADE, related_name="telegram_link")
    token = models.CharField(max_length=64, unique=True, default=_start_token)
    chat_id = models.BigIntegerField(null=True, blank=True)
    bound_at = models.DateTimeField(null=True, blank=True)
    # Set when Telegram answers 403 (the bot was blocked); cleared when the customer starts it again.
    blocked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("Telegram link")
        verbose_name_plural = _("Telegram links")

    def __str__(self) -> str:
        return f"{self.customer_id} → {self.chat_id}"
