"""Two-factor authentication (issue 13): a TOTP device per user (django-otp) and
ten one-time recovery codes (django-otp's static tokens).

Optional for merchant owners (offered on the settings hub), required for platform
staff before admin opens (``merchants.middleware.StaffTwoFactorMiddleware``).

The TOTP key lives in the database (``otp_totp_totpdevice.key``), as django-otp
stores it; recovery codes are stored as django-otp keeps them and shown once.
"""

from __future__ import annotations

import segno
from django.db import transaction
from django.utils.safestring import SafeString, mark_safe
from django_otp import devices_for_user, match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit

RECOVERY_CODES = 10
DEVICE_NAME = "authenticator"
RECOVERY_NAME = "recovery"


def is_enabled(user) -> bool:
    """Has ``user`` a confirmed authenticator (so the login asks for a code)?"""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def pending_device(user) -> TOTPDevice:
    """The authenticator being set up (unconfirmed): the same key until confirmed, so a
    reload does not invalidate the QR code already scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def qr_svg(device: TOTPDevice) -> SafeString:
    """The otpauth:// URI as an inline SVG QR code for the authenticator app."""
    svg = segno.make(device.config_url, error="m").svg_inline(scale=5, title="QR")
    return mark_safe(svg)  # noqa: S308 - segno's own markup, the URI is escaped by it


def secret_base32(device: TOTPDevice) -> str:
    """The key as authenticator apps take it when typed by hand (RFC 4648 base32, grouped)."""
    import base64

    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def confirm(user, device: TOTPDevice, token: str) -> list[str] | None:
    """Turn 2FA on when ``token`` is the current code of the pending ``device``: the device
    is confirmed, older ones removed, and fresh recovery codes returned (to be shown once).
    None when the code is wrong."""
    token = normalise(token)
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
        if not token or not device.verify_token(token):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        codes = _new_recovery_codes(user)
        audit.record(action="two_factor.enabled", target=user, reason="")
    return codes


def regenerate_recovery_codes(user) -> list[str]:
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        audit.record(action="two_factor.recovery_codes_replaced", target=user, reason="")
    return codes


def disable(user) -> None:
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        audit.record(action="two_factor.disabled", target=user, reason="")


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__name=RECOVERY_NAME).count()


def verify(user, token: str):
    """The device that accepts ``token`` (an authenticator code or a recovery code, which is
    used up), or None. django-otp throttles repeated failures per device."""
    token = normalise(token)
    if not token:
        return None
    return match_token(user, token)


def has_any_device(user) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


def normalise(token: str | None) -> str:
    return "".join((token or "").split()).replace("-", "").lower()


def _new_recovery_codes(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def replace_device_admins(site) -> None:
    """django-otp's own device admins show a TOTP key and its QR code (and the QR page needs the
    ``qrcode`` package): support may see who has which device and delete one (a lost phone), never
    read a key or a recovery code."""
    from django.contrib import admin

    class DeviceAdmin(admin.ModelAdmin):
        list_display = ("user", "name", "confirmed")
        list_filter = ("confirmed",)
        search_fields = ("user__email",)
        fields = ("user", "name", "confirmed")
        readonly_fields = ("user", "name")

        def has_add_permission(self, request):
            return False

    for model in (TOTPDevice, StaticDevice):
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, DeviceAdmin)
