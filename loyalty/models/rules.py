"""A merchant's bonus program, its tiers, and the immutable versions that every
ledger entry points at.

The editable rules live on :class:`Program` and :class:`Tier`; saving them
(``loyalty.program.services.save_program``) snapshots everything into a new
:class:`ProgramVersion`. The ledger only ever reads rules from a version, so
changing the program never rewrites what an old entry meant.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.models.fields import MONEY, PERCENT
from merchants.models import MerchantScopedManager


class Mechanic(models.TextChoices):
    POINTS = "points", _("Points per amount spent")
    CASHBACK = "cashback", _("Cashback in points")
    STAMPS = "stamps", _("Stamps (every N-th visit is a reward)")
    DISCOUNT = "discount", _("Tiered discount")

    @classmethod
    def with_points(cls) -> frozenset[str]:
        return frozenset({cls.POINTS, cls.CASHBACK})


class Program(models.Model):
    merchant = models.OneToOneField("merchants.Merchant", on_delete=models.CASCADE, related_name="loyalty_program")
    name = models.CharField(_("program name"), max_length=120, default="", blank=True)
    mechanic = models.CharField(_("mechanic"), max_length=16, choices=Mechanic.choices, default=Mechanic.CASHBACK)

    # Points: X points per currency unit, rounded down per purchase.
    points_per_unit = models.DecimalField(
        _("points per currency unit"),
        max_digits=10,
        decimal_places=4,
        default=Decimal("0.05"),
        validators=[MinValueValidator(0)],
        help_text=_("Points earned per unit of currency paid, rounded down per purchase (0.05 = 1 point per 20)."),
    )
    # Cashback: a percentage of the paid amount, as points worth point_value each.
    cashback_percent = models.DecimalField(
        _("cashback, %"), default=Decimal("5"), help_text=_("Share of the paid amount returned as points."), **PERCENT
    )
    point_value = models.DecimalField(
        _("value of one point"),
        default=Decimal("1.00"),
        # The least a point can be worth is one minor unit of the merchant's currency (0.001 KWD);
        # loyalty.program.limits holds each currency to its own (1 JPY, 0.01 RUB).
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text=_("How much money one point is worth when redeemed."),
        **MONEY,
    )
    points_expiry_days = models.PositiveIntegerField(
        _("points expire after (days)"), null=True, blank=True, default=365, help_text=_("Empty: points never expire.")
    )

    # Stamps.
    stamps_per_reward = models.PositiveIntegerField(
        _("stamps per reward"), default=6, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    reward_description = models.CharField(_("reward"), max_length=120, blank=True, default="")
    stamp_min_bill = models.DecimalField(
        _("minimum bill for a stamp"), default=Decimal("0"), validators=[MinValueValidator(0)], **MONEY
    )
    stamp_expiry_days = models.PositiveIntegerField(
        _("stamps expire after (days without a visit)"), null=True, blank=True, help_text=_("Empty: never.")
    )

    # Tiers.
    tier_window_months = models.PositiveIntegerField(
        _("tier spend window (months)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text=_("Empty: lifetime spend."),
    )
    tier_demotion_enabled = models.BooleanField(_("demote tiers nightly"), default=False)

    # Bonuses (points mechanics only).
    welcome_bonus = models.PositiveIntegerField(_("welcome bonus (points)"), default=100)
    birthday_bonus = models.PositiveIntegerField(_("birthday bonus (points)"), default=200)
    birthday_days_before = models.PositiveIntegerField(
        _("birthday bonus: days before"), default=3, validators=[MaxValueValidator(60)]
    )
    birthday_valid_days = models.PositiveIntegerField(
        _("birthday bonus valid for (days)"), default=14, validators=[MinValueValidator(1)]
    )
    referral_referrer_bonus = models.PositiveIntegerField(_("referral bonus for the referrer"), default=100)
    referral_friend_bonus = models.PositiveIntegerField(_("referral bonus for the friend"), default=100)
    referral_cap = models.PositiveIntegerField(_("referral bonuses per referrer (max)"), default=10)
    returning_after_days = models.PositiveIntegerField(
        _("returning customer: days without a purchase"),
        null=True,
        blank=True,
        default=60,
        validators=[MinValueValidator(1)],
        help_text=_("Empty: no returning-customer multiplier."),
    )
    returning_multiplier = models.DecimalField(
        _("returning customer: multiplier"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("2"),
        validators=[MinValueValidator(1), MaxValueValidator(10)],
    )
    returning_purchases = models.PositiveIntegerField(
        _("returning customer: purchases boosted"), default=1, validators=[MinValueValidator(1)]
    )

    # Guards.
    max_redeem_percent = models.DecimalField(
        _("maximum share of a bill paid with points, %"), default=Decimal("30"), **PERCENT
    )
    min_bill_to_earn = models.DecimalField(
        _("minimum bill to earn"), default=Decimal("0"), validators=[MinValueValidator(0)], **MONEY
    )
    min_balance_to_redeem = models.PositiveIntegerField(_("minimum balance to redeem (points)"), default=0)
    daily_earn_cap = models.PositiveIntegerField(
        _("daily earn cap per card (points)"), null=True, blank=True, help_text=_("Empty: no cap.")
    )
    activation_delay_hours = models.PositiveIntegerField(
        _("points become spendable after (hours)"), default=0, validators=[MaxValueValidator(24 * 90)]
    )

    current_version = models.ForeignKey(
        "loyalty.ProgramVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("program")
        verbose_name_plural = _("programs")

    def __str__(self) -> str:
        return self.name or str(self.merchant)


class ProgramVersion(models.Model):
    """An immutable snapshot of a program's rules and tiers (``rules`` is JSON,
    see ``loyalty.program.rules.Rules``)."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    rules = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["program", "-number"]
        verbose_name = _("program version")
        verbose_name_plural = _("program versions")
        constraints = [models.UniqueConstraint(fields=["program", "number"], name="program_version_number_unique")]

    def __str__(self) -> str:
        return f"v{self.number}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Program versions are immutable.")
        super().save(*args, **kwargs)


class Tier(models.Model):
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(_("name"), max_length=60)
    threshold = models.DecimalField(
        _("spend threshold"),
        validators=[MinValueValidator(0)],
        help_text=_("Spend within the window needed to reach this tier."),
        **MONEY,
    )
    earn_rate = models.DecimalField(
        _("earn rate"),
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Points per currency unit (points) or cashback % (cashback). Empty: the program's rate."),
    )
    discount_percent = models.DecimalField(
        _("discount, %"), default=Decimal("0"), help_text=_("Used by the tiered-discount mechanic."), **PERCENT
    )

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["program", "threshold", "pk"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        # Distinct names and thresholds are checked by save_program (a DB
        # constraint would trip over two tiers swapping thresholds in one save).

    def __str__(self) -> str:
        return self.name
