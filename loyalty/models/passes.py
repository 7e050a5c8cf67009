"""Card designs, wallet passes and their delivery: what a customer's phone
holds for a card (Apple pass, Google object, web card), the devices that
registered for updates, and a log of each update sent.

A card that changes is marked (``WalletPass.needs_sync_since``) once; the
update pipeline claims marked passes, debounced, and updates every wallet the
card is in."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScopedManager


class BarcodeFormat(models.TextChoices):
    QR = "qr", _("QR code")
    PDF417 = "pdf417", "PDF417"
    CODE128 = "code128", "Code 128"


def design_upload_to(instance: CardDesign, filename: str) -> str:
    return f"designs/{instance.merchant_id}/{secrets.token_hex(8)}-{filename}"


class CardDesign(models.Model):
    """One version of a merchant's card design. The merchant edits the draft
    (``published_at`` empty); publishing freezes it as the next version and
    every installed card is updated to it. Published versions never change."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="card_designs")
    version = models.PositiveIntegerField(null=True, blank=True, help_text=_("Set when published."))
    published_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    program_name = models.CharField(_("card title"), max_length=40, blank=True)
    background_color = models.CharField(_("background colour"), max_length=7, default="#3b2a20")
    foreground_color = models.CharField(_("text colour"), max_length=7, default="#ffffff")
    label_color = models.CharField(_("label colour"), max_length=7, default="#e8c9a0")
    logo = models.ImageField(_("logo"), upload_to=design_upload_to, blank=True)
    icon = models.ImageField(_("icon"), upload_to=design_upload_to, blank=True)
    strip = models.ImageField(_("strip image"), upload_to=design_upload_to, blank=True)

    show_balance = models.BooleanField(_("show balance or stamps"), default=True)
    show_tier = models.BooleanField(_("show tier"), default=True)
    show_name = models.BooleanField(_("show customer name"), default=True)
    terms = models.TextField(_("terms"), blank=True)
    contacts = models.TextField(_("contacts"), blank=True)
    website = models.URLField(_("website"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)

    barcode_format = models.CharField(
        _("barcode"), max_length=16, choices=BarcodeFormat.choices, default=BarcodeFormat.QR
    )
    locations = models.ManyToManyField(
        "merchants.Location", blank=True, related_name="+", verbose_name=_("lock-screen locations")
    )
    relevant_text = models.CharField(_("lock-screen text near a location"), max_length=100, blank=True)
    # Empty: the standard message, which the pass carries in every language
    # (pass.strings) so each phone shows its own. The merchant's own text is
    # shown as written.
    change_message = models.CharField(
        _("message when the balance changes"),
        max_length=100,
        blank=True,
        default="",
        help_text=_("%@ is replaced by the new balance."),
    )

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-version", "-pk"]
        verbose_name = _("card design")
        verbose_name_plural = _("card designs")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "version"], name="card_design_version_unique"),
            # At most one draft per merchant.
            models.UniqueConstraint(
                fields=["merchant"], condition=models.Q(published_at__isnull=True), name="card_design_one_draft"
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version}" if self.version else "draft"


def _token() -> str:
    return secrets.token_urlsafe(24)


class WalletPass(models.Model):
    """What the customer's phone holds for one card, in every wallet: the Apple
    pass (serial + authentication token, which never change), the Google
    object id, and the web card's unguessable URL token."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    card = models.OneToOneField("loyalty.Card", on_delete=models.CASCADE, related_name="wallet_pass")
    serial_number = models.CharField(max_length=64, unique=True, default=_token)
    authentication_token = models.CharField(max_length=64, default=_token)
    web_token = models.CharField(max_length=64, unique=True, default=_token)
    design = models.ForeignKey(CardDesign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Bumped whenever what the pass shows changes: Last-Modified for the
    # device, and the opaque "passesUpdatedSince" tag (µs since epoch). Not
    # indexed: a device's few registrations find its passes, and an index on a
    # column that every purchase changes would make each mark of the pass write
    # a new entry in all ten of its indexes (no HOT update).
    updated_at = models.DateTimeField(default=timezone.now)
    update_tag = models.BigIntegerField(default=0)
    # Set when the card changed and wallets still need the update; cleared by
    # the pipeline once it has sent everything that was due.
    needs_sync_since = models.DateTimeField(null=True, blank=True, db_index=True)
    # The Apple pass type the pass was last issued with (the certificate that
    # signed it, hence the APNs topic of its pushes).
    pass_type_identifier = models.CharField(max_length=200, blank=True)
    google_object_id = models.CharField(max_length=200, blank=True)
    google_class_id = models.CharField(max_length=200, blank=True)
    google_inserted_at = models.DateTimeField(null=True, blank=True)
    google_saved_at = models.DateTimeField(null=True, blank=True)
    last_fetched_at = models.DateTimeField(_("last fetched by a device"), null=True, blank=True)
    last_synced_at = models.DateTimeField(_("last sent to the wallets"), null=True, blank=True)
    # The latest message for the customer (a campaign's, later): shown on the
    # Apple pass's back and added to the Google object. ``message_notify`` is
    # decided once, from the card's daily notification budget shared by both
    # wallets; ``google_message_key`` is the last one Google got.
    message_key = models.CharField(max_length=64, blank=True)
    message_header = models.CharField(max_length=100, blank=True)
    message_body = models.CharField(max_length=500, blank=True)
    message_notify = models.BooleanField(default=False)
    message_at = models.DateTimeField(null=True, blank=True)
    google_message_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("wallet pass")
        verbose_name_plural = _("wallet passes")

    def __str__(self) -> str:
        return self.serial_number


class AppleDevice(models.Model):
    """A device (its library) that registered passes for updates. Not merchant-
    owned: one iPhone may hold cards of several merchants."""

    device_library_identifier = models.CharField(max_length=128, unique=True)
    push_token = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("Apple device")
        verbose_name_plural = _("Apple devices")

    def __str__(self) -> str:
        return self.device_library_identifier


class AppleRegistration(models.Model):
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(AppleDevice, on_delete=models.CASCADE, related_name="registrations")
    wallet_pass = models.ForeignKey(WalletPass, on_delete=models.CASCADE, related_name="registrations")
    created_at = models.DateTimeField(default=timezone.now)
    # Bumped when the device registers again: a 410 from APNs older than this
    # must not remove the registration.
    updated_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("Apple Wallet registration")
        verbose_name_plural = _("Apple Wallet registrations")
        constraints = [
            models.UniqueConstraint(fields=["device", "wallet_pass"], name="apple_registration_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} → {self.wallet_pass_id}"


class Delivery(models.Model):
    """One update sent to one wallet for one pass: a push to a device, a patch
    or a message to Google. The dashboard shows the last ones per card; the
    Google daily notification budget counts the notifying ones."""

    class Channel(models.TextChoices):
        APPLE = "apple", "Apple Wallet"
        GOOGLE = "google", "Google Wallet"

    class Status(models.TextChoices):
        OK = "ok", _("Delivered")
        UNREGISTERED = "unregistered", _("Device gone")
        RETRY = "retry", _("Will retry")
        FAILED = "failed", _("Failed")

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    wallet_pass = models.ForeignKey(WalletPass, on_delete=models.CASCADE, related_name="deliveries")
    # Apple: the device pushed to (kept empty once the device is gone).
    device = models.ForeignKey(AppleDevice, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    notified = models.BooleanField(default=False, help_text=_("Shown to the customer as a notification."))
    # The customer message this delivery carried (WalletPass.message_key): one
    # message shown by both wallets uses the daily budget once.
    message_key = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["wallet_pass", "channel", "-created_at"], name="delivery_pass_recent_idx")]
        verbose_name = _("wallet delivery")
        verbose_name_plural = _("wallet deliveries")

    def __str__(self) -> str:
        return f"{self.channel} {self.status}"


class DeviceLog(models.Model):
    """Lines a device sent to the PassKit log endpoint, kept for support."""

    message = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("device log line")
        verbose_name_plural = _("device log")

    def __str__(self) -> str:
        return self.message[:80]


class WalletCredentials(models.Model):
    """A merchant's own Apple pass certificate and Google issuer. Secrets are
    encrypted at rest (merchants.secretbox) and never shown again."""

    merchant = models.OneToOneField("merchants.Merchant", on_delete=models.CASCADE, related_name="wallet_credentials")
    apple_certificate = models.BinaryField(null=True, blank=True, editable=False)
    apple_pass_type_identifier = models.CharField(max_length=200, blank=True)
    apple_team_identifier = models.CharField(max_length=20, blank=True)
    apple_expires_at = models.DateTimeField(null=True, blank=True)
    apple_uploaded_at = models.DateTimeField(null=True, blank=True)
    apple_expiry_warned = models.CharField(max_length=32, blank=True, help_text="Which expiry warnings were sent.")
    google_issuer_id = models.CharField(max_length=32, blank=True)
    google_service_account = models.BinaryField(null=True, blank=True, editable=False)
    google_service_account_email = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("wallet credentials")
        verbose_name_plural = _("wallet credentials")

    def __str__(self) -> str:
        return f"wallet credentials of merchant {self.merchant_id}"
