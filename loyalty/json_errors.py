"""One JSON error shape for the POS API and the till's JSON views.

Every error, whatever raised it, reaches the till as::

    {"error": {"code": "card_not_found", "message": "…", "fields": {"card_number": ["…"]}}}

``code`` is stable and meant for programs, ``message`` is for people (in the
request's language), ``fields`` maps input fields to their problems and is
empty when the error is not about a particular field.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status

from loyalty import exceptions as loyalty_exceptions
from loyalty.json_body import BodyMalformed, BodyTooLarge

# Domain errors are 422 (the request was well formed but breaks a rule) unless
# listed here. "Not found" must look the same for a missing object and for
# another merchant's object.
LOYALTY_ERROR_STATUS: dict[str, int] = {
    "card_not_found": status.HTTP_404_NOT_FOUND,
    "purchase_not_found": status.HTTP_404_NOT_FOUND,
    "duplicate_receipt": status.HTTP_409_CONFLICT,
    "already_enrolled": status.HTTP_409_CONFLICT,
    "idempotency_key_reused": status.HTTP_409_CONFLICT,
}

# Codes DRF gives its own exceptions, renamed where ours read better.
DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


class ApiError(exceptions.APIException):
    """An error raised by the API layer itself (idempotency, headers) with an
    explicit code and status."""

    def __init__(self, message: str, *, code: str, status_code: int, field: str | None = None) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.field = field


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """{"a": {"b": ["x"]}} → {"a.b": ["x"]}; lists of dicts get their index."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            fields.update(_flatten(value, name))
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        for index, value in enumerate(detail):
            fields.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    elif isinstance(detail, list):
        fields[prefix or "non_field_errors"] = [str(item) for item in detail]
    else:
        fields[prefix or "non_field_errors"] = [str(detail)]
    return fields


def _validation_error(exc: exceptions.ValidationError) -> tuple[int, dict[str, Any]]:
    fields = _flatten(exc.detail)
    first_field, first_messages = next(iter(fields.items()), ("", [_("Invalid input.")]))
    if first_field in ("", "non_field_errors"):
        message = first_messages[0]
    else:
        message = f"{first_field}: {first_messages[0]}"
    if len(fields) > 1:
        message = _("%(first)s (and %(count)d more problems)") % {"first": message, "count": len(fields) - 1}
    return status.HTTP_400_BAD_REQUEST, error_body("invalid", message, fields)


def describe_error(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str]] | None:
    """(status, body, headers) for an error the API knows how to explain, or
    None for a bug. Shared by the POS API and the cashier page's JSON views."""
    if isinstance(exc, loyalty_exceptions.LoyaltyError):
        fields = {exc.field: [exc.message]} if exc.field else {}
        http_status = LOYALTY_ERROR_STATUS.get(exc.code, status.HTTP_422_UNPROCESSABLE_ENTITY)
        return http_status, error_body(exc.code, exc.message, fields), {}
    if isinstance(exc, exceptions.ValidationError):
        return (*_validation_error(exc), {})
    if isinstance(exc, RequestDataTooBig):  # Django's own cap, should anything read request.body first
        exc = BodyTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, BodyTooLarge):
        message = _("The request body is too large: at most %(max)d bytes are accepted.") % {"max": exc.max_bytes}
        return status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, error_body("request_too_large", message), {}
    if isinstance(exc, BodyMalformed):
        exc = exceptions.ParseError(str(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, ApiError):
        fields = {exc.field: [str(exc.detail)]} if exc.field else {}
        return exc.status_code, error_body(exc.error_code, str(exc.detail), fields), {}
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        code = DRF_CODES.get(type(exc)) or (exc.get_codes() if isinstance(exc.get_codes(), str) else "error")
        message = str(exc.detail)
        if isinstance(exc, exceptions.ParseError):
            message = _("The request body is not valid JSON: %(detail)s") % {"detail": exc.detail}
        return exc.status_code, error_body(code, message), headers
    return None
