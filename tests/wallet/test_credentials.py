"""Wallet credentials: the Apple pass certificate and the Google service
account, uploaded by the owner, validated, stored encrypted and never shown
again; the platform-wide fallbacks; the expiry warnings."""

# ruff: noqa: F811  (fixtures imported from support modules)

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from loyalty.models import WalletCredentials
from loyalty.wallet import credentials as wallet_credentials
from loyalty.wallet import passes
from loyalty.wallet.certificates import CertificateError
from tests.fakes.pki import issue_pass_certificate, new_key
from tests.wallet.pipeline_support import wallet_settings  # noqa: F401

pytestmark = pytest.mark.django_db


def stored_bytes(merchant, column: str) -> bytes:
    """The column as PostgreSQL holds it, read with SQL (not through the model)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM loyalty_walletcredentials WHERE merchant_id = %s", [merchant.pk])
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Apple ---------------------------------------------------------------------------------------


def test_good_p12_is_stored_encrypted(merchant, pki, wallet_settings, caplog):
    creds = wallet_credentials.upload_apple_certificate(
        merchant=merchant, data=pki.pass_cert.p12(b"secret"), password="secret"
    )
    assert creds.apple_pass_type_identifier == pki.pass_type_identifier
    assert creds.apple_team_identifier == pki.team_identifier
    assert creds.apple_expires_at == pki.pass_cert.cert.not_valid_after_utc

    raw = stored_bytes(merchant, "apple_certificate")
    assert raw, "nothing stored"
    cert_der = pki.pass_cert.cert.public_bytes(serialization.Encoding.DER)
    key_der = pki.pass_cert.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for plain in (b"-----BEGIN", b"PRIVATE KEY", pki.pass_cert.cert_pem, cert_der, key_der, cert_der[-64:]):
        assert plain not in raw
    # …and it reads back into a working signer.
    signer = wallet_credentials.apple_certificate_for(merchant)
    assert signer.pass_type_identifier == pki.pass_type_identifier
    assert signer.fingerprint == pki.pass_cert.cert.fingerprint(hashes.SHA256()).hex()
    # The key never reaches the log.
    assert "PRIVATE KEY" not in caplog.text and "secret" not in caplog.text


def test_pem_certificate_with_an_encrypted_key_file(merchant, pki, wallet_settings):
    creds = wallet_credentials.upload_apple_certificate(
        merchant=merchant, data=pki.pass_cert.cert_pem, key_data=pki.pass_cert.key_pem(b"pw"), password="pw"
    )
    assert creds.apple_pass_type_identifier == pki.pass_type_identifier
    assert passes.wallets_available(merchant=merchant).apple


@pytest.mark.parametrize(
    "case, message",
    [
        ("expired", "expired"),
        ("mismatched key", "does not belong"),
        ("not a pass certificate", "not an Apple Pass Type ID certificate"),
        ("wrong password", "password is wrong"),
        ("garbage", "password is wrong or the file is not a .p12"),
        ("pem without key", "No private key found"),
    ],
)
def test_bad_certificates_are_refused_with_a_clear_error_and_nothing_stored(
    merchant, pki, wallet_settings, case, message
):
    # A good certificate is already there: a bad upload must leave it untouched.
    wallet_credentials.upload_apple_certificate(merchant=merchant, data=pki.pass_cert.p12(b"pw"), password="pw")
    before = list(WalletCredentials.objects.filter(merchant=merchant).values())
    uploads = {
        "expired": {"data": pki.expired.p12(b"pw"), "password": "pw"},
        "mismatched key": {"data": pki.pass_cert.cert_pem, "key_data": pki.wrong_uid.key_pem()},
        "not a pass certificate": {"data": pki.not_a_pass.p12(b"pw"), "password": "pw"},
        "wrong password": {"data": pki.pass_cert.p12(b"pw"), "password": "nope"},
        "garbage": {"data": b"\x00\x01 not a certificate"},
        "pem without key": {"data": pki.pass_cert.cert_pem},
    }
    with pytest.raises(CertificateError) as error:
        wallet_credentials.upload_apple_certificate(merchant=merchant, **uploads[case])
    assert message in error.value.message
    assert list(WalletCredentials.objects.filter(merchant=merchant).values()) == before


def test_owner_uploads_the_certificate_in_the_dashboard(merchant, owner, pki, wallet_settings):
    client = logged_in(owner)
    page = client.get(reverse("wallet_settings"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "no pass certificate is set up" in text and "demo mode" in text

    response = client.post(
        reverse("wallet_apple_upload"),
        {"certificate": SimpleUploadedFile("pass.p12", pki.pass_cert.p12(b"pw")), "password": "pw"},
    )
    assert response.status_code == 302
    text = client.get(reverse("wallet_settings")).content.decode()
    assert pki.pass_type_identifier in text and pki.team_identifier in text
    assert "PRIVATE KEY" not in text and "BEGIN" not in text
    assert "no pass certificate is set up" not in text


def test_dashboard_upload_of_an_expired_certificate_shows_why(merchant, owner, pki, wallet_settings):
    response = logged_in(owner).post(
        reverse("wallet_apple_upload"),
        {"certificate": SimpleUploadedFile("old.p12", pki.expired.p12(b"pw")), "password": "pw"},
    )
    assert response.status_code == 400
    assert "The certificate expired on" in response.content.decode()
    assert not WalletCredentials.objects.filter(merchant=merchant, apple_certificate__isnull=False).exists()


def test_dashboard_refuses_an_oversized_upload(merchant, owner, wallet_settings):
    response = logged_in(owner).post(
        reverse("wallet_apple_upload"), {"certificate": SimpleUploadedFile("big.p12", b"0" * (65 * 1024))}
    )
    assert response.status_code == 400
    assert "too large" in response.content.decode()


@pytest.mark.parametrize("role", ["marketer", "cashier"])
def test_only_the_owner_sees_wallet_settings(request, role, pki, wallet_settings):
    user = request.getfixturevalue(role)
    client = logged_in(user)
    assert client.get(reverse("wallet_settings")).status_code == 403
    response = client.post(
        reverse("wallet_apple_upload"),
        {"certificate": SimpleUploadedFile("pass.p12", pki.pass_cert.p12(b"pw")), "password": "pw"},
    )
    assert response.status_code == 403
    assert not WalletCredentials.objects.exists()


def test_owner_removes_the_certificate(merchant, owner, pki, wallet_settings):
    wallet_credentials.upload_apple_certificate(merchant=merchant, data=pki.pass_cert.p12(b"pw"), password="pw")
    assert logged_in(owner).post(reverse("wallet_apple_remove")).status_code == 302
    assert stored_bytes(merchant, "apple_certificate") == b""
    assert not passes.wallets_available(merchant=merchant).apple


def test_platform_certificate_serves_merchants_without_their_own(
    merchant, other_merchant, pki, wallet_settings, tmp_path
):
    cert_file = tmp_path / "platform.p12"
    cert_file.write_bytes(pki.pass_cert.p12(b"platform"))
    wallet_settings.APPLE_PASS_CERT_FILE = str(cert_file)
    wallet_settings.APPLE_PASS_KEY_PASSWORD = "platform"
    assert passes.wallets_available(merchant=merchant).apple
    assert wallet_credentials.apple_certificate_for(other_merchant).pass_type_identifier == pki.pass_type_identifier
    # A merchant's own certificate takes precedence.
    own = issue_pass_certificate(pki.wwdr, uid="pass.com.example.own")
    wallet_credentials.upload_apple_certificate(merchant=merchant, data=own.p12(b"pw"), password="pw")
    assert wallet_credentials.apple_certificate_for(merchant).pass_type_identifier == "pass.com.example.own"
    assert wallet_credentials.apple_certificate_for(other_merchant).pass_type_identifier == pki.pass_type_identifier


def test_expired_certificate_turns_apple_off_with_the_reason(merchant, pki, wallet_settings):
    wallet_credentials.upload_apple_certificate(merchant=merchant, data=pki.pass_cert.p12(b"pw"), password="pw")
    later = pki.pass_cert.cert.not_valid_after_utc + dt.timedelta(days=1)
    availability = wallet_credentials.availability(merchant=merchant, now=later)
    assert not availability.apple
    assert "expired on" in availability.apple_reason


# --- expiry warnings ------------------------------------------------------------------------------


def test_expiry_warning_is_sent_once_at_30_and_once_at_7_days(merchant, owner, pki, wallet_settings):
    from loyalty.wallet import tasks

    soon = issue_pass_certificate(pki.wwdr, uid=pki.pass_type_identifier)
    creds = wallet_credentials.upload_apple_certificate(merchant=merchant, data=soon.p12(b"pw"), password="pw")
    expires = creds.apple_expires_at

    def run(days_before: float) -> int:
        return wallet_credentials.warn_expiring_certificates(now=expires - dt.timedelta(days=days_before))

    assert run(45) == 0
    assert run(29.5) == 1
    assert run(29) == 0 and run(20) == 0 and run(8) == 0
    assert run(6.5) == 1
    assert run(6) == 0 and run(1) == 0
    assert len(mail.outbox) == 2
    assert [m.to for m in mail.outbox] == [[owner.email], [owner.email]]
    assert "29" in mail.outbox[0].subject and "6" in mail.outbox[1].subject
    assert pki.pass_type_identifier in mail.outbox[0].body
    assert "/dashboard/wallet/" in mail.outbox[0].body
    assert WalletCredentials.objects.get(pk=creds.pk).apple_expiry_warned == "30,7"
    # Already expired: no more warnings (the dashboard says it instead).
    assert wallet_credentials.warn_expiring_certificates(now=expires + dt.timedelta(days=1)) == 0
    # The beat task is the same job.
    assert tasks.warn_wallet_certificate_expiry_task() == 0


def test_a_late_upload_gets_one_warning_and_a_renewal_resets_them(merchant, owner, pki, wallet_settings):
    soon = issue_pass_certificate(pki.wwdr, uid=pki.pass_type_identifier)
    creds = wallet_credentials.upload_apple_certificate(merchant=merchant, data=soon.p12(b"pw"), password="pw")
    expires = creds.apple_expires_at
    # First seen with 5 days left: one e-mail, both thresholds recorded.
    assert wallet_credentials.warn_expiring_certificates(now=expires - dt.timedelta(days=5)) == 1
    assert wallet_credentials.warn_expiring_certificates(now=expires - dt.timedelta(days=4)) == 0
    renewed = wallet_credentials.upload_apple_certificate(merchant=merchant, data=soon.p12(b"pw"), password="pw")
    assert renewed.apple_expiry_warned == ""


# --- Google ---------------------------------------------------------------------------------------


def test_google_key_is_validated_and_stored_encrypted(merchant, owner, fake_google, wallet_settings):
    info = fake_google.service_account_info()
    client = logged_in(owner)
    response = client.post(
        reverse("wallet_google_upload"),
        {"issuer_id": "3388000000022299999", "key": SimpleUploadedFile("key.json", json.dumps(info).encode())},
    )
    assert response.status_code == 302
    raw = stored_bytes(merchant, "google_service_account")
    assert raw and b"private_key" not in raw and info["private_key_id"].encode() not in raw
    assert b"PRIVATE KEY" not in raw
    account = wallet_credentials.google_account_for(merchant)
    assert account.issuer_id == "3388000000022299999" and account.email == info["client_email"]
    assert passes.wallets_available(merchant=merchant).google
    text = client.get(reverse("wallet_settings")).content.decode()
    assert info["client_email"] in text and info["private_key_id"] not in text and "PRIVATE KEY" not in text

    # A new issuer id without a new key keeps the key.
    assert client.post(reverse("wallet_google_upload"), {"issuer_id": "3388000000022200000"}).status_code == 302
    assert wallet_credentials.google_account_for(merchant).service_account == info


@pytest.mark.parametrize(
    "issuer, key, message",
    [
        ("3388", b"not json", "not JSON"),
        ("3388", b'{"type": "authorized_user"}', "not a service-account key"),
        ("3388", b'{"type": "service_account", "client_email": "x@y"}', "lacks"),
        ("33x8", None, "issuer id is a number"),
        ("3388", None, "Upload the service account"),
    ],
)
def test_bad_google_credentials_are_refused(merchant, owner, wallet_settings, issuer, key, message):
    data = {"issuer_id": issuer}
    if key is not None:
        data["key"] = SimpleUploadedFile("key.json", key)
    response = logged_in(owner).post(reverse("wallet_google_upload"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not WalletCredentials.objects.filter(merchant=merchant).exclude(google_issuer_id="").exists()


def test_google_key_with_an_unreadable_private_key_is_refused(merchant, fake_google, wallet_settings):
    info = fake_google.service_account_info()
    info["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    with pytest.raises(wallet_credentials.GoogleKeyError, match="cannot be read"):
        wallet_credentials.upload_google_credentials(
            merchant=merchant, issuer_id="1", key_data=json.dumps(info).encode()
        )
    assert not WalletCredentials.objects.exists()


def test_platform_google_account_from_settings(merchant, fake_google, wallet_settings, tmp_path):
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(fake_google.service_account_info()))
    wallet_settings.GOOGLE_WALLET_ISSUER_ID = "42"
    wallet_settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = str(path)
    assert passes.wallets_available(merchant=merchant).google
    assert wallet_credentials.google_account_for(merchant).issuer_id == "42"


def test_nothing_configured_says_why_for_both(merchant, wallet_settings):
    availability = passes.wallets_available(merchant=merchant)
    assert (availability.apple, availability.google) == (False, False)
    assert "certificate" in availability.apple_reason
    assert "demo mode" in availability.google_reason


def test_pem_bundle_with_a_foreign_key_is_refused(merchant, pki, wallet_settings):
    # A key that matches no certificate in a PEM bundle is refused too.
    other_key = new_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(CertificateError):
        wallet_credentials.upload_apple_certificate(merchant=merchant, data=pki.pass_cert.cert_pem + other_key)
    assert not WalletCredentials.objects.exists()


def test_stored_certificate_loads_without_a_second_rsa_key_check(merchant, pki, wallet_settings):
    # A key the full check rejects, written straight into the encrypted store:
    # only a check-free load (the store's own path) can read it back.
    from merchants import secretbox
    from tests.wallet.test_certificates import _bundle_with_a_broken_key

    WalletCredentials.objects.create(
        merchant=merchant, apple_certificate=secretbox.encrypt(_bundle_with_a_broken_key(pki))
    )
    cert = wallet_credentials.apple_certificate_for(merchant)
    assert cert is not None
    assert cert.certificate == pki.pass_cert.cert
