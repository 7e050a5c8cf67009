"""The key that encrypts secrets at rest can be rotated (issue 13): with the new key
first and the old one after it, ``rotate_secrets_key`` re-encrypts every stored
certificate, after which the old key can go and the certificates still load."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command

from loyalty.models import WalletCredentials
from loyalty.wallet import credentials
from merchants import secretbox
from merchants.models import AuditEvent

pytestmark = pytest.mark.django_db

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def load(merchant):
    credentials._decrypt_bundle.cache_clear()
    return credentials.apple_certificate_for(merchant)


def test_rotation_keeps_every_certificate_and_retires_the_old_key(settings, merchant, pki, capsys):
    settings.SECRETS_ENCRYPTION_KEYS = [OLD]
    credentials.upload_apple_certificate(merchant=merchant, data=pki.pass_cert.p12(b"pw"), password="pw")
    stored_before = bytes(WalletCredentials.objects.get(merchant=merchant).apple_certificate)
    identifier = load(merchant).pass_type_identifier

    settings.SECRETS_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("rotate_secrets_key")
    assert "Re-encrypted 1 stored secrets" in capsys.readouterr().out
    stored_after = bytes(WalletCredentials.objects.get(merchant=merchant).apple_certificate)
    assert stored_after != stored_before

    settings.SECRETS_ENCRYPTION_KEYS = [NEW]  # the old key is gone
    assert load(merchant).pass_type_identifier == identifier
    settings.SECRETS_ENCRYPTION_KEYS = [OLD]  # ... and no longer opens anything
    with pytest.raises(InvalidToken):
        secretbox.decrypt(stored_after)
    assert AuditEvent.objects.filter(action="secrets.rotated", merchant=merchant).count() == 1


def test_a_secret_no_key_opens_stops_the_rotation_and_keeps_the_row(settings, merchant, pki):
    settings.SECRETS_ENCRYPTION_KEYS = [OLD]
    credentials.upload_apple_certificate(merchant=merchant, data=pki.pass_cert.p12(b"pw"), password="pw")
    stored = bytes(WalletCredentials.objects.get(merchant=merchant).apple_certificate)
    settings.SECRETS_ENCRYPTION_KEYS = [NEW]  # the old key forgotten
    with pytest.raises(CommandError, match="none of the configured keys"):
        call_command("rotate_secrets_key")
    assert bytes(WalletCredentials.objects.get(merchant=merchant).apple_certificate) == stored
