"""Merchants (the tenants), their locations, staff, invitations and POS API keys.

Every merchant-owned model has a direct ``merchant`` foreign key and a manager
built from :class:`MerchantScopedQuerySet`, so that views, APIs and selectors
start from ``Model.objects.for_merchant(merchant)``.
"""

from __future__ import annotations

import base64
import secrets
import time
import zoneinfo
from decimal import Decimal
from typing import ClassVar
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value}, code="unknown_tz")


class MerchantScopedQuerySet(models.QuerySet):
    def for_merchant(self, merchant: Merchant | int) -> MerchantScopedQuerySet:
        merchant_id = merchant if isinstance(merchant, int) else merchant.pk
        return self.filter(merchant_id=merchant_id)


MerchantScopedManager = models.Manager.from_queryset(MerchantScopedQuerySet)


DEFAULT_TILL_MAX_BILL = Decimal("100000")


class Merchant(models.Model):
    name = models.CharField(_("business name"), max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166-1 alpha-2 code"))
    currency = models.CharField(_("currency"), max_length=3, help_text=_("ISO 4217 code"))
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    created_at = models.DateTimeField(default=timezone.now)
    is_active = models.BooleanField(default=True)
    # The till asks the cashier to confirm a bill above this (a typo guard; the POS API is not limited by it).
    till_max_bill = models.DecimalField(
        _("largest usual bill"), max_digits=12, decimal_places=3, default=DEFAULT_TILL_MAX_BILL
    )
    # Refunds of past purchases at the till: the owner always; cashiers only when this is on.
    cashiers_can_refund = models.BooleanField(_("cashiers may refund past purchases"), default=False)
    # Personal data (issue 13): customers with no activity for this many years are anonymised by a
    # nightly job, with a report to the owner. Empty: kept until deleted on request.
    customer_retention_years = models.PositiveSmallIntegerField(
        _("anonymise customers inactive for (years)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    # Support adjustments of more points than this (either way) wait for a support lead's approval.
    # Empty: none wait.
    adjustment_approval_threshold = models.PositiveIntegerField(
        _("adjustments above this many points need a second approval"), null=True, blank=True
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MARKETER = "marketer", _("Marketer")
    CASHIER = "cashier", _("Cashier")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(
        self, email: str, password: str | None = None, *, merchant: Merchant | None = None, role: str = "", **extra
    ) -> User:
        """A login; with ``merchant`` and ``role``, also its membership of that merchant's team."""
        if not email:
            raise ValueError("E-mail is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        if merchant is not None:
            Membership.objects.using(self._db).create(user=user, merchant=merchant, role=role)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):  # type: ignore[django-manager-missing]  # django-otp devices
    """A person who logs in: merchant staff (one ``Membership`` per merchant they work
    for, each with its own role) or platform support staff (``is_staff``, no
    membership). E-mail is the login; one login serves every merchant of the person."""

    email = models.EmailField(_("e-mail"), unique=True)
    full_name = models.CharField(_("name"), max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        _("platform staff"), default=False, help_text=_("Platform support staff may log into admin.")
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        self.email = self.email.lower()
        super().save(*args, **kwargs)


class Membership(models.Model):
    """A person's place in one merchant's team: the role there, and whether it is active
    (an owner deactivates a membership, not the person's login, which other merchants
    may still use). Platform staff hold none (the services refuse it)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("team membership")
        verbose_name_plural = _("team memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "merchant"], name="membership_one_per_merchant"),
            models.CheckConstraint(condition=~models.Q(role=""), name="membership_has_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.merchant_id} ({self.role})"

    def clean(self) -> None:
        # The admin's team table (and any ModelForm) sees the user as submitted with it: ticking
        # "platform staff" and adding a team in one save is refused too.
        super().clean()
        try:
            user = self.user
        except User.DoesNotExist:
            return
        if user is not None and (user.is_staff or user.is_superuser):
            raise ValidationError(
                _(
                    "Platform staff cannot belong to a merchant's team: untick “platform staff” and “superuser”, "
                    "or use another login for the merchant."
                ),
                code="platform_staff",
            )

    # The staff list shows memberships; these read like the person's own fields.
    @property
    def email(self) -> str:
        return self.user.email

    @property
    def full_name(self) -> str:
        return self.user.full_name


class Location(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(pgettext_lazy("object", "name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    time_zone = models.CharField(
        _("time zone override"),
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text=_("Leave empty to use the merchant's time zone."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(latitude__isnull=True) | models.Q(latitude__gte=-90, latitude__lte=90),
                name="location_latitude_range",
            ),
            models.CheckConstraint(
                condition=models.Q(longitude__isnull=True) | models.Q(longitude__gte=-180, longitude__lte=180),
                name="location_longitude_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_time_zone(self) -> str:
        return self.time_zone or self.merchant.time_zone


class Invitation(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    # Only a hash of the token is kept; the token itself travels in the e-mail.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.email} ({self.role})"

    def is_pending(self, now=None) -> bool:
        now = now or timezone.now()
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


class ApiKey(models.Model):
    """A POS API key for one location. Stored as a public prefix plus an HMAC of
    the whole key; the key itself is shown once, at creation."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(pgettext_lazy("object", "name"), max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class OnboardingMark(models.Model):
    """Something the owner did or chose that the getting-started checklist
    cannot read from other rows: printed the QR poster ("poster"), chose to
    offer the web card only, without Apple or Google Wallet ("web_card_only")."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="onboarding_marks")
    key = models.CharField(max_length=40)
    recorded_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("getting-started mark")
        verbose_name_plural = _("getting-started marks")
        constraints = [models.UniqueConstraint(fields=["merchant", "key"], name="onboarding_mark_unique")]

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.key}"


class MerchantSlugAlias(models.Model):
    """An address (slug) a merchant used before: ``/join/<slug>/`` printed on old
    posters and QR codes redirects to the merchant's current address."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="slug_aliases")
    slug = models.SlugField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("previous address")
        verbose_name_plural = _("previous addresses")

    def __str__(self) -> str:
        return self.slug


AUDIT_ACTIONS = {
    "api_key.created": _("API key created"),
    "api_key.revoked": _("API key revoked"),
    "staff.invited": _("Staff member invited"),
    "staff.invitation_revoked": _("Invitation revoked"),
    "staff.removed": _("Staff member switched off"),
    "staff.reactivated": _("Staff member switched back on"),
    "staff.role_changed": _("Staff role changed"),
    "merchant.profile_changed": _("Business profile changed"),
    "program.changed": _("Program rules or tiers changed"),
    "balance.adjusted": _("Balance adjusted"),
    "card.blocked": _("Card blocked"),
    "card.unblocked": _("Card unblocked"),
    "wallet.apple_certificate_uploaded": _("Apple Wallet certificate uploaded"),
    "wallet.apple_certificate_removed": _("Apple Wallet certificate removed"),
    "wallet.google_credentials_uploaded": _("Google Wallet key uploaded"),
    "wallet.google_credentials_removed": _("Google Wallet key removed"),
    "customer.contact_corrected": _("Customer's contact details corrected"),
    "customer.card_link_sent": _("Card link sent again"),
    "customer.consent_withdrawn": _("Marketing consent withdrawn by support"),
    "customer.merged": _("Customers merged"),
    "customer.deleted": _("Customer's personal data erased"),
    "customer.anonymised": _("Customer's personal data erased"),
    "audit.redacted": _("Personal data removed from earlier log entries"),
    "merchant.safeguards_changed": _("Data retention or approval threshold changed"),
    "customer.exported": _("Customer's data exported"),
    "segment.exported": _("Segment's customers exported"),
    "secrets.rotated": _("Stored secrets re-encrypted under a new key"),
    "campaigns.settings_changed": _("Campaign settings changed"),
    "admin.added": _("Added in the support console"),
    "admin.changed": _("Changed in the support console"),
    "admin.deleted": _("Deleted in the support console"),
}


class AuditEvent(models.Model):
    """One recorded staff action (issue 13): who, when, from where, on what, and
    the values before and after. Append-only: PostgreSQL refuses any UPDATE or
    DELETE of a row (migration 0006_audit), like the ledger. Written only by
    ``merchants.audit.record``.

    The actor and merchant are kept as plain ids (no database constraint) with a
    label beside them, so that an event outlives the person or business it names
    and nothing ever has to rewrite it."""

    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor = models.ForeignKey(
        User,
        verbose_name=_("who"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(_("who (as recorded)"), max_length=254, blank=True)
    ip_address = models.GenericIPAddressField(_("from address"), null=True, blank=True)
    source = models.CharField(_("where"), max_length=16, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target_type = models.CharField(_("object type"), max_length=100, blank=True)
    target_id = models.CharField(_("object id"), max_length=64, blank=True)
    target_label = models.CharField(_("object"), max_length=300, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit log")
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="audit_merchant_time"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.target_label}".strip()

    @property
    def action_label(self) -> str:
        return str(AUDIT_ACTIONS.get(self.action, self.action))


class AuthenticatorDevice(TimestampMixin, ThrottlingMixin, Device):
    """A TOTP authenticator (RFC 6238) whose key is encrypted at rest with ``secretbox``
    (issue 13): django-otp's ``TOTPDevice`` keeps the key in plain hex. The verification
    follows ``TOTPDevice.verify_token`` (tolerance of one step either side, drift, no code
    accepted twice), with django-otp's throttling: each wrong code doubles the wait before
    the next one is even checked (``OTP_TOTP_THROTTLE_FACTOR`` seconds, then twice, …)."""

    KEY_BYTES = 20

    encrypted_key = models.BinaryField(editable=False)
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)

    class Meta(Device.Meta):
        verbose_name = _("authenticator app")
        verbose_name_plural = _("authenticator apps")

    def set_key(self, key: bytes) -> None:
        from . import secretbox

        self.encrypted_key = secretbox.encrypt(bytes(key))

    @property
    def bin_key(self) -> bytes:
        from . import secretbox

        return secretbox.decrypt(bytes(self.encrypted_key))

    def save(self, *args, **kwargs) -> None:
        if not self.encrypted_key:
            self.set_key(secrets.token_bytes(self.KEY_BYTES))
        super().save(*args, **kwargs)

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    def verify_token(self, token) -> bool:
        allowed, _info = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            number = int(token)
        except (TypeError, ValueError):
            verified = False
        else:
            totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
            totp.time = time.time()
            verified = bool(totp.verify(number, self.tolerance, self.last_t + 1))
            if verified:
                self.last_t = totp.t()
                self.drift = totp.drift
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified

    @property
    def config_url(self) -> str:
        """The otpauth:// URI authenticator apps scan (Google's Key-Uri-Format)."""
        label = str(self.user.get_username())
        issuer = getattr(settings, "OTP_TOTP_ISSUER", "") or ""
        params = {
            "secret": base64.b32encode(self.bin_key),
            "algorithm": "SHA1",
            "digits": self.digits,
            "period": self.step,
        }
        query = urlencode(params)
        if issuer:
            issuer = str(issuer).replace(":", "")
            label = f"{issuer}:{label}"
            query += f"&issuer={quote(issuer)}"
        return f"otpauth://totp/{quote(label)}?{query}"


class RecoveryCodeSet(StaticDevice):
    """django-otp's static device as the admin shows it: one user's recovery codes."""

    class Meta:
        proxy = True
        verbose_name = _("recovery code set")
        verbose_name_plural = _("recovery code sets")
