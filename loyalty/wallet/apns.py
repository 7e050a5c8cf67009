"""Pass update pushes over APNs (HTTP/2, certificate auth).

A Wallet push is ``POST /3/device/<pushToken>`` with ``apns-topic: <pass type
identifier>`` and body ``{}``, over TLS whose client certificate is the pass
certificate that signed the pass (wallet spec §3). One ``APNsClient`` per
certificate keeps its HTTP/2 connections open and multiplexes many pushes on
each. It is a small client on ``h2`` over an asyncio protocol: httpx/httpcore
spent about 5 ms of CPU per push in their per-request machinery, this about
0.7 ms against the fake APNs (``bench/push_fanout.py`` prints both).

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
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from hpack import Encoder
from hpack.hpack import encode_integer
from hpack.table import HeaderTable

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
    # Optional apns-push-type / apns-priority headers; none are sent by default, as before (wallet spec §3).
    push_type: str = ""
    priority: int | None = None

    def __post_init__(self) -> None:
        if self.push_type == "background" and self.priority not in (None, 5):
            raise ValueError("apns-push-type background requires apns-priority 5")
        if self.concurrency < 1 or self.max_connections < 1 or self.max_attempts < 1:
            raise ValueError("concurrency, max_connections and max_attempts must be at least 1")

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


class _Batch:
    """The results of one ``push_many`` call, settled when the last push has its final result."""

    __slots__ = ("future", "remaining", "results")

    def __init__(self, future: asyncio.Future) -> None:
        self.future = future
        self.remaining = 0
        self.results: dict[str, PushResult] = {}


class _Push:
    __slots__ = ("token", "headers", "batch", "attempts", "requeues", "sent_at", "status", "apns_id", "body")

    def __init__(self, token: str, headers: list, batch: _Batch) -> None:
        self.token = token
        self.headers = headers
        self.batch = batch
        self.attempts = 0
        # Sends that the server never processed (GOAWAY, REFUSED_STREAM): retried at once, not counted as attempts.
        self.requeues = 0
        self.sent_at = 0.0
        self.status = 0
        self.apns_id = ""
        self.body = b""


class APNsClient:
    """Pushes for one pass certificate. Use inside one event loop; close with ``aclose()``.

    Up to ``max_connections`` HTTP/2 connections, each carrying as many streams at once as the
    server's SETTINGS_MAX_CONCURRENT_STREAMS allows, and at most ``concurrency`` pushes in flight in
    all. A second connection opens only when the first is full. Requests queued in one turn of the
    event loop leave in one TLS write; the responses of one read are handled in one pass.
    """

    def __init__(self, cert: PassCertificate, config: APNsConfig | None = None):
        self.cert = cert
        self.config = config or APNsConfig.from_settings()
        self._ssl = tls_context(cert, self.config)
        port = self.config.port
        self._authority = (self.config.host if port == 443 else f"{self.config.host}:{port}").encode()
        self._connections: list[_Connection] = []
        self._connecting = 0
        self._connect_task: asyncio.Task | None = None
        self._queue: deque[_Push] = deque()
        self._in_flight = 0
        self._closed = False
        self._extra_headers: list[tuple[bytes, bytes]] = []
        if self.config.push_type:
            self._extra_headers.append((b"apns-push-type", self.config.push_type.encode()))
        if self.config.priority is not None:
            self._extra_headers.append((b"apns-priority", str(self.config.priority).encode()))

    async def aclose(self) -> None:
        self._closed = True
        for connection in list(self._connections):
            connection.close()
        self._connections.clear()

    async def __aenter__(self) -> APNsClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    async def push(self, token: str, topic: str | None = None) -> PushResult:
        return (await self.push_many([token], topic))[token]

    async def push_many(self, tokens: Iterable[str], topic: str | None = None) -> dict[str, PushResult]:
        unique = list(dict.fromkeys(tokens))
        batch = _Batch(asyncio.get_running_loop().create_future())
        common = [
            (b":method", b"POST"),
            (b":scheme", b"https"),
            (b":authority", self._authority),
            (b"apns-topic", (topic or self.cert.pass_type_identifier).encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"2"),
            *self._extra_headers,
        ]
        queue = self._queue
        for token in unique:
            if not _TOKEN.match(token):
                batch.results[token] = PushResult(token, PushStatus.UNREGISTERED, reason="MalformedToken", attempts=0)
                continue
            # The path first: the encoder below sends it as a literal and reuses the rest's encoding.
            headers = [(b":path", b"/3/device/" + token.encode()), *common]
            queue.append(_Push(token, headers, batch))
            batch.remaining += 1
        if batch.remaining:
            self._pump()
            await batch.future
        return {token: batch.results[token] for token in unique}

    # --- scheduling (all on the event loop's thread) ---

    def _pump(self) -> None:
        queue = self._queue
        if not queue:
            return
        if self._closed:
            while queue:
                push = queue.popleft()
                self._settle(push, PushResult(push.token, PushStatus.RETRYABLE, reason="ClientClosed"))
            return
        limit = self.config.concurrency
        while queue and self._in_flight < limit:
            connection = next((c for c in self._connections if c.capacity > 0), None)
            if connection is None:
                self._maybe_connect()
                return
            for _ in range(min(connection.capacity, limit - self._in_flight, len(queue))):
                push = queue.popleft()
                push.attempts += 1
                if not connection.send(push):
                    push.attempts -= 1
                    queue.appendleft(push)
                    break
                self._in_flight += 1

    def _maybe_connect(self) -> None:
        live = sum(1 for c in self._connections if not c.draining)
        if self._connecting == 0 and live < self.config.max_connections:
            self._connecting += 1
            self._connect_task = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        try:
            connection = await asyncio.wait_for(
                _Connection.open(self, self._ssl, self.config.host, self.config.port),
                self.config.timeout_seconds,
            )
        except Exception as exc:
            # Refused, unreachable, TLS refused (certificate), timed out, not HTTP/2, or anything
            # unforeseen: the waiting pushes must get a result either way.
            self._connecting -= 1
            reason = f"ConnectError: {exc or type(exc).__name__}"
            logger.warning("APNs connection to %s:%s failed: %s", self.config.host, self.config.port, reason)
            if not any(c.capacity > 0 for c in self._connections):
                # Nothing to carry the waiting pushes: each has had an attempt.
                queue, self._queue = self._queue, deque()
                for push in queue:
                    push.attempts += 1
                    self._result(push, PushResult(push.token, PushStatus.RETRYABLE, reason=reason))
        else:
            self._connecting -= 1
            if self._closed:
                connection.close()
            else:
                self._connections.append(connection)
        self._pump()

    def _connection_closed(self, connection: _Connection) -> None:
        if connection in self._connections:
            self._connections.remove(connection)
        self._pump()

    def _stream_done(self, push: _Push, result: PushResult) -> None:
        self._in_flight -= 1
        self._result(push, result)

    def _not_processed(self, push: _Push) -> None:
        """The server never processed this send (GOAWAY past it, REFUSED_STREAM): send again soon."""
        self._in_flight -= 1
        push.requeues += 1
        if push.requeues <= self.config.max_attempts:
            push.attempts -= 1
            self._queue.appendleft(push)
        else:
            self._result(push, PushResult(push.token, PushStatus.RETRYABLE, reason="RefusedStream"))

    def _result(self, push: _Push, result: PushResult) -> None:
        if result.status is PushStatus.RETRYABLE and push.attempts < self.config.max_attempts and not self._closed:
            # Exponential backoff with jitter, so a throttled burst does not come back in step.
            delay = self.config.backoff_seconds * 2 ** (push.attempts - 1) * (1 + random.random() / 4)
            asyncio.get_running_loop().call_later(delay, self._requeue, push)
        else:
            self._settle(push, result)

    def _requeue(self, push: _Push) -> None:
        self._queue.append(push)
        self._pump()

    def _settle(self, push: _Push, result: PushResult) -> None:
        if result.attempts != push.attempts:
            result = replace(result, attempts=push.attempts)
        batch = push.batch
        batch.results[push.token] = result
        batch.remaining -= 1
        if batch.remaining == 0 and not batch.future.done():
            batch.future.set_result(None)


_H2_CONFIG = dict(
    client_side=True,
    header_encoding=None,
    # Our headers are fixed and lowercase; APNs's replies are read for :status, apns-id and the body only.
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
    validate_inbound_headers=False,
    normalize_inbound_headers=False,
)
_BODY = b"{}"


class _Connection(asyncio.Protocol):
    """One HTTP/2 connection: an asyncio protocol driving an ``h2`` state machine."""

    def __init__(self, client: APNsClient, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.loop = loop
        self.h2 = _H2Connection(config=h2.config.H2Configuration(**_H2_CONFIG))
        self.streams: dict[int, _Push] = {}
        self.max_streams = 0  # until the server's first SETTINGS
        self.draining = False
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future = loop.create_future()
        self._flush_scheduled = False
        self._blocked: deque[int] = deque()  # streams whose body waits for flow-control credit
        self._watchdog: asyncio.TimerHandle | None = None

    @classmethod
    async def open(cls, client: APNsClient, context: ssl.SSLContext, host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        transport, connection = await loop.create_connection(
            lambda: cls(client, loop), host, port, ssl=context, server_hostname=host
        )
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            transport.abort()
            raise ConnectionError("the server did not agree to HTTP/2")
        try:
            await connection.ready
        except BaseException:
            transport.abort()
            raise
        return connection

    @property
    def capacity(self) -> int:
        if self.draining or self.closed:
            return 0
        return self.max_streams - len(self.streams)

    # --- sending ---

    def send(self, push: _Push) -> bool:
        h2conn = self.h2
        try:
            stream_id = h2conn.get_next_available_stream_id()
            h2conn.send_headers(stream_id, push.headers)
        except h2.exceptions.NoAvailableStreamIDError:
            self._drain()
            return False
        except h2.exceptions.TooManyStreamsError:
            # The server lowered its limit before we saw the new SETTINGS: nothing more until streams finish.
            self.max_streams = len(self.streams)
            return False
        try:
            h2conn.send_data(stream_id, _BODY, end_stream=True)
        except h2.exceptions.FlowControlError:
            self._blocked.append(stream_id)
        self.streams[stream_id] = push
        push.sent_at = self.loop.time()
        push.status, push.body = 0, b""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = self.loop.call_later(self.client.config.timeout_seconds, self._check_timeouts)
        return True

    def _flush(self) -> None:
        self._flush_scheduled = False
        data = self.h2.data_to_send()
        if data and not self.closed:
            self.transport.write(data)

    def _send_blocked(self) -> None:
        blocked = self._blocked
        while blocked:
            stream_id = blocked[0]
            if stream_id not in self.streams:
                blocked.popleft()
                continue
            try:
                self.h2.send_data(stream_id, _BODY, end_stream=True)
            except h2.exceptions.FlowControlError:
                return
            blocked.popleft()

    # --- receiving ---

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.h2.initiate_connection()
        # APNs never pushes; a promised stream would only sit in the stream table.
        self.h2.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0})
        transport.write(self.h2.data_to_send())

    def data_received(self, data: bytes) -> None:
        # What this read causes (acknowledgements, the pushes sent in place of the finished ones)
        # leaves in one write at the end, not in a callback of its own.
        self._flush_scheduled = True
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._fail(f"ProtocolError: {exc}")
            return
        streams = self.streams
        done = self.client._stream_done
        finished = self.h2.finished
        for event in events:
            kind = type(event)
            if kind is h2.events.ResponseReceived:
                push = streams.get(event.stream_id)
                if push is not None:
                    for name, value in event.headers:
                        if name == b":status":
                            push.status = int(value)
                        elif name == b"apns-id":
                            push.apns_id = value.decode("latin-1")
            elif kind is h2.events.DataReceived:
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                push = streams.get(event.stream_id)
                if push is not None:
                    push.body += event.data
            elif kind is h2.events.StreamEnded:
                push = streams.pop(event.stream_id, None)
                finished.append(event.stream_id)
                if self._blocked and event.stream_id in self._blocked:
                    # Answered before its body could be sent: nothing more goes on this stream.
                    self.h2.reset_stream(event.stream_id, h2.errors.ErrorCodes.CANCEL)
                if push is not None:
                    done(push, classify(push.token, push.status, push.body, push.apns_id, attempts=push.attempts))
            elif kind is h2.events.StreamReset:
                push = streams.pop(event.stream_id, None)
                finished.append(event.stream_id)
                if push is None:
                    continue
                if event.error_code == h2.errors.ErrorCodes.REFUSED_STREAM:
                    self.client._not_processed(push)
                else:
                    reason = f"StreamReset: {event.error_code!s}"
                    done(push, PushResult(push.token, PushStatus.RETRYABLE, reason=reason, attempts=push.attempts))
            elif kind is h2.events.WindowUpdated:
                self._send_blocked()
            elif kind is h2.events.RemoteSettingsChanged:
                self.max_streams = min(self.h2.remote_settings.max_concurrent_streams, self.client.config.concurrency)
                if self._blocked:  # a larger INITIAL_WINDOW_SIZE gives credit without a WINDOW_UPDATE
                    self._send_blocked()
                if not self.ready.done():
                    self.ready.set_result(None)
            elif kind is h2.events.ConnectionTerminated:
                self._goaway(event)
        if events:
            self.client._pump()
        self._flush()
        if self.draining and not self.streams:
            self.close()

    def _goaway(self, event: h2.events.ConnectionTerminated) -> None:
        reason = ""
        if event.additional_data:
            try:
                reason = str(json.loads(event.additional_data).get("reason", ""))
            except (ValueError, AttributeError):
                reason = event.additional_data[:200].decode("utf-8", "replace")
        logger.info("APNs GOAWAY (%s%s), last stream %s", event.error_code, f", {reason}" if reason else "",
                    event.last_stream_id)  # fmt: skip
        self.draining = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"GOAWAY {event.error_code!s} {reason}".strip()))
        # Streams after last_stream_id were never processed: they go out again on another connection.
        for stream_id in [s for s in self.streams if s > event.last_stream_id]:
            self.client._not_processed(self.streams.pop(stream_id))

    def _check_timeouts(self) -> None:
        self._watchdog = None
        if self.closed:
            return
        deadline = self.loop.time() - self.client.config.timeout_seconds
        expired = []
        # Streams are kept in the order they were sent.
        for stream_id, push in self.streams.items():
            if push.sent_at > deadline:
                break
            expired.append(stream_id)
        for stream_id in expired:
            push = self.streams.pop(stream_id)
            try:
                self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
            except h2.exceptions.ProtocolError:
                pass
            self.h2.finished.append(stream_id)
            self.client._stream_done(
                push, PushResult(push.token, PushStatus.RETRYABLE, reason="ReadTimeout", attempts=push.attempts)
            )
        if self.streams:
            oldest = next(iter(self.streams.values()))
            delay = oldest.sent_at + self.client.config.timeout_seconds - self.loop.time()
            self._watchdog = self.loop.call_later(max(delay, 0.01), self._check_timeouts)
        if expired:
            self._flush()
            if self.draining and not self.streams:
                self.close()
            self.client._pump()

    # --- closing ---

    def _drain(self) -> None:
        self.draining = True
        if not self.streams:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.draining = True
        try:
            self.h2.close_connection()
            self._flush()
        except h2.exceptions.ProtocolError:
            pass
        if self.transport is not None:
            self.transport.close()

    def _fail(self, reason: str) -> None:
        if self.transport is not None:
            self.transport.abort()
        self._lost(reason)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(f"ConnectionLost: {exc}" if exc else "ConnectionLost: the server closed the connection")

    def _lost(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(reason))
        streams, self.streams = self.streams, {}
        # The server may or may not have acted on these: each has had an attempt, and is retried.
        for push in streams.values():
            self.client._stream_done(
                push, PushResult(push.token, PushStatus.RETRYABLE, reason=reason, attempts=push.attempts)
            )
        self.client._connection_closed(self)


class _Table(HeaderTable):
    """An HPACK table that counts its changes, so an encoded block can be reused while it stands still."""

    version = 0

    def add(self, name: bytes, value: bytes) -> None:
        self.version += 1
        super().add(name, value)

    @property
    def maxsize(self) -> int:
        return HeaderTable.maxsize.fget(self)

    @maxsize.setter
    def maxsize(self, value: int) -> None:
        self.version += 1
        HeaderTable.maxsize.fset(self, value)


class _Encoder(Encoder):
    """HPACK for pushes. The path, unique to each push, is a literal never indexed (RFC 7541 §6.2.3),
    so it does not churn the dynamic table; the shared headers are indexed by the first push, after
    which their encoding is the same bytes every time, kept until the table changes. No Huffman coding:
    in pure Python it costs more CPU than the few bytes it saves."""

    def __init__(self) -> None:
        super().__init__()
        self.header_table = _Table()
        self._cached: tuple[list, int, bytes] | None = None

    def encode(self, headers, huffman: bool = False) -> bytes:
        table = self.header_table
        if table.resized or not isinstance(headers, list) or not headers or headers[0][0] != b":path":
            self._cached = None
            return super().encode(headers, huffman=False)
        common = headers[1:]
        cached = self._cached
        if cached is not None and cached[1] == table.version and cached[0] == common:
            block = cached[2]
        else:
            version = table.version
            block = super().encode(common, huffman=False)
            # Reusable only once encoding them added nothing: every shared header is then indexed.
            self._cached = (common, version, block) if table.version == version else None
        path = headers[0][1]
        size = len(path)
        # 0x14: literal never indexed, name = static entry 4 (":path"); then the length, no Huffman.
        return b"\x14" + (bytes((size,)) if size < 127 else bytes(encode_integer(size, 7))) + path + block


class _H2Connection(h2.connection.H2Connection):
    """h2 counts the open streams by walking all of them (and the closed ones not yet swept) before
    each new stream: O(streams in flight) per push. The client tells it which streams are finished,
    and they are swept here in one go, so the count is just the size of the table."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.encoder = _Encoder()
        self.finished: list[int] = []

    def _receive_goaway_frame(self, frame):
        frames, events = super()._receive_goaway_frame(frame)
        # h2 closes its state machine on GOAWAY, and would then take the server's answers to the
        # streams up to last_stream_id, which it may still finish (RFC 9113 §6.8), for a protocol
        # error. Keep it open to read them; the client opens no new stream on a draining connection.
        self.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
        return frames, events

    @property
    def open_outbound_streams(self) -> int:
        if self.finished:
            streams, closed = self.streams, self._closed_streams
            for stream_id in self.finished:
                stream = streams.pop(stream_id, None)
                if stream is not None:
                    closed[stream_id] = stream.closed_by
            self.finished.clear()
        return len(self.streams)


def classify(token: str, status: int, body: bytes, apns_id: str = "", *, attempts: int = 1) -> PushResult:
    reason, timestamp = "", None
    if body:
        try:
            payload = json.loads(body)
            reason = str(payload.get("reason", ""))
            timestamp = payload.get("timestamp")
        except (ValueError, AttributeError):
            reason = body[:200].decode("utf-8", "replace")
    if status == 200:
        return PushResult(token, PushStatus.OK, status, apns_id=apns_id, attempts=attempts)
    if status == 410:
        when = dt.datetime.fromtimestamp(int(timestamp) / 1000, dt.UTC) if isinstance(timestamp, int | float) else None
        return PushResult(
            token, PushStatus.UNREGISTERED, status, reason or "Unregistered", when, apns_id=apns_id, attempts=attempts
        )
    if status == 400 and reason == "BadDeviceToken":
        return PushResult(token, PushStatus.UNREGISTERED, status, reason, apns_id=apns_id, attempts=attempts)
    if status in _RETRYABLE_STATUSES:
        return PushResult(token, PushStatus.RETRYABLE, status, reason, apns_id=apns_id, attempts=attempts)
    return PushResult(token, PushStatus.FAILED, status, reason, apns_id=apns_id, attempts=attempts)


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
