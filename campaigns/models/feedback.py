"""A customer's answer to a post-purchase follow-up: a rating 1–5 and a comment, one per
delivery (the unique delivery is the guarantee that the answer, and its bonus, count once)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScopedManager


class Feedback(models.Model):
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    delivery = models.OneToOneField("campaigns.Delivery", on_delete=models.CASCADE, related_name="feedback")
    customer = models.ForeignKey("loyalty.Customer", on_delete=models.CASCADE, related_name="campaign_feedback")
    rating = models.PositiveSmallIntegerField(_("rating"))
    comment = models.TextField(_("comment"), blank=True, max_length=2000)
    bonus_points = models.BigIntegerField(_("bonus points"), default=0)
    # Low ratings are e-mailed to the owner once; set when the e-mail has gone.
    alerted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        constraints = [
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="feedback_rating_1_to_5"),
        ]
        indexes = [models.Index(fields=["merchant", "created_at"], name="feedback_merchant_time_idx")]

    def __str__(self) -> str:
        return f"{self.delivery_id}: {self.rating}"
