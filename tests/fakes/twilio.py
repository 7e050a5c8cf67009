"""A fake SMS gateway speaking Twilio's Messages API on 127.0.0.1.

``POST /2010-04-01/Accounts/{sid}/Messages.json`` with HTTP Basic auth (account SID + auth token)
and form fields To, From, Body, StatusCallback → 201 ``{"sid", "status": "queued", ...}``.
Numbers in ``invalid`` get Twilio's 400 ``{"code": 21211, ...}``; ``fail_next`` scripts 5xx/429.
``report(sid, status)`` posts the delivery report to the message's StatusCallback, signed with
X-Twilio-Signature the way Twilio signs it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

import httpx

from tests.fakes.http import JsonFakeServer


@dataclass
class Sms:
    sid: str
    to: str
    sender: str
    body: str
    status_callback: str


def twilio_signature(url: str, params: dict[str, str], token: str) -> str:
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


class FakeTwilio(JsonFakeServer):
    def __init__(self, *, account_sid: str = "AC" + "0" * 32, auth_token: str = "secret-token"):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[Sms] = []
        self.invalid: set[str] = set()
        super().__init__()

    def handle_post(self, path: str, headers, body: bytes) -> tuple[int, dict]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        if path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return 404, {"code": 20404, "message": "Not found", "status": 404}
        failure = self.take_failure()
        if failure:
            return failure, {"code": 20500, "message": "Internal error", "status": failure}
        if form.get("To") in self.invalid:
            return 400, {
                "code": 21211,
                "message": f"The 'To' number {form['To']} is not a valid phone number.",
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400,
            }
        sms = Sms(
            "SM" + secrets.token_hex(16),
            form["To"],
            form.get("From", ""),
            form.get("Body", ""),
            form.get("StatusCallback", ""),
        )
        with self.lock:
            self.messages.append(sms)
        return 201, {
            "sid": sms.sid,
            "status": "queued",
            "to": sms.to,
            "from": sms.sender,
            "body": sms.body,
            "error_code": None,
            "error_message": None,
        }

    def report(self, sid: str, status: str, *, error_code: str = "", client=None, token: str | None = None):
        """Post Twilio's status callback for a message (``client``: a Django test client, or httpx)."""
        sms = next(m for m in self.messages if m.sid == sid)
        params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": self.account_sid, "To": sms.to}
        if error_code:
            params["ErrorCode"] = error_code
        signature = twilio_signature(sms.status_callback, params, token or self.auth_token)
        if client is not None:
            return client.post(
                sms.status_callback,
                urlencode(params),
                content_type="application/x-www-form-urlencoded",
                headers={"X-Twilio-Signature": signature},
            )
        return httpx.post(sms.status_callback, data=params, headers={"X-Twilio-Signature": signature})
