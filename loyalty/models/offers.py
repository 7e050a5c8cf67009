"""Offers on a card for its next purchase: a points multiplier or a discount off the bill.

Another domain (campaigns) gives them through ``loyalty.ledger.offers.grant_offer``; the ledger
applies one at the next purchase within its validity, once, and records on the offer the purchase
and what it cost (extra points, discount). ``source`` names the giver (``campaign:12``) so its
report can attribute the cost without loyalty knowing campaigns. ``Card.offer_until`` is the
cheap hint the purchase paths read with the card lock: no unused offer is valid past it.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.models.fields import MONEY
from merchants.models import MerchantScopedManager


class OfferKind(models.TextChoices):
    MULTIPLIER = "multiplier", _("Points multiplier on the next purchase")
    DISCOUNT = "discount", _("Discount on the next purchase")


class CardOffer(models.Model):
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    card = models.ForeignKey("loyalty.Card", on_delete=models.CASCADE, related_name="offers")
    kind = models.CharField(_("offer"), max_length=16, choices=OfferKind.choices)
    multiplier = models.DecimalField(_("multiplier"), max_digits=4, decimal_places=2, default=Decimal(1))
    discount_percent = models.DecimalField(_("discount, %"), max_digits=5, decimal_places=2, default=Decimal(0))
    valid_until = models.DateTimeField(_("valid until"))
    source = models.CharField(_("given by"), max_length=64)
    label = models.CharField(_("name shown to the cashier"), max_length=200, blank=True)
    key = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    purchase = models.OneToOneField(
        "loyalty.Purchase", null=True, blank=True, on_delete=models.PROTECT, related_name="offer"
    )
    extra_points = models.BigIntegerField(_("extra points given"), default=0)
    discount_amount = models.DecimalField(_("discount given"), default=0, **MONEY)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("card offer")
        verbose_name_plural = _("card offers")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="card_offer_once_per_key"),
            models.CheckConstraint(
                condition=models.Q(multiplier__gte=1, multiplier__lte=10), name="card_offer_multiplier_range"
            ),
            models.CheckConstraint(
                condition=models.Q(discount_percent__gte=0, discount_percent__lte=100),
                name="card_offer_discount_range",
            ),
        ]
        indexes = [
            models.Index(fields=["card", "valid_until"], name="card_offer_card_idx"),
            models.Index(fields=["merchant", "source"], name="card_offer_source_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source}: {self.kind}"
