"""Google Wallet loyalty cards: class/object JSON from plain data, the REST client, save links.

The flow (wallet spec §4): insert the merchant's LoyaltyClass, insert the
customer's LoyaltyObject, then hand out a *skinny* save link whose JWT names
only the object id (so it stays far below the 1800-character limit). Updates
patch the object; messages go through ``addMessage``, notifying at most
``MAX_NOTIFICATIONS_PER_DAY`` times per object per 24 hours.

Base URLs come from settings (GOOGLE_WALLET_API_URL, GOOGLE_WALLET_SAVE_URL);
the OAuth token endpoint is the key's own ``token_uri``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import google.auth.exceptions
import requests
from django.conf import settings
from google.auth import crypt, jwt
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

logger = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
MAX_NOTIFICATIONS_PER_DAY = 3
SAVE_LINK_MAX_LENGTH = 1800
BARCODE_TYPES = {"qr": "QR_CODE", "pdf417": "PDF_417", "code128": "CODE_128", "aztec": "AZTEC"}
_SUFFIX = re.compile(r"^[A-Za-z0-9._-]+$")
_ISSUER = re.compile(r"^\d+$")
_RETRYABLE_STATUSES = {429, 500, 502, 503, 504}

MessageType = Literal["TEXT", "TEXT_AND_NOTIFY"]


class GoogleWalletError(Exception):
    def __init__(self, message: str, *, status: int | None = None, body: str = ""):
        super().__init__(message)
        self.status = status
        self.body = body


class RetryableError(GoogleWalletError):
    """429, 5xx or a network failure: worth retrying later (with backoff)."""


class QuotaExceeded(GoogleWalletError):
    """403 mentioning quota, e.g. the fourth notifying message for an object within 24 hours."""


class NotFound(GoogleWalletError):
    pass


class CredentialsError(GoogleWalletError):
    """The service-account key was refused, or is not a key at all."""


def resource_id(issuer_id: str, suffix: str) -> str:
    """``<issuerId>.<suffix>``, the id format Google requires for classes and objects."""
    if not _ISSUER.match(str(issuer_id)):
        raise ValueError(f"issuer id must be digits, got {issuer_id!r}")
    if not _SUFFIX.match(suffix):
        raise ValueError(f"id suffix may only hold letters, digits, '.', '_' and '-', got {suffix!r}")
    return f"{issuer_id}.{suffix}"


# --- Resources ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoyaltyClassContent:
    class_id: str
    issuer_name: str
    program_name: str
    logo_url: str
    background_color: str = "#ffffff"
    hero_url: str = ""
    language: str = "ru"
    account_name_label: str = ""
    account_id_label: str = ""
    rewards_tier_label: str = ""
    terms: str = ""
    website: str = ""
    phone: str = ""
    callback_url: str = ""
    review_status: str = "UNDER_REVIEW"


@dataclass(frozen=True)
class LoyaltyObjectContent:
    object_id: str
    class_id: str
    barcode_value: str
    account_id: str = ""
    account_name: str = ""
    points: int | None = None
    points_label: str = ""
    stamps: int | None = None
    stamps_goal: int | None = None
    stamps_label: str = ""
    tier: str = ""
    tier_label: str = ""
    barcode_type: str = "qr"
    barcode_alt_text: str = ""
    hero_url: str = ""
    # A blocked card is INACTIVE: Google moves it to "Expired passes".
    active: bool = True
    language: str = "ru"


def _localized(value: str, language: str) -> dict:
    return {"defaultValue": {"language": language, "value": value}}


def _image(uri: str, description: str, language: str) -> dict:
    return {"sourceUri": {"uri": uri}, "contentDescription": _localized(description, language)}


def _hex_color(value: str) -> str:
    text = value.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    if not re.fullmatch(r"[0-9a-fA-F]{6}", text):
        raise ValueError(f"colour must be #rrggbb, got {value!r}")
    return "#" + text.lower()


def loyalty_class_json(content: LoyaltyClassContent) -> dict[str, Any]:
    lang = content.language
    data: dict[str, Any] = {
        "id": content.class_id,
        "issuerName": content.issuer_name,
        "programName": content.program_name,
        "programLogo": _image(content.logo_url, content.program_name, lang),
        "hexBackgroundColor": _hex_color(content.background_color),
        "reviewStatus": content.review_status,
    }
    if content.hero_url:
        data["heroImage"] = _image(content.hero_url, content.program_name, lang)
    for key, value in (
        ("accountNameLabel", content.account_name_label),
        ("accountIdLabel", content.account_id_label),
        ("rewardsTierLabel", content.rewards_tier_label),
    ):
        if value:
            data[key] = value
    if content.terms:
        data["textModulesData"] = [{"id": "terms", "header": "", "body": content.terms}]
    uris = []
    if content.website:
        uris.append({"id": "website", "uri": content.website, "description": content.website})
    if content.phone:
        uris.append({"id": "phone", "uri": "tel:" + re.sub(r"[^\d+]", "", content.phone), "description": content.phone})
    if uris:
        data["linksModuleData"] = {"uris": uris}
    if content.callback_url:
        data["callbackOptions"] = {"url": content.callback_url}
    return data


def loyalty_object_json(content: LoyaltyObjectContent) -> dict[str, Any]:
    if content.barcode_type not in BARCODE_TYPES:
        raise ValueError(f"barcode type must be one of {sorted(BARCODE_TYPES)}")
    barcode: dict[str, Any] = {"type": BARCODE_TYPES[content.barcode_type], "value": content.barcode_value}
    if content.barcode_alt_text:
        barcode["alternateText"] = content.barcode_alt_text
    data: dict[str, Any] = {
        "id": content.object_id,
        "classId": content.class_id,
        "state": "ACTIVE" if content.active else "INACTIVE",
        "barcode": barcode,
    }
    if content.account_id:
        data["accountId"] = content.account_id
    if content.account_name:
        data["accountName"] = content.account_name
    if content.stamps is not None:
        value = f"{content.stamps} / {content.stamps_goal}" if content.stamps_goal else str(content.stamps)
        data["loyaltyPoints"] = {"label": content.stamps_label or "Stamps", "balance": {"string": value}}
    elif content.points is not None:
        data["loyaltyPoints"] = {"label": content.points_label or "Points", "balance": {"int": int(content.points)}}
    if content.tier:
        data["secondaryLoyaltyPoints"] = {"label": content.tier_label or "Tier", "balance": {"string": content.tier}}
    if content.hero_url:
        data["heroImage"] = _image(content.hero_url, content.account_name or content.object_id, content.language)
    return data


@dataclass(frozen=True)
class WalletMessage:
    id: str
    header: str
    body: str


def notification_message_type(sent_last_24h: int, *, limit: int = MAX_NOTIFICATIONS_PER_DAY) -> MessageType:
    """TEXT_AND_NOTIFY while the object's 24-hour budget lasts, then TEXT (shown, no notification)."""
    return "TEXT_AND_NOTIFY" if sent_last_24h < limit else "TEXT"


# --- REST client --------------------------------------------------------------------------


class GoogleWalletClient:
    """One issuer's service account. Holds a requests session, so reuse it for many calls."""

    def __init__(self, service_account_info: Mapping[str, Any], *, api_url: str | None = None, timeout: float = 10.0):
        try:
            credentials = service_account.Credentials.from_service_account_info(
                dict(service_account_info), scopes=[SCOPE]
            )
        except (ValueError, KeyError) as exc:
            raise CredentialsError(f"not a usable service-account key: {exc}") from exc
        self.info = dict(service_account_info)
        self.api_url = (api_url or settings.GOOGLE_WALLET_API_URL).rstrip("/")
        self.timeout = timeout
        self.session = AuthorizedSession(credentials)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> GoogleWalletClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # classes
    def insert_class(self, body: Mapping[str, Any]) -> dict:
        return self._insert_or_patch("loyaltyClass", body)

    def get_class(self, class_id: str) -> dict:
        return self._request("GET", f"loyaltyClass/{quote(class_id, safe='')}")

    def patch_class(self, class_id: str, body: Mapping[str, Any]) -> dict:
        return self._request("PATCH", f"loyaltyClass/{quote(class_id, safe='')}", body)

    # objects
    def insert_object(self, body: Mapping[str, Any]) -> dict:
        return self._insert_or_patch("loyaltyObject", body)

    def get_object(self, object_id: str) -> dict:
        return self._request("GET", f"loyaltyObject/{quote(object_id, safe='')}")

    def patch_object(self, object_id: str, body: Mapping[str, Any]) -> dict:
        return self._request("PATCH", f"loyaltyObject/{quote(object_id, safe='')}", body)

    def add_message(self, object_id: str, message: WalletMessage, *, message_type: MessageType) -> dict:
        body = {
            "message": {"id": message.id, "header": message.header, "body": message.body, "messageType": message_type}
        }
        return self._request("POST", f"loyaltyObject/{quote(object_id, safe='')}/addMessage", body)

    def send_message(self, object_id: str, message: WalletMessage, *, sent_last_24h: int) -> MessageType:
        """Add a message within the daily notification budget; returns the type actually used.

        ``sent_last_24h`` is the caller's count of notifying messages and updates
        for this card. If Google still answers with a quota error (its count
        differs from ours), the message is added silently instead.
        """
        message_type = notification_message_type(sent_last_24h)
        try:
            self.add_message(object_id, message, message_type=message_type)
        except QuotaExceeded:
            if message_type == "TEXT":
                raise
            logger.info("Google Wallet notification quota reached for %s; sending as TEXT", object_id)
            message_type = "TEXT"
            self.add_message(object_id, message, message_type=message_type)
        return message_type

    def save_link(self, object_ids: Iterable[str], *, origins: Iterable[str] = ()) -> str:
        return save_link(self.info, object_ids, origins=origins)

    def _insert_or_patch(self, kind: str, body: Mapping[str, Any]) -> dict:
        try:
            return self._request("POST", kind, body)
        except GoogleWalletError as exc:
            if exc.status != 409:
                raise
        # The id exists already (a retry, or a second enrolment): make it match.
        return self._request("PATCH", f"{kind}/{quote(str(body['id']), safe='')}", body)

    def _request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict:
        url = f"{self.api_url}/{path}"
        try:
            response = self.session.request(method, url, json=body, timeout=self.timeout)
        except google.auth.exceptions.RefreshError as exc:
            raise CredentialsError(f"Google refused the service-account key: {exc}") from exc
        except (google.auth.exceptions.TransportError, requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableError(f"{method} {path}: {exc}") from exc
        if response.status_code < 300:
            return response.json() if response.content else {}
        text = response.text[:2000]
        message = f"{method} {path}: {response.status_code} {text[:300]}"
        status = response.status_code
        if status == 404:
            raise NotFound(message, status=status, body=text)
        if status == 403 and "quota" in text.lower():
            raise QuotaExceeded(message, status=status, body=text)
        if status in _RETRYABLE_STATUSES:
            raise RetryableError(message, status=status, body=text)
        if status == 401:
            raise CredentialsError(message, status=status, body=text)
        raise GoogleWalletError(message, status=status, body=text)


def save_link(
    service_account_info: Mapping[str, Any],
    object_ids: Iterable[str],
    *,
    origins: Iterable[str] = (),
    save_url: str | None = None,
    now: int | None = None,
) -> str:
    """A skinny "Add to Google Wallet" link for objects already inserted through the API."""
    ids = list(object_ids)
    if not ids:
        raise ValueError("a save link needs at least one object id")
    signer = crypt.RSASigner.from_service_account_info(dict(service_account_info))
    claims = {
        "iss": service_account_info["client_email"],
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(now if now is not None else time.time()),
        "origins": list(origins),
        "payload": {"loyaltyObjects": [{"id": object_id} for object_id in ids]},
    }
    token = jwt.encode(signer, claims).decode()
    base = save_url or settings.GOOGLE_WALLET_SAVE_URL
    url = base.rstrip("/") + "/" + token
    if len(url) > SAVE_LINK_MAX_LENGTH:
        raise ValueError(f"save link is {len(url)} characters; browsers cut them at {SAVE_LINK_MAX_LENGTH}")
    return url
