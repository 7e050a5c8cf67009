"""Saved segments (a definition of AND/OR groups of conditions, evaluated in
SQL by ``campaigns.segments.query``) and the customers' RFM scores, recomputed
nightly by ``campaigns.segments.rfm``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from merchants.models import MerchantScopedManager


class Segment(models.Model):
    """A named audience. ``definition`` is the JSON the builder edits:

        {"match": "all" | "any",
         "groups": [{"match": "all" | "any",
                     "conditions": [{"field": "balance", "op": "gte", "value": 100}, ...]}, ...]}

    The outer ``match`` combines the groups, each group's ``match`` its
    conditions. A group without conditions is left out; a definition without
    any condition is every customer of the merchant.
    ``campaigns.segments.definition.parse_definition`` validates it."""

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, related_name="segments", verbose_name=_("merchant")
    )
    name = models.CharField(_("name"), max_length=120)
    definition = models.JSONField(_("conditions"), default=dict, blank=True)
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
        ordering = ["name", "pk"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="segment_name_unique_per_merchant"),
        ]

    def __str__(self) -> str:
        return self.name


class RfmGroup(models.TextChoices):
    CHAMPIONS = "champions", pgettext_lazy("RFM group", "Champions")
    LOYAL = "loyal", pgettext_lazy("RFM group", "Loyal")
    POTENTIAL_LOYALISTS = "potential_loyalists", pgettext_lazy("RFM group", "Potential loyalists")
    NEW = "new", pgettext_lazy("RFM group", "New")
    PROMISING = "promising", pgettext_lazy("RFM group", "Promising")
    NEED_ATTENTION = "need_attention", pgettext_lazy("RFM group", "Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", pgettext_lazy("RFM group", "About to sleep")
    AT_RISK = "at_risk", pgettext_lazy("RFM group", "At risk")
    CANT_LOSE = "cant_lose", pgettext_lazy("RFM group", "Can't lose them")
    HIBERNATING = "hibernating", pgettext_lazy("RFM group", "Hibernating")
    LOST = "lost", pgettext_lazy("RFM group", "Lost")


class RfmScore(models.Model):
    """A customer's recency, frequency and monetary scores (1–5, quintiles
    within the merchant) and the named group they fall in. Only customers with
    at least one purchase are scored; the row is rewritten by each recompute."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    customer = models.OneToOneField("loyalty.Customer", on_delete=models.CASCADE, related_name="rfm")
    recency = models.PositiveSmallIntegerField(_("recency"))
    frequency = models.PositiveSmallIntegerField(_("frequency"))
    monetary = models.PositiveSmallIntegerField(_("monetary value"))
    group = models.CharField(_("RFM group"), max_length=24, choices=RfmGroup.choices)
    computed_at = models.DateTimeField()

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("RFM score")
        verbose_name_plural = _("RFM scores")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(recency__range=(1, 5), frequency__range=(1, 5), monetary__range=(1, 5)),
                name="rfm_scores_1_to_5",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "recency", "frequency"], name="rfm_grid_idx"),
            models.Index(fields=["merchant", "group"], name="rfm_group_idx"),
        ]

    def __str__(self) -> str:
        return f"R{self.recency}F{self.frequency}M{self.monetary} {self.group}"
