"""Support console records (issue 13): balance adjustments waiting for a second
person's approval."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScopedManager


class PendingAdjustment(models.Model):
    """An adjustment above the merchant's threshold, asked for by one staff member
    and applied (through ``loyalty.ledger.adjust``) only when a support lead who is
    not the requester approves it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved and applied")
        REJECTED = "rejected", _("Rejected")

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    card = models.ForeignKey("loyalty.Card", on_delete=models.PROTECT, related_name="+", verbose_name=_("card"))
    points = models.BigIntegerField(_("points"))
    reason = models.TextField(_("reason"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_reason = models.TextField(_("decision reason"), blank=True)
    entry = models.ForeignKey(
        "loyalty.LedgerEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("entry"),
    )

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-requested_at", "-pk"]
        verbose_name = _("pending adjustment")
        verbose_name_plural = _("pending adjustments")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(decided_by__isnull=True) | ~models.Q(decided_by=models.F("requested_by")),
                name="pending_adjustment_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.points:+d} ({self.get_status_display()})"
