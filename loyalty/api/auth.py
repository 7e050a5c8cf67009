"""POS API authentication: a location's API key, resolved once at the edge.

The till sends ``Authorization: Bearer lk_…`` (or ``X-Api-Key: lk_…``). The key
decides the merchant and the location; views read them from ``request.auth``
and pass them to services as ``merchant=`` / ``location=`` / ``api_key=``.
"""

from __future__ import annotations

import hashlib
import time

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from merchants.models import ApiKey, Location, Merchant
from merchants.services import api_key_for_secret, api_key_touch

# Keys are "lk_" + 8 hex + "_" + 43 urlsafe characters; anything much longer is junk.
MAX_KEY_LENGTH = 200

# A till sends its key on every call. Each worker process remembers the keys it
# has verified (by a SHA-256 of the secret, never the secret itself) for a
# minute, with their merchant and location, and on every call only re-checks,
# in one cheap statement, that the key is still active: revoking a key or
# deactivating its merchant or its location takes effect on the next request
# (the same three conditions as api_key_for_secret), while edits to a
# merchant's or location's details reach a worker within a minute. Verifying
# from scratch (api_key_for_secret) is the single most expensive query of a
# purchase on the ORM (two joins to compile).
KEY_CACHE_SECONDS = 60
KEY_CACHE_SIZE = 1000
_verified: dict[str, tuple[float, ApiKey]] = {}
_STILL_ACTIVE_SQL = (
    f"SELECT 1 FROM {ApiKey._meta.db_table} k "
    f"JOIN {Merchant._meta.db_table} m ON m.id = k.merchant_id "
    f"JOIN {Location._meta.db_table} l ON l.id = k.location_id "
    "WHERE k.id = %s AND k.revoked_at IS NULL AND m.is_active AND l.is_active"
)


def _still_active(api_key: ApiKey) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(_STILL_ACTIVE_SQL, [api_key.pk])
        return cursor.fetchone() is not None


def api_key_for(secret: str) -> ApiKey | None:
    """The active key for ``secret`` (see KEY_CACHE_SECONDS), or None."""
    digest = hashlib.sha256(secret.encode()).hexdigest()
    now = time.monotonic()
    remembered = _verified.get(digest)
    if remembered is not None and now - remembered[0] < KEY_CACHE_SECONDS:
        if _still_active(remembered[1]):
            return remembered[1]
        _verified.pop(digest, None)
        return None
    api_key = api_key_for_secret(secret)
    if api_key is None:
        _verified.pop(digest, None)
        return None
    if len(_verified) >= KEY_CACHE_SIZE:
        _verified.clear()
    _verified[digest] = (now, api_key)
    return api_key


def remembered_api_key(secret: str) -> ApiKey | None:
    """The key this worker verified for ``secret`` within KEY_CACHE_SECONDS,
    without the "still active" statement: for the quick purchase, whose lock
    statement makes that check itself (and calls forget_api_key if it fails).
    None when not remembered (the general path verifies it then)."""
    remembered = _verified.get(hashlib.sha256(secret.encode()).hexdigest())
    if remembered is not None and time.monotonic() - remembered[0] < KEY_CACHE_SECONDS:
        return remembered[1]
    return None


def bearer_secret(meta) -> str | None:
    """The secret of a plain ``Authorization: Bearer <key>`` header in ``meta``
    (a WSGI environ, request.META), or None for anything else
    (ApiKeyAuthentication judges those)."""
    header = meta.get("HTTP_AUTHORIZATION", "")
    keyword, _sep, secret = header.partition(" ")
    if keyword != "Bearer" or not secret or " " in secret or len(secret) > MAX_KEY_LENGTH or not secret.isascii():
        return None
    return secret


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def _secret(self, request) -> str | None:
        header = get_authorization_header(request).split()
        if header:
            if header[0].lower() != self.keyword.lower().encode():
                raise exceptions.AuthenticationFailed(_("Use “Authorization: Bearer <API key>”."))
            if len(header) != 2:
                raise exceptions.AuthenticationFailed(_("The Authorization header must be “Bearer <API key>”."))
            raw = header[1]
        else:
            raw = request.META.get("HTTP_X_API_KEY", "").strip().encode("latin-1", "replace")
            if not raw:
                return None
        try:
            secret = raw.decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        if len(secret) > MAX_KEY_LENGTH:
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        return secret

    def authenticate(self, request) -> tuple[None, ApiKey] | None:
        secret = self._secret(request)
        if secret is None:
            return None
        api_key = api_key_for(secret)
        if api_key is None:
            # Unknown, revoked and mistyped keys look the same from outside.
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        api_key_touch(api_key=api_key)
        # Times in responses are shown in the merchant's time zone (with their offset).
        timezone.activate(api_key.merchant.tzinfo)
        return (None, api_key)

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when the key is missing.
        return f'{self.keyword} realm="pos"'


class HasApiKey(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "PosApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "lk_<prefix>_<secret>",
            "description": (
                "The location's API key, created by the merchant's owner in the dashboard. "
                "Send it as `Authorization: Bearer <key>` (or as an `X-Api-Key` header)."
            ),
        }
