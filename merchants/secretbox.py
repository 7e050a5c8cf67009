"""Secrets at rest (Apple certificates and keys, Google service-account keys).

Encrypted with Fernet under the project's SECRETS_ENCRYPTION_KEY; several keys
may be configured (comma-separated) so that the first encrypts and all decrypt,
which lets a key be rotated without losing what is stored.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def _fernet_key(configured: str) -> bytes:
    # Accept a proper Fernet key as is; derive one from any other passphrase.
    try:
        if len(base64.urlsafe_b64decode(configured.encode())) == 32:
            return configured.encode()
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(configured.encode()).digest())


def _box() -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(k)) for k in settings.SECRETS_ENCRYPTION_KEYS])


def encrypt(plaintext: bytes) -> bytes:
    return _box().encrypt(plaintext)


def decrypt(token: bytes) -> bytes:
    return _box().decrypt(bytes(token))


def rotate(token: bytes) -> bytes:
    return _box().rotate(bytes(token))
