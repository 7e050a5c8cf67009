"""Summary tables fed from the ledger's append-only rows (purchases, refunds,
ledger entries, cards). Written only by ``analytics.summaries`` (incremental
refresh and rebuilds); pages read these, never the purchases table.

Days and months are the merchant's local calendar (its time zone). Money is
in the merchant's currency. "Bill" sums are gross bills on the day of the
purchase; refunds are counted on the day of the refund.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.models.fields import MONEY, DecimalSize
from merchants.models import MerchantScopedManager

# Sums of many bills: wider than one bill's MONEY, with its three decimals (KWD), so a sum is exact in every currency.
TOTAL: DecimalSize = {"max_digits": 19, "decimal_places": 3}


class SummaryState(models.Model):
    """High-water marks of the incremental refresh: every source row with an id
    at or below the mark is counted in the summaries, none above it. The row is
    locked while a refresh or rebuild runs, so two never overlap. ``version``
    changes with every refresh that changed something (page caches key on it)."""

    key = models.CharField(max_length=32, unique=True)
    purchase_hwm = models.BigIntegerField(default=0)
    refund_hwm = models.BigIntegerField(default=0)
    entry_hwm = models.BigIntegerField(default=0)
    card_hwm = models.BigIntegerField(default=0)
    version = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    cohorts_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("summary state")
        verbose_name_plural = _("summary states")

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"


# The daily, customer and customer-month tables are derived rows that the nightly
# rebuild recreates: their foreign keys have no database constraint
# (db_constraint=False), because at 10 M purchases the deferred FK checks of a
# rebuild cost minutes at COMMIT. Django still cascades deletes through the ORM.
# Nor a single-column index of their own (db_index=False): the unique and
# composite indexes below start with those columns, and every extra index on
# millions of rebuilt rows costs minutes.


class DailyMerchantStats(models.Model):
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    day = models.DateField()
    joined = models.IntegerField(default=0)  # cards issued
    visits = models.IntegerField(default=0)  # purchases
    bill_total = models.DecimalField(default=0, **TOTAL)
    refund_total = models.DecimalField(default=0, **TOTAL)
    points_bills = models.IntegerField(default=0)  # purchases paid partly with points
    points_paid_total = models.DecimalField(default=0, **TOTAL)  # money value of points on bills
    # From ledger entries (all points movements, bonuses included).
    points_earned = models.BigIntegerField(default=0)
    points_bonus = models.BigIntegerField(default=0)
    points_redeemed = models.BigIntegerField(default=0)  # positive number
    points_expired = models.BigIntegerField(default=0)  # positive number
    points_net = models.BigIntegerField(default=0)  # Σ points of every entry that day

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("daily merchant figures")
        verbose_name_plural = _("daily merchant figures")
        constraints = [models.UniqueConstraint(fields=["merchant", "day"], name="daily_merchant_unique")]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.day}"


class DailyLocationStats(models.Model):
    """Per location (``location`` null: purchases recorded without one)."""

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    location = models.ForeignKey(
        "merchants.Location",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    day = models.DateField()
    joined = models.IntegerField(default=0)
    visits = models.IntegerField(default=0)
    bill_total = models.DecimalField(default=0, **TOTAL)
    refund_total = models.DecimalField(default=0, **TOTAL)
    points_bills = models.IntegerField(default=0)
    points_paid_total = models.DecimalField(default=0, **TOTAL)
    # From the purchases themselves (entries carry no location).
    points_earned = models.BigIntegerField(default=0)
    points_redeemed = models.BigIntegerField(default=0)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("daily location figures")
        verbose_name_plural = _("daily location figures")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "location", "day"], name="daily_location_unique", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.day}"


class CustomerStats(models.Model):
    """One row per card that has bought at least once."""

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    card = models.OneToOneField("loyalty.Card", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    first_purchase_at = models.DateTimeField()
    last_purchase_at = models.DateTimeField()
    first_location = models.ForeignKey(
        "merchants.Location",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    purchases = models.IntegerField(default=0)
    bill_total = models.DecimalField(default=0, **TOTAL)
    refund_total = models.DecimalField(default=0, **TOTAL)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("customer figures")
        verbose_name_plural = _("customer figures")
        indexes = [
            models.Index(fields=["merchant", "first_purchase_at"], name="custstats_first_idx"),
            models.Index(fields=["merchant", "last_purchase_at"], name="custstats_last_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.card_id}: {self.purchases}"


class CustomerMonthStats(models.Model):
    """A card's purchases in one local calendar month at one location: distinct
    customers over any range of months come from here."""

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    card = models.ForeignKey(
        "loyalty.Card", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    location = models.ForeignKey(
        "merchants.Location",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    month = models.DateField()  # the first day of the month
    visits = models.IntegerField(default=0)
    bill_total = models.DecimalField(default=0, **TOTAL)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("customer month figures")
        verbose_name_plural = _("customer month figures")
        constraints = [
            models.UniqueConstraint(
                fields=["card", "month", "location"], name="customer_month_unique", nulls_distinct=False
            )
        ]
        indexes = [
            models.Index(fields=["merchant", "month", "card"], name="custmonth_merchant_idx"),
            models.Index(fields=["location", "month", "card"], name="custmonth_location_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.card_id} {self.month}"


class BuyerCount(models.Model):
    """Counts from which the distinct buyers (and repeat buyers) of any range of
    months come exactly, without grouping customer-month rows per page view.
    Kept by the refresh (the customers it touched: their old counts out, their
    new ones in) and recounted by the rebuild. ``location`` null: the whole
    business; otherwise purchases at that location.

    * kind ``B``: customer-months with a purchase in ``month`` whose previous
      month with a purchase (in the same scope) was ``prev_month`` (null: none).
      A customer bought in [a, b] exactly once at its first month there, the one
      whose previous month is before a: buyers(a, b) = Σ over a ≤ month ≤ b and
      prev_month < a (or null).
    * kind ``N``: customers whose first month in the scope (``month``) had one
      visit there, by ``first_month`` (their first month anywhere) and
      ``next_month`` (their next month in the scope, null: none). The buyers of
      [a, b] who are not repeat buyers (one visit in the range, none before it)
      are Σ over first_month ≥ a, month ≤ b and next_month > b (or null).
    """

    class Kind(models.TextChoices):
        BUYERS = "B"
        SINGLE_FIRST = "N"

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    location = models.ForeignKey(
        "merchants.Location",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    kind = models.CharField(max_length=1, choices=Kind.choices)
    month = models.DateField()
    prev_month = models.DateField(null=True, blank=True)
    first_month = models.DateField(null=True, blank=True)
    next_month = models.DateField(null=True, blank=True)
    customers = models.IntegerField(default=0)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("buyer count")
        verbose_name_plural = _("buyer counts")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "location", "kind", "month", "prev_month", "first_month", "next_month"],
                name="buyer_count_unique",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.month}: {self.customers}"


class CohortCell(models.Model):
    """The retention triangle, rebuilt nightly: of the customers whose first
    purchase fell in ``cohort``, how many bought in ``month``."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    cohort = models.DateField()
    month = models.DateField()
    customers = models.IntegerField(default=0)
    bill_total = models.DecimalField(default=0, **TOTAL)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("cohort cell")
        verbose_name_plural = _("cohort cells")
        constraints = [models.UniqueConstraint(fields=["merchant", "cohort", "month"], name="cohort_cell_unique")]

    def __str__(self) -> str:
        return f"{self.cohort} → {self.month}: {self.customers}"


class TierCount(models.Model):
    """Cards per tier, rebuilt nightly (``tier`` null: no tier)."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    tier = models.ForeignKey("loyalty.Tier", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    tier_name = models.CharField(max_length=60, blank=True)
    threshold = models.DecimalField(default=0, **MONEY)
    cards = models.IntegerField(default=0)
    computed_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("tier count")
        verbose_name_plural = _("tier counts")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "tier"], name="tier_count_unique", nulls_distinct=False)
        ]

    def __str__(self) -> str:
        return f"{self.tier_name}: {self.cards}"
