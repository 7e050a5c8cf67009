"""Purchases, refunds, lots and the append-only ledger.

Every write to these tables goes through ``loyalty.ledger``.
LedgerEntry rows are never updated or deleted (a PostgreSQL trigger refuses
it, see migration 0002). A Lot is the unit of expiry: every credit of points
creates one; debits consume lots, one entry per lot touched, so that
``lot.remaining == Σ entry.points where entry.lot == lot``.
Entries without a lot move the card's debt (points taken back by a refund
after they were spent): ``card.debt == −Σ entry.points where entry.lot is null``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.models.fields import MONEY
from loyalty.money import wire_amount
from merchants.models import MerchantScopedManager


class Purchase(models.Model):
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="purchases")
    card = models.ForeignKey("loyalty.Card", on_delete=models.PROTECT, related_name="purchases")
    location = models.ForeignKey(
        "merchants.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="purchases"
    )
    receipt_id = models.CharField(_("receipt"), max_length=64)
    currency = models.CharField(max_length=3)
    bill_amount = models.DecimalField(_("bill"), **MONEY)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    discount_amount = models.DecimalField(_("discount"), default=0, **MONEY)
    points_redeemed = models.BigIntegerField(_("points redeemed"), default=0)
    points_amount = models.DecimalField(_("paid with points"), default=0, **MONEY)
    amount_paid = models.DecimalField(_("paid in money"), **MONEY)
    points_earned = models.BigIntegerField(_("points earned"), default=0)
    stamps_earned = models.IntegerField(default=0)
    rewards_redeemed = models.IntegerField(default=0)
    refunded_amount = models.DecimalField(_("refunded"), default=0, **MONEY)
    # Running totals of what refunds have taken back / given back so far.
    points_reversed = models.BigIntegerField(default=0)
    points_restored = models.BigIntegerField(default=0)
    program_version = models.ForeignKey("loyalty.ProgramVersion", on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=128)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey("merchants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    objects = MerchantScopedManager()

    # Not a column: the ledger service that returns this row sets it (True when
    # an idempotent retry gets back the row an earlier call wrote).
    replayed: bool

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "receipt_id"], name="purchase_receipt_unique"),
            models.UniqueConstraint(fields=["merchant", "idempotency_key"], name="purchase_idempotency_unique"),
            models.CheckConstraint(condition=models.Q(bill_amount__gte=0), name="purchase_bill_non_negative"),
            models.CheckConstraint(condition=models.Q(amount_paid__gte=0), name="purchase_paid_non_negative"),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__gte=0, refunded_amount__lte=models.F("bill_amount")),
                name="purchase_refund_within_bill",
            ),
            models.CheckConstraint(
                condition=models.Q(points_reversed__lte=models.F("points_earned"))
                & models.Q(points_restored__lte=models.F("points_redeemed")),
                name="purchase_refund_points_within",
            ),
        ]
        indexes = [
            models.Index(fields=["card", "created_at"], name="purchase_card_created_idx"),
            # A merchant's purchases in a period (campaign segments: purchases and
            # spend in the last N days), answered from the index alone.
            models.Index(
                fields=["merchant", "created_at"],
                include=["card", "bill_amount", "refunded_amount"],
                name="purchase_merchant_period_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_id} ({wire_amount(self.bill_amount, self.currency)} {self.currency})"

    @property
    def refundable_amount(self):
        return self.bill_amount - self.refunded_amount

    @property
    def is_fully_refunded(self) -> bool:
        return self.refunded_amount >= self.bill_amount


class Refund(models.Model):
    """A full or partial refund of a purchase; ``amount`` is the part of the
    bill being returned (receipt value of the goods)."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="refunds")
    card = models.ForeignKey("loyalty.Card", on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("amount"), **MONEY)
    points_reversed = models.BigIntegerField(_("earned points taken back"), default=0)
    points_restored = models.BigIntegerField(_("redeemed points given back"), default=0)
    stamps_reversed = models.IntegerField(default=0)
    rewards_restored = models.IntegerField(default=0)
    idempotency_key = models.CharField(max_length=128)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey("merchants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    # Not a column: the ledger service that returns this row sets it (True when
    # an idempotent retry gets back the row an earlier call wrote).
    replayed: bool

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "idempotency_key"], name="refund_idempotency_unique"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.purchase.receipt_id}: −{self.amount}"


class Lot(models.Model):
    """Points credited together, expiring together. ``remaining`` is a cache of
    Σ entries on this lot, written only by the ledger service."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    card = models.ForeignKey("loyalty.Card", on_delete=models.PROTECT, related_name="lots")
    kind = models.CharField(max_length=24)
    points = models.BigIntegerField()
    remaining = models.BigIntegerField()
    purchase = models.ForeignKey(Purchase, null=True, blank=True, on_delete=models.PROTECT, related_name="lots")
    program_version = models.ForeignKey("loyalty.ProgramVersion", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    available_at = models.DateTimeField()
    activated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["card", "expires_at", "pk"]
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        constraints = [
            models.CheckConstraint(condition=models.Q(points__gt=0), name="lot_points_positive"),
            models.CheckConstraint(
                condition=models.Q(remaining__gte=0, remaining__lte=models.F("points")), name="lot_remaining_range"
            ),
        ]
        indexes = [
            models.Index(
                fields=["card", "expires_at"], name="lot_open_by_card_idx", condition=models.Q(remaining__gt=0)
            ),
            models.Index(
                fields=["merchant", "expires_at"], name="lot_open_by_expiry_idx", condition=models.Q(remaining__gt=0)
            ),
            models.Index(
                fields=["available_at"], name="lot_pending_idx", condition=models.Q(activated_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.remaining}/{self.points}"


class EntryKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed")
    BONUS_WELCOME = "bonus_welcome", _("Welcome bonus")
    BONUS_BIRTHDAY = "bonus_birthday", _("Birthday bonus")
    BONUS_REFERRAL = "bonus_referral", _("Referral bonus")
    BONUS_CAMPAIGN = "bonus_campaign", _("Campaign bonus")
    REFUND_REVERSAL = "refund_reversal", _("Refund: earned points taken back")
    REFUND_RESTORE = "refund_restore", _("Refund: redeemed points given back")
    EXPIRY = "expiry", _("Expired")
    ADJUSTMENT = "adjustment", _("Manual adjustment")
    DEBT_REPAYMENT = "debt_repayment", _("Debt repaid")
    STAMP = "stamp", _("Stamp")
    STAMP_REVERSAL = "stamp_reversal", _("Refund: stamp taken back")
    STAMP_EXPIRY = "stamp_expiry", _("Stamps expired")
    REWARD_EARNED = "reward_earned", _("Reward earned")
    REWARD_REDEEM = "reward_redeem", _("Reward redeemed")
    REWARD_RESTORE = "reward_restore", _("Refund: reward given back")
    MERGE_OUT = "merge_out", _("Merge: moved to another customer")
    MERGE_IN = "merge_in", _("Merge: moved from a duplicate customer")


class LedgerEntry(models.Model):
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    card = models.ForeignKey("loyalty.Card", on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("kind"), max_length=24, choices=EntryKind.choices)
    points = models.BigIntegerField(_("points"), default=0)
    stamps = models.IntegerField(_("stamps"), default=0)
    rewards = models.IntegerField(_("rewards"), default=0)
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="entries")
    purchase = models.ForeignKey(Purchase, null=True, blank=True, on_delete=models.PROTECT, related_name="entries")
    refund = models.ForeignKey(Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="entries")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    api_key = models.ForeignKey("merchants.ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    program_version = models.ForeignKey("loyalty.ProgramVersion", on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    objects = MerchantScopedManager()

    # Not a column: the ledger service that returns this row sets it (True when
    # an idempotent retry gets back the row an earlier call wrote).
    replayed: bool

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="ledger_idempotency_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["card", "-created_at", "-id"], name="ledger_card_history_idx"),
            models.Index(fields=["card", "kind", "created_at"], name="ledger_card_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Ledger entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are append-only.")
