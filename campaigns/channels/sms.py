"""The SMS channel: an HTTP gateway speaking Twilio's Messages API
(``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded ``To``, ``From``,
``Body``, ``StatusCallback``; HTTP Basic auth with the account SID and auth token). ``From`` is
the sender name (an alphanumeric sender ID where the country allows it). The base URL is a
setting, so any Twilio-compatible gateway (or the loopback fake in tests) can be used.

Twilio answers 201 with ``{"sid", "status"}``; a refusal is a 4xx with ``{"code", "message"}``
(e.g. 21211 invalid number, 21610 the recipient replied STOP); 429 and 5xx are transient.
Delivery reports come back to ``StatusCallback`` (``campaigns.views.sms_status``), signed with
``X-Twilio-Signature`` (``signature()`` below).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

import httpx
from django.conf import settings

from .base import Channel, ChannelClient, OutgoingMessage, SendResult, TransientChannelError

# Twilio codes meaning the number cannot take our messages at all.
NUMBER_OFF_CODES = {21211, 21610, 21614}


def signature(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """Twilio's request signature: HMAC-SHA1 over the full URL followed by each POST parameter's
    name and value, sorted by name; base64."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class SmsChannel(ChannelClient):
    name = Channel.SMS

    def __init__(self, *, status_callback_url: str = ""):
        self.base_url = settings.SMS_GATEWAY_URL.rstrip("/")
        self.account_sid = settings.SMS_ACCOUNT_SID
        self.auth_token = settings.SMS_AUTH_TOKEN
        self.status_callback_url = status_callback_url
        self.http: httpx.Client | None = None

    def open(self) -> None:
        self.http = httpx.Client(auth=(self.account_sid, self.auth_token), timeout=10.0)

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
            self.http = None

    def send(self, message: OutgoingMessage) -> SendResult:
        if not (self.base_url and self.account_sid and self.auth_token):
            return SendResult.refused("SMS gateway not configured")
        if self.http is None:
            self.open()
        assert self.http is not None
        form = {"To": message.address, "From": message.sender_name or settings.SMS_DEFAULT_SENDER, "Body": message.text}
        if self.status_callback_url:
            form["StatusCallback"] = self.status_callback_url
        url = f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        try:
            response = self.http.post(url, data=form)
        except httpx.HTTPError as exc:
            raise TransientChannelError(f"SMS gateway: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After")
            raise TransientChannelError(
                f"SMS gateway {response.status_code}", retry_after=float(retry_after) if retry_after else None
            )
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code in (200, 201):
            return SendResult.sent(str(body.get("sid", "")))
        code = body.get("code")
        reason = f"{code} {body.get('message', '')}".strip() if code else f"HTTP {response.status_code}"
        return SendResult.refused(reason, channel_off=code in NUMBER_OFF_CODES)
