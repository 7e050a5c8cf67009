"""Pass update pushes over APNs (HTTP/2, certificate auth).

A Wallet push is ``POST /3/device/<pushToken>`` with ``apns-topic: <pass type
identifier>`` and body ``{}``, over TLS whose client certificate is the pass
certificate that signed the pass (wallet spec §3). One ``httpx.AsyncClient`` per
certificate keeps its HTTP/2 connection open and multiplexes many pushes on it.

``send_pushes(cert, topic, tokens)`` is the synchronous entry point for Celery
tasks: it runs on one long-lived event loop in a background thread of the
worker process, so a merchant's connection survives from one task to the next
(Apple asks providers to keep connections open rather than reconnect per push).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import json
import logging
import os
import random
import re
import secrets
import ssl
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from loyalty.wallet.certificates import PassCertificate, load_bundle

logger = logging.getLogger(__name__)

# Push tokens are opaque, but in practice hex; anything else must not reach a URL path.
_TOKEN = re.compile(r"^[0-9A-Za-z]{1,200}$")
_RETRYABLE_STATUSES = {429, 500, 502, 503, 504}
_MAX_CACHED_CLIENTS = 64


class PushStatus(enum.StrEnum):
    OK = "ok"
    # The device no longer wants pushes (410, or 400 BadDeviceToken): drop the registration.
    UNREGISTERED = "unregistered"
    # Still failing after the retries (429, 5xx, network): try again later.
    RETRYABLE = "retryable"
    # Anything else (bad certificate, bad topic…): retrying will not help.
    FAILED = "failed"


@dataclass(frozen=True)
class PushResult:
    token: str
    status: PushStatus
    http_status: int | None = None
    reason: str = ""
    # For 410: when APNs learnt the token stopped being valid. A registration
    # renewed after this moment must be kept.
    unregistered_at: dt.datetime | None = None
    attempts: int = 1
    apns_id: str = ""


@dataclass(frozen=True)
class APNsConfig:
    host: str = "api.push.apple.com"
    port: int = 443
    # PEM bundle trusted for the server instead of the usual CAs (tests).
    ca_file: str = ""
    concurrency: int = 300
    max_attempts: int = 4
    backoff_seconds: float = 0.25
    timeout_seconds: float = 10.0
    max_connections: int = 2

    @classmethod
    def from_settings(cls, **overrides) -> APNsConfig:
        values = {
            "host": settings.APNS_HOST,
            "port": settings.APNS_PORT,
            "ca_file": settings.APNS_CA_FILE or "",
        }
        return cls(**{**values, **overrides})


def tls_context(cert: PassCertificate, config: APNsConfig) -> ssl.SSLContext:
    """TLS context trusting the APNs server and presenting the pass certificate."""
    if config.ca_file:
        context = ssl.create_default_context(cafile=config.ca_file)
    else:
        import certifi

        context = ssl.create_default_context(cafile=certifi.where())
    context.set_alpn_protocols(["h2"])
    # ssl only loads keys from files. The key is written encrypted under a
    # one-off password, and the files are deleted straight after loading.
    password = secrets.token_bytes(24)
    with tempfile.TemporaryDirectory(prefix="apns-") as directory:
        certfile, keyfile = Path(directory) / "cert.pem", Path(directory) / "key.pem"
        certfile.write_bytes(cert.certificate_pem(with_chain=True))
        keyfile.write_bytes(
            cert.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(password),
            )
        )
        os.chmod(keyfile, 0o600)
        context.load_cert_chain(certfile, keyfile, password=password)
    return context


class APNsClient:
    """Pushes for one pass certificate. Use inside one event loop; close with ``aclose()``."""

    def __init__(self, cert: PassCertificate, config: APNsConfig | None = None):
        self.cert = cert
        self.config = config or APNsConfig.from_settings()
        self._http = httpx.AsyncClient(
            http1=False,
            http2=True,
            verify=tls_context(cert, self.config),
            base_url=f"https://{self.config.host}:{self.config.port}",
            timeout=httpx.Timeout(self.config.timeout_seconds),
            limits=httpx.Limits(
                max_connections=self.config.max_connections,
                max_keepalive_connections=self.config.max_connections,
                keepalive_expiry=600,
            ),
        )
        self._semaphore = asyncio.Semaphore(self.config.concurrency)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> APNsClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    async def push(self, token: str, topic: str | None = None) -> PushResult:
        if not _TOKEN.match(token):
            return PushResult(token, PushStatus.UNREGISTERED, reason="MalformedToken", attempts=0)
        topic = topic or self.cert.pass_type_identifier
        attempt = 0
        while True:
            attempt += 1
            async with self._semaphore:
                result = await self._push_once(token, topic)
            if result.status is not PushStatus.RETRYABLE or attempt >= self.config.max_attempts:
                return replace(result, attempts=attempt)
            # Exponential backoff with jitter, so a throttled burst does not come back in step.
            delay = self.config.backoff_seconds * 2 ** (attempt - 1) * (1 + random.random() / 4)
            await asyncio.sleep(delay)

    async def push_many(self, tokens: Iterable[str], topic: str | None = None) -> dict[str, PushResult]:
        unique = list(dict.fromkeys(tokens))
        results = await asyncio.gather(*(self.push(token, topic) for token in unique))
        return dict(zip(unique, results, strict=True))

    async def _push_once(self, token: str, topic: str) -> PushResult:
        try:
            response = await self._http.post(
                f"/3/device/{token}",
                content=b"{}",
                headers={"apns-topic": topic, "content-type": "application/json"},
            )
        except httpx.TransportError as exc:
            return PushResult(token, PushStatus.RETRYABLE, reason=f"{type(exc).__name__}: {exc}")
        return classify(token, response.status_code, response.content, response.headers.get("apns-id", ""))


def classify(token: str, status: int, body: bytes, apns_id: str = "") -> PushResult:
    reason, timestamp = "", None
    if body:
        try:
            payload = json.loads(body)
            reason = str(payload.get("reason", ""))
            timestamp = payload.get("timestamp")
        except (ValueError, AttributeError):
            reason = body[:200].decode("utf-8", "replace")
    if status == 200:
        return PushResult(token, PushStatus.OK, status, apns_id=apns_id)
    if status == 410:
        when = dt.datetime.fromtimestamp(int(timestamp) / 1000, dt.UTC) if isinstance(timestamp, int | float) else None
        return PushResult(token, PushStatus.UNREGISTERED, status, reason or "Unregistered", when, apns_id=apns_id)
    if status == 400 and reason == "BadDeviceToken":
        return PushResult(token, PushStatus.UNREGISTERED, status, reason, apns_id=apns_id)
    if status in _RETRYABLE_STATUSES:
        return PushResult(token, PushStatus.RETRYABLE, status, reason, apns_id=apns_id)
    return PushResult(token, PushStatus.FAILED, status, reason, apns_id=apns_id)


class _PushLoop:
    """One event loop per process, in a daemon thread, owning a small LRU of clients by certificate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self._clients: OrderedDict[tuple, APNsClient] = OrderedDict()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # After a fork (Celery prefork) the parent's thread does not exist here.
            if self._loop is None or self._pid != os.getpid() or not self._loop.is_running():
                loop = asyncio.new_event_loop()
                started = threading.Event()
                thread = threading.Thread(target=self._run, args=(loop, started), name="apns-push-loop", daemon=True)
                thread.start()
                started.wait()
                self._loop, self._pid, self._clients = loop, os.getpid(), OrderedDict()
            return self._loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(started.set)
        loop.run_forever()

    def run(self, coroutine_function, *args):
        loop = self._ensure_loop()
        return asyncio.run_coroutine_threadsafe(coroutine_function(*args), loop).result()

    async def client(self, cert: PassCertificate, config: APNsConfig) -> APNsClient:
        # Only touched from the loop thread, so no lock is needed here.
        key = (cert.fingerprint, config)
        client = self._clients.get(key)
        if client is None:
            client = APNsClient(cert, config)
            self._clients[key] = client
            while len(self._clients) > _MAX_CACHED_CLIENTS:
                _, old = self._clients.popitem(last=False)
                await old.aclose()
        self._clients.move_to_end(key)
        return client

    async def _send(self, cert: PassCertificate, topic: str | None, tokens: list[str], config: APNsConfig):
        client = await self.client(cert, config)
        return await client.push_many(tokens, topic)

    async def _close_all(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            await client.aclose()

    def send(self, cert: PassCertificate, topic: str | None, tokens: list[str], config: APNsConfig):
        return self.run(self._send, cert, topic, tokens, config)

    def close_all(self) -> None:
        if self._loop is not None and self._pid == os.getpid() and self._loop.is_running():
            self.run(self._close_all)


_push_loop = _PushLoop()


def send_pushes(
    cert: PassCertificate | bytes,
    topic: str | None,
    tokens: Iterable[str],
    *,
    config: APNsConfig | None = None,
) -> dict[str, PushResult]:
    """Push to every token; one result per distinct token. ``cert`` may be a stored bundle (decrypted PEM)."""
    if isinstance(cert, bytes | bytearray):
        cert = load_bundle(bytes(cert))
    tokens = list(tokens)
    if not tokens:
        return {}
    results = _push_loop.send(cert, topic, tokens, config or APNsConfig.from_settings())
    counts: dict[str, int] = {}
    for result in results.values():
        counts[result.status.value] = counts.get(result.status.value, 0) + 1
    logger.info("APNs %s: %s", topic or cert.pass_type_identifier, counts)
    return results


def close_connections() -> None:
    """Close every cached APNs connection of this process (tests, worker shutdown)."""
    _push_loop.close_all()
