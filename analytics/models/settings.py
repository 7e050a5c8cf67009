"""A merchant's analytics settings (kept here, not on Merchant: merchants knows nothing of analytics)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScopedManager

DEFAULT_CHURN_WINDOW_DAYS = 90


class AnalyticsSettings(models.Model):
    merchant = models.OneToOneField("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    churn_window_days = models.PositiveIntegerField(
        _("churn window (days)"),
        default=DEFAULT_CHURN_WINDOW_DAYS,
        validators=[MinValueValidator(7), MaxValueValidator(730)],
        help_text=_("A customer with no purchase for this many days counts as lost."),
    )

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("analytics settings")
        verbose_name_plural = _("analytics settings")

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.churn_window_days}"
