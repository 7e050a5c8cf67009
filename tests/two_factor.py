"""Helpers for sessions with and without the second factor (issue 13)."""

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp

from merchants.models import AuthenticatorDevice


def device_for(user) -> AuthenticatorDevice:
    device = AuthenticatorDevice.objects.filter(user=user, confirmed=True).first()
    return device or AuthenticatorDevice.objects.create(user=user, name="test", confirmed=True)


def mark_verified(client, user) -> None:
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device_for(user).persistent_id
    session.save()


def password_only_login(client, user) -> None:
    """Logged in with the password alone (no second factor in this session)."""
    client.password_only_force_login(user)


def current_code(device: AuthenticatorDevice) -> str:
    """The code the authenticator app shows now, computed as the app does (RFC 6238)."""
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
    return f"{code:0{device.digits}d}"
