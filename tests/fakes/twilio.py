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
import json
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

import httpx


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


class FakeTwilio:
    def __init__(self, *, account_sid: str = "AC" + "0" * 32, auth_token: str = "secret-token"):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[Sms] = []
        self.invalid: set[str] = set()
        self.fail_next: list[int] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                expected = "Basic " + base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                if self.path != f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json":
                    return self._reply(404, {"code": 20404, "message": "Not found", "status": 404})
                with fake.lock:
                    failure = fake.fail_next.pop(0) if fake.fail_next else None
                if failure:
                    return self._reply(failure, {"code": 20500, "message": "Internal error", "status": failure})
                if form.get("To") in fake.invalid:
                    return self._reply(
                        400,
                        {
                            "code": 21211,
                            "message": f"The 'To' number {form['To']} is not a valid phone number.",
                            "more_info": "https://www.twilio.com/docs/errors/21211",
                            "status": 400,
                        },
                    )
                sms = Sms(
                    "SM" + secrets.token_hex(16),
                    form["To"],
                    form.get("From", ""),
                    form.get("Body", ""),
                    form.get("StatusCallback", ""),
                )
                with fake.lock:
                    fake.messages.append(sms)
                return self._reply(
                    201,
                    {
                        "sid": sms.sid,
                        "status": "queued",
                        "to": sms.to,
                        "from": sms.sender,
                        "body": sms.body,
                        "error_code": None,
                        "error_message": None,
                    },
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTwilio:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

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
