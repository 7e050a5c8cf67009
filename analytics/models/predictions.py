"""Predicted customer value (analytics/clv.py), refitted nightly per merchant.

``PredictionFit`` is the merchant's latest fit: its parameters, its back-test, or
why there is no prediction yet. ``CustomerPrediction`` is one row per customer,
replaced by each fit."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from loyalty.models.fields import MONEY
from merchants.models import MerchantScopedManager


class PredictionFit(models.Model):
    class Status(models.TextChoices):
        FITTED = "fitted", _("Fitted")
        TOO_LITTLE_HISTORY = "too_little_history", _("Too little history")
        FAILED = "failed", _("Failed")

    merchant = models.OneToOneField("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=24, choices=Status.choices)
    # Why there is no prediction: a code plus its numbers, worded by the page in the reader's language.
    reason_code = models.CharField(max_length=32, blank=True)
    reason_numbers = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    customers = models.IntegerField(default=0)
    repeat_customers = models.IntegerField(default=0)
    history_days = models.IntegerField(default=0)
    # The back-test: fit on everything before the last ``holdout_days``, predict them.
    holdout_days = models.IntegerField(default=0)
    backtest_customers = models.IntegerField(default=0)
    actual_total = models.IntegerField(null=True, blank=True)
    model_total = models.DecimalField(max_digits=14, decimal_places=1, null=True, blank=True)
    baseline_total = models.DecimalField(max_digits=14, decimal_places=1, null=True, blank=True)
    model_mae = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    baseline_mae = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    fitted_at = models.DateTimeField()

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("prediction fit")
        verbose_name_plural = _("prediction fits")

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.status}"


class CustomerPrediction(models.Model):
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    customer = models.OneToOneField("loyalty.Customer", on_delete=models.CASCADE, related_name="+")
    p_alive = models.DecimalField(_("probability still a customer"), max_digits=5, decimal_places=4)
    expected_purchases_90d = models.DecimalField(_("expected purchases, 90 days"), max_digits=9, decimal_places=3)
    expected_spend_90d = models.DecimalField(_("expected spend, 90 days"), **MONEY)
    fitted_at = models.DateTimeField()

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("customer prediction")
        verbose_name_plural = _("customer predictions")
        # Segments: "probably churning, high value" reads by merchant and these two.
        indexes = [models.Index(fields=["merchant", "p_alive"], name="prediction_merchant_alive_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.p_alive}"
