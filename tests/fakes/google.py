"""A fake Google Wallet API and OAuth token endpoint on 127.0.0.1 (wallet spec §6.6).

``POST /token`` takes a JWT-bearer grant, checks the assertion's RS256
signature with the public key of a service account made by
``service_account_info()``, and issues an access token. Under
``/walletobjects/v1`` it serves loyaltyClass and loyaltyObject insert (200, or
409 for a known id), GET, PATCH (objects merged, arrays replaced), PUT, and
``addMessage`` (403 quota on the fourth TEXT_AND_NOTIFY within 24 hours).
Every API call must carry ``Authorization: Bearer <a token it issued>``.
Calls are recorded; ``fail_next`` scripts errors.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

API_PREFIX = "/walletobjects/v1"
NOTIFY_LIMIT = 3
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
DAY = 24 * 60 * 60


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any
    authorization: str | None
    status: int


def merge(target: dict, patch: dict) -> dict:
    """PATCH semantics: objects merge key by key, arrays and scalars are replaced whole."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


class FakeGoogleWallet:
    def __init__(self, *, clock=time.time):
        self.clock = clock
        self.calls: list[Call] = []
        self.classes: dict[str, dict] = {}
        self.objects: dict[str, dict] = {}
        self.notifications: dict[str, list[float]] = {}
        self.tokens_issued: list[str] = []
        self.assertions: list[dict] = []
        self._public_keys: dict[str, str] = {}  # private_key_id → PEM
        self._failures: list[tuple[str, str, int, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    def service_account_info(self, email: str = "wallet@loyalty-test.iam.gserviceaccount.com") -> dict:
        """A fresh service-account key whose token_uri is this fake."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_id = secrets.token_hex(20)
        self._public_keys[key_id] = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        return {
            "type": "service_account",
            "project_id": "loyalty-test",
            "private_key_id": key_id,
            "private_key": key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
            "client_email": email,
            "client_id": "1234567890",
            "token_uri": self.url + "/token",
        }

    def public_key(self, key_id: str) -> str:
        return self._public_keys[key_id]

    def fail_next(self, method: str, path_prefix: str, status: int, body: str = "", times: int = 1) -> None:
        """The next ``times`` calls matching method and path prefix answer ``status``."""
        with self._lock:
            self._failures.extend([(method, path_prefix, status, body)] * times)

    def calls_to(self, method: str, path_prefix: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.startswith(path_prefix)]

    # --- request handling, called from the server threads ---

    def handle(self, method: str, raw_path: str, headers, body: bytes) -> tuple[int, dict]:
        path = urlsplit(raw_path).path
        if method == "POST" and path == "/token":
            return self._token(body)
        authorization = headers.get("Authorization")
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                return self._record(method, path, body, authorization, 400, _error(400, "body is not JSON"))
        token = (authorization or "").removeprefix("Bearer ")
        if not authorization or not authorization.startswith("Bearer ") or token not in self.tokens_issued:
            return self._record(
                method, path, parsed, authorization, 401, _error(401, "Request had invalid credentials.")
            )
        with self._lock:
            for index, (f_method, prefix, status, text) in enumerate(self._failures):
                if f_method == method and path.startswith(prefix):
                    del self._failures[index]
                    return self._record(method, path, parsed, authorization, status, _error(status, text or "scripted"))
            status, payload = self._api(method, path, parsed)
        return self._record(method, path, parsed, authorization, status, payload)

    def _record(self, method, path, body, authorization, status, payload) -> tuple[int, dict]:
        self.calls.append(Call(method, path, body, authorization, status))
        return status, payload

    def _token(self, body: bytes) -> tuple[int, dict]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type"}
        assertion = form.get("assertion", "")
        try:
            header = jwt.decode_header(assertion)
            # google-auth always addresses the assertion to Google's endpoint, as Google expects.
            claims = jwt.decode(
                assertion, certs=self._public_keys, audience=[GOOGLE_TOKEN_AUDIENCE, self.url + "/token"]
            )
        except (ValueError, KeyError) as exc:
            self.calls.append(Call("POST", "/token", {"error": str(exc)}, None, 400))
            return 400, {"error": "invalid_grant", "error_description": f"Invalid JWT Signature: {exc}"}
        if header.get("kid") not in self._public_keys or "wallet_object.issuer" not in claims.get("scope", ""):
            return 400, {"error": "invalid_scope"}
        self.assertions.append(claims)
        token = "fake-" + secrets.token_urlsafe(24)
        self.tokens_issued.append(token)
        self.calls.append(Call("POST", "/token", {"iss": claims.get("iss")}, None, 200))
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def _api(self, method: str, path: str, body: Any) -> tuple[int, dict]:
        match = re.fullmatch(API_PREFIX + r"/(loyaltyClass|loyaltyObject)(?:/([^/]+))?(/addMessage)?", path)
        if not match:
            return 404, _error(404, "no such endpoint")
        kind, resource_id, add_message = match.group(1), match.group(2), match.group(3)
        store = self.classes if kind == "loyaltyClass" else self.objects
        resource_id = unquote(resource_id) if resource_id else None
        if resource_id is None:
            if method != "POST":
                return 405, _error(405, "method not allowed")
            if not isinstance(body, dict) or not body.get("id"):
                return 400, _error(400, "id is required")
            if body["id"] in store:
                return 409, _error(409, f"Resource already exists: {body['id']}")
            if kind == "loyaltyObject" and body.get("classId") not in self.classes:
                return 400, _error(400, f"class {body.get('classId')} not found")
            store[body["id"]] = {"kind": f"walletobjects#{kind}", **copy.deepcopy(body)}
            return 200, store[body["id"]]
        if resource_id not in store:
            return 404, _error(404, f"Resource not found: {resource_id}")
        if add_message:
            if method != "POST":
                return 405, _error(405, "method not allowed")
            return self._add_message(store[resource_id], resource_id, (body or {}).get("message") or {})
        if method == "GET":
            return 200, store[resource_id]
        if method == "PATCH":
            return 200, merge(store[resource_id], body or {})
        if method == "PUT":
            store[resource_id] = {"kind": f"walletobjects#{kind}", **copy.deepcopy(body or {})}
            return 200, store[resource_id]
        return 405, _error(405, "method not allowed")

    def _add_message(self, resource: dict, resource_id: str, message: dict) -> tuple[int, dict]:
        if message.get("messageType") == "TEXT_AND_NOTIFY":
            now = self.clock()
            recent = [t for t in self.notifications.get(resource_id, []) if now - t < DAY]
            if len(recent) >= NOTIFY_LIMIT:
                return 403, _error(
                    403,
                    "Quota exceeded: the maximum number of notifications for this object in 24 hours was reached.",
                    reason="quotaExceeded",
                )
            self.notifications[resource_id] = [*recent, now]
        resource["messages"] = [*resource.get("messages", []), copy.deepcopy(message)]
        return 200, {"resource": resource}

    # --- lifecycle ---

    def start(self) -> FakeGoogleWallet:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = fake.handle(self.command, self.path, self.headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-google", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeGoogleWallet:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _error(code: int, message: str, *, reason: str = "") -> dict:
    error: dict[str, Any] = {"code": code, "message": message}
    if reason:
        error["errors"] = [{"reason": reason, "message": message}]
    return {"error": error}
