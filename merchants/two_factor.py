"""Two-factor authentication (issue 13): a TOTP device per user (django-otp) and
ten one-time recovery codes (django-otp's static tokens).

Optional for merchant owners (offered on the settings hub), required for platform
staff before admin opens (``merchants.middleware.StaffTwoFactorMiddleware``).

The TOTP key is stored encrypted with ``secretbox`` (``merchants.AuthenticatorDevice``;
django-otp's own TOTPDevice would keep it in plain hex); recovery codes are stored
as django-otp keeps them and shown once.

Wrong codes are throttled by django-otp (``ThrottlingMixin`` on both devices): after
each wrong code the next one is not even checked for 1, 2, 4, 8 … seconds
(``OTP_TOTP_THROTTLE_FACTOR``), counted per device, so a guessing loop soon waits
minutes, then hours, per try; the right code afterwards is refused too until the wait
ends (``locked_until`` says when, for the log-in form's message).
"""

from __future__ import annotations

import datetime

import segno
from django.db import transaction
from django.utils.safestring import SafeString, mark_safe
from django_otp import devices_for_user, match_token
from django_otp.models import VerifyNotAllowed
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from . import audit
from .models import AuthenticatorDevice, RecoveryCodeSet

RECOVERY_CODES = 10
# From this many wrong codes in a row the log-in form speaks of a lock-out (the wait is then 8 s
# and doubles with each further wrong code); before it, of a wrong code.
SAY_LOCKED_AFTER = 4
DEVICE_NAME = "authenticator"
RECOVERY_NAME = "recovery"


def is_enabled(user) -> bool:
    """Has ``user`` a confirmed authenticator (so the login asks for a code)?"""
    return AuthenticatorDevice.objects.filter(user=user, confirmed=True).exists()


def pending_device(user) -> AuthenticatorDevice:
    """The authenticator being set up (unconfirmed): the same key until confirmed, so a
    reload does not invalidate the QR code already scanned."""
    device = AuthenticatorDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = AuthenticatorDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def qr_svg(device: AuthenticatorDevice) -> SafeString:
    """The otpauth:// URI as an inline SVG QR code for the authenticator app."""
    svg = segno.make(device.config_url, error="m").svg_inline(scale=5, title="QR")
    return mark_safe(svg)  # noqa: S308 - segno's own markup, the URI is escaped by it


def secret_base32(device: AuthenticatorDevice) -> str:
    """The key as authenticator apps take it when typed by hand (RFC 4648 base32, grouped)."""
    import base64

    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def confirm(user, device: AuthenticatorDevice, token: str) -> list[str] | None:
    """Turn 2FA on when ``token`` is the current code of the pending ``device``: the device
    is confirmed, older ones removed, and fresh recovery codes returned (to be shown once).
    None when the code is wrong."""
    token = normalise(token)
    with transaction.atomic():
        device = AuthenticatorDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
        if not token or not device.verify_token(token):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        AuthenticatorDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
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
        AuthenticatorDevice.objects.filter(user=user).delete()
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
    device = match_token(user, token)
    if device is not None:
        # A wrong code counted against every device: the right one clears them all, so that the
        # account's lock-out (``locked_until``) ends with it.
        for other in devices_for_user(user, confirmed=True):
            if other.throttling_failure_count:
                other.throttle_reset()
    return device


def locked_until(user) -> datetime.datetime | None:
    """When the second step opens again after wrong codes, or None when it is open."""
    until = None
    for device in devices_for_user(user, confirmed=True):
        allowed, info = device.verify_is_allowed()
        if not allowed and info and info.get("reason") == VerifyNotAllowed.N_FAILED_ATTEMPTS:
            moment = info.get("locked_until")
            if moment is not None and (until is None or moment > until):
                until = moment
    return until


def failures(user) -> int:
    """Wrong codes in a row (the most any of the user's devices counted)."""
    return max((d.throttling_failure_count for d in devices_for_user(user, confirmed=True)), default=0)


def wait_text(until: datetime.datetime) -> str:
    """ "3 минуты", or "минуту" for anything under one: how long until ``until``."""
    from django.utils import timezone
    from django.utils.timesince import timeuntil
    from django.utils.translation import pgettext

    if (until - timezone.now()).total_seconds() < 60:
        return pgettext("wait", "a minute")
    return timeuntil(until, depth=1)


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
    read a key or a recovery code. TOTPDevice holds no rows (keys live encrypted in
    ``AuthenticatorDevice``), so it leaves admin."""
    from django.contrib import admin
    from django_otp.plugins.otp_totp.models import TOTPDevice as PlainTOTPDevice

    class DeviceAdmin(admin.ModelAdmin):
        list_display = ("user", "name", "confirmed")
        list_filter = ("confirmed",)
        search_fields = ("user__email",)
        fields = ("user", "name", "confirmed")
        readonly_fields = ("user", "name")

        def has_add_permission(self, request):
            return False

    for model in (PlainTOTPDevice, StaticDevice):
        if site.is_registered(model):
            site.unregister(model)
    for model in (AuthenticatorDevice, RecoveryCodeSet):
        site.register(model, DeviceAdmin)
