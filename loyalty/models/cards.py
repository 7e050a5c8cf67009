"""Customers, their consent history, their cards and the events on a card
(tier changes, blocking) that are not balance movements."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.models.fields import MONEY_TOTAL
from merchants.models import MerchantScopedManager


class Source(models.TextChoices):
    QR = "qr", _("QR code")
    CASHIER = "cashier", _("Cashier")
    IMPORT = "import", _("Import")
    REFERRAL = "referral", _("Referral")


class Customer(models.Model):
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="customers")
    phone = models.CharField(_("phone"), max_length=20, help_text=_("E.164, e.g. +79161234567"))
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    joined_location = models.ForeignKey(
        "merchants.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.CASHIER)
    referral_code = models.CharField(_("referral code"), max_length=16)
    referred_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
        verbose_name=_("referred by"),
    )
    # Set once, when the friend's first purchase granted the referral bonuses.
    referral_completed_at = models.DateTimeField(null=True, blank=True)
    referral_rewarded_referrer = models.BooleanField(default=False)
    # Cached from the latest ConsentRecord (the history is the truth).
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    created_at = models.DateTimeField(_("joined"), default=timezone.now)
    # Personal data erased (on request or by the retention job); the ledger stays tied to this row.
    anonymised_at = models.DateTimeField(_("anonymised"), null=True, blank=True)
    # Merged into another customer (the same person): balances moved there by ledger entries.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("merged into")
    )

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "phone"], name="customer_phone_unique_per_merchant"),
            models.UniqueConstraint(fields=["merchant", "referral_code"], name="customer_referral_code_unique"),
        ]
        indexes = [models.Index(fields=["merchant", "referred_by"], name="customer_referred_by_idx")]

    def __str__(self) -> str:
        return f"{self.name} {self.phone}".strip()


class ConsentRecord(models.Model):
    """One grant or withdrawal of marketing consent: when, through which channel,
    and which version of the consent text the customer saw."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    granted = models.BooleanField(_("granted"))
    channel = models.CharField(_("channel"), max_length=32)
    text_version = models.CharField(_("consent text version"), max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey("merchants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")

    def __str__(self) -> str:
        return f"{'+' if self.granted else '-'} {self.channel} {self.text_version}"


class CardStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    BLOCKED = "blocked", _("Blocked")


class Card(models.Model):
    """A customer's card with one merchant. The cached counters (balance,
    pending_points, debt, stamps, rewards_available) change only in
    ``loyalty.ledger``, in the transaction that appends the entries,
    with this row locked. ``verify_ledger`` proves them against the entries.

    balance = Σ entry.points = Σ lot.remaining − debt;
    pending_points = Σ remaining of lots not yet activated (part of balance,
    not spendable); debt = points taken back by refunds after they were spent,
    repaid by later earns before they become spendable.
    """

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="cards")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="cards")
    number = models.CharField(_("card number"), max_length=20)
    barcode = models.CharField(_("barcode payload"), max_length=64, unique=True)
    status = models.CharField(_("status"), max_length=16, choices=CardStatus.choices, default=CardStatus.ACTIVE)
    tier = models.ForeignKey("loyalty.Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="cards")

    balance = models.BigIntegerField(_("balance"), default=0)
    pending_points = models.BigIntegerField(_("pending points"), default=0)
    debt = models.BigIntegerField(_("debt"), default=0)
    stamps = models.IntegerField(_("stamps"), default=0)
    rewards_available = models.IntegerField(_("rewards available"), default=0)

    purchase_count = models.IntegerField(default=0)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    last_stamp_at = models.DateTimeField(null=True, blank=True)
    # Purchases left that earn with the returning-customer multiplier.
    boosted_purchases_left = models.IntegerField(default=0)
    # Lifetime spend for tiers (Σ bill − refunded), kept with the purchases.
    lifetime_spend = models.DecimalField(default=0, **MONEY_TOTAL)
    # A hint kept by the ledger: no lot of this card expires or becomes
    # spendable before this moment (null: nothing scheduled), so most
    # operations skip looking for due lots. verify_ledger checks it is never late.
    settle_after = models.DateTimeField(null=True, blank=True)
    # A hint kept by loyalty.ledger.offers: no unused offer (CardOffer) of this card is valid
    # after this moment (null: none). The quick purchase leaves a card with a live offer to the
    # general path, which applies it.
    offer_until = models.DateTimeField(_("an offer valid until"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("card")
        verbose_name_plural = _("cards")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "number"], name="card_number_unique_per_merchant"),
            models.UniqueConstraint(fields=["merchant", "customer"], name="card_one_per_customer"),
            # balance may be negative only by the amount of debt (a refund of spent points).
            models.CheckConstraint(condition=models.Q(balance__gte=-models.F("debt")), name="card_balance_covers_debt"),
            models.CheckConstraint(condition=models.Q(pending_points__gte=0), name="card_pending_non_negative"),
            models.CheckConstraint(condition=models.Q(debt__gte=0), name="card_debt_non_negative"),
            models.CheckConstraint(condition=models.Q(stamps__gte=0), name="card_stamps_non_negative"),
            models.CheckConstraint(condition=models.Q(rewards_available__gte=0), name="card_rewards_non_negative"),
            models.CheckConstraint(condition=models.Q(boosted_purchases_left__gte=0), name="card_boost_non_negative"),
        ]
        # The dashboard's customer list: newest first, keyset pages (loyalty/customers/selectors.py).
        indexes = [models.Index(fields=["merchant", "created_at", "id"], name="card_merchant_created_idx")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_blocked(self) -> bool:
        return self.status == CardStatus.BLOCKED

    @property
    def spendable_points(self) -> int:
        """Points that can be redeemed now (negative while in debt)."""
        return self.balance - self.pending_points


class CardEvent(models.Model):
    """Audit of changes to a card that are not balance movements (block/unblock)."""

    class Kind(models.TextChoices):
        BLOCKED = "blocked", _("Blocked")
        UNBLOCKED = "unblocked", _("Unblocked")

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.TextField(_("reason"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("card event")
        verbose_name_plural = _("card events")

    def __str__(self) -> str:
        return f"{self.card} {self.kind}"


class TierChange(models.Model):
    """A card moved between tiers (campaigns send "welcome to Gold" from these)."""

    class Reason(models.TextChoices):
        PROMOTION = "promotion", _("Promotion")
        DEMOTION = "demotion", _("Demotion")

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey("loyalty.Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_tier = models.ForeignKey("loyalty.Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_tier_name = models.CharField(max_length=60, blank=True)
    to_tier_name = models.CharField(max_length=60, blank=True)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    spend = models.DecimalField(_("spend in window"), **MONEY_TOTAL)
    purchase = models.ForeignKey("loyalty.Purchase", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    program_version = models.ForeignKey("loyalty.ProgramVersion", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        indexes = [models.Index(fields=["merchant", "created_at"], name="tierchange_merchant_idx")]

    def __str__(self) -> str:
        return f"{self.card}: {self.from_tier_name} → {self.to_tier_name}"
