"""Campaigns, their sends (one occurrence each) and one delivery row per (campaign, customer,
occurrence), plus the merchant's sending settings (frequency cap, quiet hours)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from merchants.models import MerchantScopedManager

from .channels import ChannelChoices


class CampaignSettings(models.Model):
    """A merchant's rules for all campaigns and automations together."""

    merchant = models.OneToOneField(
        "merchants.Merchant", on_delete=models.CASCADE, related_name="campaign_settings", verbose_name=_("merchant")
    )
    cap_messages = models.PositiveSmallIntegerField(_("at most this many marketing messages"), default=2)
    cap_days = models.PositiveSmallIntegerField(_("per this many days"), default=7)
    exempt_transactional = models.BooleanField(
        _("service messages (points expiring) do not count towards the limit"), default=True
    )
    quiet_start = models.TimeField(_("quiet hours from"), default=dt.time(21, 0))
    quiet_end = models.TimeField(_("quiet hours until"), default=dt.time(9, 0))
    sender_name = models.CharField(_("sender name"), max_length=11, blank=True, help_text=_("For SMS and e-mail."))
    owner_email = models.EmailField(_("send low ratings to"), blank=True)
    # What a new campaign or automation starts with (each campaign may change its own).
    default_holdout_percent = models.PositiveSmallIntegerField(_("hold-out share for new campaigns, %"), default=10)
    default_attribution_days = models.PositiveSmallIntegerField(
        _("attribution window for new campaigns, days"), default=14
    )

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("campaign settings")
        verbose_name_plural = _("campaign settings")

    def __str__(self) -> str:
        return f"{self.cap_messages}/{self.cap_days}d"


class Kind(models.TextChoices):
    BROADCAST = "broadcast", _("One-off")
    RECURRING = "recurring", _("Recurring")
    AUTOMATION = "automation", _("Automation")


class Trigger(models.TextChoices):
    WELCOME = "welcome", _("Welcome, after enrolment")
    POST_PURCHASE = "post_purchase", _("Follow-up after a purchase")
    BIRTHDAY = "birthday", _("Birthday")
    WIN_BACK = "win_back", _("Win-back: no purchase for a while")
    POINTS_EXPIRY = "points_expiry", _("Points about to expire")
    TIER_REACHED = "tier_reached", _("Tier reached")
    TIER_AT_RISK = "tier_at_risk", _("Tier about to be lost")
    STAMPS_COMPLETE = "stamps_complete", _("Stamp card complete")
    ANNIVERSARY = "anniversary", _("Anniversary of the first purchase")


# Labels in the "campaign" context: in Russian they agree with «рассылка» (feminine).
class Status(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("campaign", "Draft")
    SCHEDULED = "scheduled", pgettext_lazy("campaign", "Scheduled")
    ACTIVE = "active", pgettext_lazy("campaign", "Active")
    SENDING = "sending", pgettext_lazy("campaign", "Sending")
    PAUSED = "paused", pgettext_lazy("campaign", "Paused")
    DONE = "done", pgettext_lazy("campaign", "Sent")
    CANCELLED = "cancelled", pgettext_lazy("campaign", "Cancelled")


class Campaign(models.Model):
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, related_name="campaigns", verbose_name=_("merchant")
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.BROADCAST)
    trigger = models.CharField(_("trigger"), max_length=24, choices=Trigger.choices, blank=True)
    # The trigger's N: days after a purchase, before a birthday, without a purchase (win-back;
    # empty: twice the merchant's median gap), before points expire.
    trigger_days = models.PositiveIntegerField(_("days"), null=True, blank=True)
    # Empty: everyone with consent.
    segment = models.ForeignKey(
        "campaigns.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name=_("audience"),
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("message"))
    # In order of preference: a customer gets the first one they have and consented to.
    channels = models.JSONField(_("channels"), default=list)
    offer_points = models.PositiveIntegerField(_("bonus points"), default=0)
    offer_valid_days = models.PositiveIntegerField(_("bonus valid for days"), null=True, blank=True)
    # An offer for the next purchase within offer_valid_days (loyalty.ledger.offers): at most one of these.
    offer_multiplier = models.DecimalField(
        _("points multiplier on the next purchase"), max_digits=4, decimal_places=2, null=True, blank=True
    )
    offer_discount_percent = models.DecimalField(
        _("discount on the next purchase, %"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    # Post-purchase follow-up: points for answering the feedback page (once per message).
    feedback_bonus = models.PositiveIntegerField(_("bonus points for a review"), default=0)
    transactional = models.BooleanField(_("service message"), default=False)
    holdout_percent = models.PositiveSmallIntegerField(_("hold-out share, %"), default=10)
    attribution_days = models.PositiveSmallIntegerField(_("attribution window, days"), default=14)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)
    # A recurring campaign's schedule (CrontabSchedule fields, campaigns.recurrence), copied to its
    # beat entry in the merchant's time zone when it is switched on.
    recurrence = models.JSONField(_("schedule"), default=dict, blank=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("beat entry"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("changed"), default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.CheckConstraint(condition=models.Q(holdout_percent__lte=90), name="campaign_holdout_range"),
        ]
        indexes = [models.Index(fields=["status", "send_at"], name="campaign_due_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def offer_source(self) -> str:
        """How loyalty's next-purchase offers name the campaign that gave them (its report sums their cost)."""
        return f"campaign:{self.pk}"


class SendStatus(models.TextChoices):
    FANNING_OUT = "fanning_out", _("Preparing")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Paused")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class Send(models.Model):
    """One occurrence of a campaign (a broadcast's only one, a recurring campaign's run, an
    automation's daily batch). Fan-out progress is stored (``cursor``: the last customer id with
    a delivery row), so a killed worker's successor continues where it stopped."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="sends")
    occurrence = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=SendStatus.choices, default=SendStatus.FANNING_OUT)
    cursor = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("campaign run")
        verbose_name_plural = _("campaign runs")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "occurrence"], name="send_once_per_occurrence"),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="send_stalled_idx")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.occurrence}"


# Labels in the "message" context: in Russian they agree with «сообщение» (neuter).
class DeliveryStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("message", "Waiting")
    SENDING = "sending", pgettext_lazy("message", "Sending")
    SENT = "sent", pgettext_lazy("message", "Sent")
    DELIVERED = "delivered", pgettext_lazy("message", "Delivered")
    FAILED = "failed", pgettext_lazy("message", "Not delivered")
    SKIPPED = "skipped", pgettext_lazy("message", "Not sent")
    HOLDOUT = "holdout", pgettext_lazy("message", "Held out")
    CANCELLED = "cancelled", pgettext_lazy("message", "Cancelled")


class Delivery(models.Model):
    """At most one message per (campaign, customer, occurrence): the unique constraint is the
    guarantee. A sender claims the row with ``status=PENDING → SENDING`` and goes on only if it
    changed exactly one row. Held-out customers and those skipped (no channel, cap) get a row too,
    so the report compares like with like."""

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, related_name="+", verbose_name=_("merchant")
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("campaign")
    )
    send = models.ForeignKey(Send, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("send"))
    customer = models.ForeignKey(
        "loyalty.Customer", on_delete=models.CASCADE, related_name="campaign_deliveries", verbose_name=_("customer")
    )
    occurrence = models.CharField(_("occurrence"), max_length=64)
    channel = models.CharField(_("channel"), max_length=16, choices=ChannelChoices.choices, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    # Counts towards the frequency cap (marketing; service messages when not exempt).
    capped = models.BooleanField(_("counts towards the limit"), default=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Deferred (quiet hours, a retry's backoff): not to be sent before this moment.
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("taken for sending"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    provider_id = models.CharField(_("provider's message id"), max_length=100, blank=True)
    bonus_points = models.BigIntegerField(_("bonus points"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer", "occurrence"], name="delivery_once_per_campaign_customer_occurrence"
            ),
        ]
        indexes = [
            models.Index(fields=["send", "status"], name="delivery_send_status_idx"),
            models.Index(fields=["customer", "sent_at"], name="delivery_cap_idx"),
            models.Index(fields=["provider_id"], name="delivery_provider_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.customer_id}/{self.occurrence}: {self.status}"
