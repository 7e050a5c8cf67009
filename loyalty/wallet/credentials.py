"""Which Apple certificate and Google issuer serve a merchant, and the uploads
that set them.

A merchant's own credentials are stored encrypted (merchants.secretbox) in
WalletCredentials; without them the platform-wide ones from settings serve.
Secrets are decrypted only in memory, never logged and never shown again."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from loyalty.models import WalletCredentials
from loyalty.wallet import render
from loyalty.wallet.certificates import CertificateError, PassCertificate, load_bundle, load_upload
from merchants import audit, secretbox
from merchants.models import Merchant, Role, User

logger = logging.getLogger(__name__)

# Days before expiry at which the owner is warned, once each.
EXPIRY_WARNING_DAYS = (30, 7)


class GoogleKeyError(ValueError):
    def __init__(self, message: str, *, field: str = "key"):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class GoogleAccount:
    issuer_id: str
    service_account: dict[str, Any]

    @property
    def email(self) -> str:
        return str(self.service_account.get("client_email", ""))


# --- reading ---------------------------------------------------------------------------------


def credentials_of(merchant: Merchant | int) -> WalletCredentials | None:
    return WalletCredentials.objects.for_merchant(merchant).first()


# Parsed certificates kept per process (about 10 KB each with the cache key):
# more than the merchants one worker signs for, so a campaign sweeping many
# merchants does not keep evicting them. A miss costs a decryption and a key
# load (about 1 ms), not the 50 ms RSA key check: see load_bundle(trusted=True).
CERTIFICATE_CACHE_SIZE = 1024


@functools.lru_cache(maxsize=CERTIFICATE_CACHE_SIZE)
def _decrypt_bundle(ciphertext_digest: str, ciphertext: bytes) -> PassCertificate:
    # Keyed by the ciphertext so a new upload is never served from the cache.
    # Fernet authenticates it: what decrypts is what upload_apple_certificate
    # stored after checking the key in full, so the key check is not repeated.
    return load_bundle(secretbox.decrypt(ciphertext), trusted=True)


@functools.lru_cache(maxsize=4)
def _platform_certificate(cert_file: str, key_file: str, password: str, mtime: float) -> PassCertificate:
    data = Path(cert_file).read_bytes()
    key_data = Path(key_file).read_bytes() if key_file else None
    return load_upload(data, password or None, key_data=key_data)


def platform_apple_certificate() -> PassCertificate | None:
    cert_file = getattr(settings, "APPLE_PASS_CERT_FILE", "")
    if not cert_file:
        return None
    key_file = getattr(settings, "APPLE_PASS_KEY_FILE", "")
    try:
        mtime = Path(cert_file).stat().st_mtime
        return _platform_certificate(cert_file, key_file, getattr(settings, "APPLE_PASS_KEY_PASSWORD", ""), mtime)
    except (OSError, CertificateError) as exc:
        logger.error("platform Apple pass certificate unusable: %s", exc)
        return None


def apple_certificate_for(merchant: Merchant | int) -> PassCertificate | None:
    """The certificate that signs and pushes this merchant's passes (own, else platform), expired or not."""
    return _apple_certificate(credentials_of(merchant))


def _apple_certificate(creds: WalletCredentials | None) -> PassCertificate | None:
    if creds is not None and creds.apple_certificate:
        ciphertext = bytes(creds.apple_certificate)
        try:
            return _decrypt_bundle(hashlib.sha256(ciphertext).hexdigest(), ciphertext)
        except Exception as exc:  # a corrupt row or a rotated-away key must not take the site down
            logger.error("stored Apple certificate of merchant %s unusable: %s", creds.merchant_id, type(exc).__name__)
            return None
    return platform_apple_certificate()


@functools.lru_cache(maxsize=4)
def _platform_google(path: str, mtime: float) -> dict[str, Any]:
    return parse_service_account(Path(path).read_bytes())


def google_account_for(merchant: Merchant | int) -> GoogleAccount | None:
    return _google_account(credentials_of(merchant))


def _google_account(creds: WalletCredentials | None) -> GoogleAccount | None:
    if creds is not None and creds.google_issuer_id and creds.google_service_account:
        try:
            info = json.loads(secretbox.decrypt(bytes(creds.google_service_account)))
        except Exception as exc:
            logger.error("stored Google key of merchant %s unusable: %s", creds.merchant_id, type(exc).__name__)
            return None
        return GoogleAccount(creds.google_issuer_id, info)
    issuer = getattr(settings, "GOOGLE_WALLET_ISSUER_ID", "")
    path = getattr(settings, "GOOGLE_WALLET_SERVICE_ACCOUNT_FILE", "")
    if issuer and path:
        try:
            return GoogleAccount(issuer, _platform_google(path, Path(path).stat().st_mtime))
        except (OSError, GoogleKeyError) as exc:
            logger.error("platform Google service account unusable: %s", exc)
    return None


def usable_apple_certificate(merchant: Merchant | int, *, now: dt.datetime | None = None):
    """(certificate, "") when Apple Wallet works for the merchant, else (None, the reason)."""
    return _usable(apple_certificate_for(merchant), now=now or timezone.now())


def _usable(cert: PassCertificate | None, *, now: dt.datetime) -> tuple[PassCertificate | None, str]:
    if cert is None:
        return None, _(
            "Apple Wallet is off: no pass certificate is set up. "
            "Upload your Pass Type ID certificate in Wallet settings."
        )
    if cert.is_expired(now):
        return None, _(
            "Apple Wallet is off: the pass certificate expired on %(date)s. Upload a renewed certificate."
        ) % {"date": cert.not_valid_after.date().isoformat()}
    if not render.web_service_is_secure():
        return None, _(
            "Apple Wallet is off: the site's public address is not HTTPS, and iPhones only update passes over HTTPS."
        )
    return cert, ""


@dataclass(frozen=True)
class WalletAvailability:
    apple: bool
    google: bool
    apple_reason: str
    google_reason: str


def availability(*, merchant: Merchant, now: dt.datetime | None = None) -> WalletAvailability:
    creds = credentials_of(merchant)  # read once for both wallets
    cert, apple_reason = _usable(_apple_certificate(creds), now=now or timezone.now())
    google_reason = ""
    if _google_account(creds) is None:
        google_reason = _(
            "Google Wallet is in demo mode: no issuer account is set up. "
            "Enter your Google Wallet issuer id and service-account key in Wallet settings."
        )
    return WalletAvailability(
        apple=cert is not None, google=not google_reason, apple_reason=apple_reason, google_reason=google_reason
    )


# --- writing ---------------------------------------------------------------------------------


def upload_apple_certificate(
    *,
    merchant: Merchant,
    data: bytes,
    password: str = "",
    key_data: bytes | None = None,
    now: dt.datetime | None = None,
) -> WalletCredentials:
    """Validate (pass certificate, matching key, not expired) and store it
    encrypted. Raises CertificateError with the merchant-facing reason and
    stores nothing when anything is wrong."""
    now = now or timezone.now()
    cert = load_upload(data, password or None, key_data=key_data, now=now)
    ciphertext = secretbox.encrypt(cert.to_bundle())
    with transaction.atomic():
        creds, _created = WalletCredentials.objects.select_for_update().get_or_create(merchant=merchant)
        creds.apple_certificate = ciphertext
        creds.apple_pass_type_identifier = cert.pass_type_identifier
        creds.apple_team_identifier = cert.team_identifier
        creds.apple_expires_at = cert.not_valid_after
        creds.apple_uploaded_at = now
        creds.apple_expiry_warned = ""
        creds.updated_at = now
        creds.save()
        audit.record(
            action="wallet.apple_certificate_uploaded",
            merchant=merchant,
            target=creds,
            target_label=cert.pass_type_identifier,
            after={
                "pass_type_identifier": cert.pass_type_identifier,
                "team_identifier": cert.team_identifier,
                "expires_at": cert.not_valid_after,
            },
        )
    logger.info("merchant %s uploaded Apple pass certificate %s", merchant.pk, cert.pass_type_identifier)
    return creds


@transaction.atomic
def remove_apple_certificate(*, merchant: Merchant, now: dt.datetime | None = None) -> None:
    audit.record(action="wallet.apple_certificate_removed", merchant=merchant)
    WalletCredentials.objects.for_merchant(merchant).update(
        apple_certificate=None,
        apple_pass_type_identifier="",
        apple_team_identifier="",
        apple_expires_at=None,
        apple_uploaded_at=None,
        apple_expiry_warned="",
        updated_at=now or timezone.now(),
    )


_SERVICE_ACCOUNT_KEYS = ("type", "client_email", "private_key", "private_key_id", "token_uri")


def parse_service_account(data: bytes) -> dict[str, Any]:
    """The JSON key file of a Google service account, checked enough to be usable."""
    try:
        info = json.loads(bytes(data).decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise GoogleKeyError(_("The key file is not JSON. Download the service account's key as JSON."))
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise GoogleKeyError(_('The file is not a service-account key (its "type" must be "service_account").'))
    missing = [key for key in _SERVICE_ACCOUNT_KEYS if not info.get(key)]
    if missing:
        raise GoogleKeyError(_("The key file lacks: %(fields)s.") % {"fields": ", ".join(missing)})
    from google.auth import crypt

    try:
        crypt.RSASigner.from_service_account_info(info)
    except (ValueError, TypeError):
        raise GoogleKeyError(_("The private key in the file cannot be read."))
    return info


def upload_google_credentials(
    *, merchant: Merchant, issuer_id: str, key_data: bytes | None, now: dt.datetime | None = None
) -> WalletCredentials:
    """Set the Google issuer id and (when given) a new service-account key.
    Without a new key the stored one stays; a first setup needs one."""
    now = now or timezone.now()
    issuer_id = (issuer_id or "").strip()
    if not issuer_id.isdigit():
        raise GoogleKeyError(
            _("The issuer id is a number, shown in the Google Pay & Wallet console."), field="issuer_id"
        )
    info = parse_service_account(key_data) if key_data else None
    with transaction.atomic():
        creds, _created = WalletCredentials.objects.select_for_update().get_or_create(merchant=merchant)
        if info is None and not creds.google_service_account:
            raise GoogleKeyError(_("Upload the service account's JSON key."))
        creds.google_issuer_id = issuer_id
        if info is not None:
            creds.google_service_account = secretbox.encrypt(json.dumps(info).encode())
            creds.google_service_account_email = str(info["client_email"])
        creds.updated_at = now
        creds.save()
        audit.record(
            action="wallet.google_credentials_uploaded",
            merchant=merchant,
            target=creds,
            target_label=creds.google_service_account_email,
            after={
                "issuer_id": issuer_id,
                "service_account_email": creds.google_service_account_email,
                "new_key": info is not None,
            },
        )
    return creds


@transaction.atomic
def remove_google_credentials(*, merchant: Merchant, now: dt.datetime | None = None) -> None:
    audit.record(action="wallet.google_credentials_removed", merchant=merchant)
    WalletCredentials.objects.for_merchant(merchant).update(
        google_issuer_id="",
        google_service_account=None,
        google_service_account_email="",
        updated_at=now or timezone.now(),
    )


# --- expiry warnings -------------------------------------------------------------------------


def warn_expiring_certificates(*, now: dt.datetime | None = None) -> int:
    """E-mail the owners of merchants whose own Apple certificate expires
    within 30 days, then within 7: once each (the thresholds already warned
    about are recorded, and claimed with a conditional UPDATE so that two
    runs never both send). Returns the number of e-mails sent."""
    now = now or timezone.now()
    sent = 0
    horizon = now + dt.timedelta(days=max(EXPIRY_WARNING_DAYS))
    candidates = WalletCredentials.objects.filter(
        apple_certificate__isnull=False, apple_expires_at__gt=now, apple_expires_at__lte=horizon
    ).select_related("merchant")
    for creds in candidates:
        assert creds.apple_expires_at is not None  # the filter above asks for one
        days_left = (creds.apple_expires_at - now).total_seconds() / 86400
        warned = {item for item in creds.apple_expiry_warned.split(",") if item}
        due = {str(days) for days in EXPIRY_WARNING_DAYS if days_left <= days} - warned
        if not due:
            continue
        new_value = ",".join(sorted(warned | due, key=int, reverse=True))
        claimed = WalletCredentials.objects.filter(pk=creds.pk, apple_expiry_warned=creds.apple_expiry_warned).update(
            apple_expiry_warned=new_value
        )
        if claimed != 1:
            continue
        sent += _send_expiry_warning(creds, days_left=int(days_left))
    return sent


def _send_expiry_warning(creds: WalletCredentials, *, days_left: int) -> int:
    merchant = creds.merchant
    recipients = list(
        User.objects.filter(
            memberships__merchant=merchant, memberships__role=Role.OWNER, memberships__is_active=True, is_active=True
        ).values_list("email", flat=True)
    )
    if not recipients:
        logger.warning("merchant %s: certificate expiry warning has no owner to go to", merchant.pk)
        return 0
    with translation.override(settings.LANGUAGE_CODE), timezone.override(merchant.tzinfo):
        context = {
            "merchant": merchant,
            "days_left": days_left,
            "expires_at": timezone.localtime(creds.apple_expires_at),
            "pass_type_identifier": creds.apple_pass_type_identifier,
            "settings_url": settings.PUBLIC_BASE_URL + reverse("wallet_settings"),
        }
        subject = _("Your Apple Wallet certificate expires in %(days)d days") % {"days": max(days_left, 0)}
        body = render_to_string("loyalty/wallet_certificate_expiry_email.txt", context)
    send_mail(subject, body, None, recipients)
    logger.info("merchant %s: certificate expiry warning sent (%d days left)", merchant.pk, days_left)
    return 1
