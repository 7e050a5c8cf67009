"""POS API authentication: a location's API key, resolved once at the edge.

The till sends ``Authorization: Bearer lk_…`` (or ``X-Api-Key: lk_…``). The key
decides the merchant and the location; views read them from ``request.auth``
and pass them to services as ``merchant=`` / ``location=`` / ``api_key=``.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from merchants.models import ApiKey
from merchants.services import api_key_for_secret, api_key_touch

# Keys are "lk_" + 8 hex + "_" + 43 urlsafe characters; anything much longer is junk.
MAX_KEY_LENGTH = 200


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
        api_key = api_key_for_secret(secret)
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
