"""A fake APNs: HTTP/2 over TLS (ALPN h2) on 127.0.0.1, demanding a client certificate.

Hypercorn serves a small ASGI app in a background thread. Its server
certificate comes from a trustme CA (``server_ca_file`` is what clients must
trust); client certificates must chain to ``client_ca_file`` (the throwaway
PKI's root and WWDR), like the real service requires a pass certificate.

Each request is recorded (HTTP version, path, apns-topic, body, client address);
each TLS handshake records the client certificate's subject. Replies can be
scripted per token; the last scripted reply repeats, and unscripted tokens get 200.
A scripted ``Reply(drop=True)`` cuts the TCP connection that carried the request
instead of answering. ``max_concurrent_streams`` is the SETTINGS_MAX_CONCURRENT_STREAMS
the server announces, and ``peak_streams`` the most requests it had in progress at
once on each connection; ``keep_alive_max_requests`` makes hypercorn send GOAWAY
once a connection has carried that many requests.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import hypercorn.asyncio.run
import trustme
from hypercorn.asyncio import serve
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.config import Config


@dataclass(frozen=True)
class Reply:
    status: int = 200
    reason: str = ""
    # 410 only: milliseconds since the epoch.
    timestamp: int | None = None
    delay: float = 0.0
    # Cut the connection (TCP abort) after the delay instead of answering.
    drop: bool = False
    # Held until release(): lets a test see how many requests are in flight at once.
    hold: bool = False


OK = Reply()


def unregistered(timestamp_ms: int | None = None) -> Reply:
    return Reply(410, "Unregistered", timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))


BAD_DEVICE_TOKEN = Reply(400, "BadDeviceToken")
TOO_MANY_REQUESTS = Reply(429, "TooManyRequests")
INTERNAL_SERVER_ERROR = Reply(500, "InternalServerError")


@dataclass(frozen=True)
class Recorded:
    http_version: str
    method: str
    path: str
    topic: str | None
    body: bytes
    client: tuple[str, int]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def token(self) -> str:
        return self.path.removeprefix("/3/device/")


def _quiet_tls_teardown(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    # Clients hanging up mid-TLS (close_notify races, refused certificates) and
    # connections cut on purpose (Reply(drop=True)) are normal here; anything
    # else is still reported.
    exc = context.get("exception")
    group = getattr(exc, "exceptions", None)
    errors = group if group is not None else [exc]
    if errors and all(isinstance(e, ssl.SSLError | ConnectionError | asyncio.CancelledError) for e in errors):
        return
    loop.default_exception_handler(context)


def _server_certificate(workdir: Path, ca_file: Path) -> tuple[Path, Path]:
    """A server certificate for 127.0.0.1 from a fresh trustme CA, whose certificate goes to ``ca_file``."""
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    workdir.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(ca_file))
    keyfile, certfile = workdir / "fake-apns-key.pem", workdir / "fake-apns-cert.pem"
    server_cert.private_key_pem.write_to_path(str(keyfile))
    server_cert.cert_chain_pems[0].write_to_path(str(certfile))
    for extra in server_cert.cert_chain_pems[1:]:
        extra.write_to_path(str(certfile), append=True)
    return certfile, keyfile


class _TrackedTCPServer(TCPServer):
    """hypercorn's connection handler, made known to the fake that configured it (so it can cut connections)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fake = getattr(self.config, "fake", None)
        if fake is not None:
            fake._writers[tuple(self.writer.get_extra_info("peername")[:2])] = self.writer


hypercorn.asyncio.run.TCPServer = _TrackedTCPServer


class FakeAPNs:
    def __init__(
        self,
        *,
        client_ca_file: Path,
        workdir: Path,
        default: Reply = OK,
        max_concurrent_streams: int = 1000,
        keep_alive_max_requests: int = 10**9,
    ):
        self.client_ca_file = Path(client_ca_file)
        self.workdir = Path(workdir)
        self.default = default
        self.max_concurrent_streams = max_concurrent_streams
        self.keep_alive_max_requests = keep_alive_max_requests
        self.requests: list[Recorded] = []
        self.handshakes: list[dict] = []
        # Per client connection: requests in progress now, and the most there ever were at once.
        self._in_progress: dict[tuple[str, int], int] = {}
        self.peak_streams: dict[tuple[str, int], int] = {}
        self._writers: dict[tuple[str, int], asyncio.StreamWriter] = {}
        self._scripts: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        # Requests received and not yet answered, and the most seen at once.
        self.in_flight = 0
        self.max_in_flight = 0
        self._in_flight_changed = threading.Condition(self._lock)
        self._released: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.port = 0
        self.host = "127.0.0.1"
        self.server_ca_file = self.workdir / "fake-apns-ca.pem"

    # --- scripting and inspection ---

    def script(self, token: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[token] = list(replies)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.handshakes.clear()
            self._scripts.clear()
            self.peak_streams.clear()
            self.max_in_flight = self.in_flight
        self._set_released(False)

    def release(self) -> None:
        """Answer the held requests (and any later ones at once)."""
        self._set_released(True)

    def _set_released(self, released: bool) -> None:
        if self._loop is None or self._released is None:
            return
        done = threading.Event()

        def apply():
            self._released.set() if released else self._released.clear()
            done.set()

        self._loop.call_soon_threadsafe(apply)
        done.wait(10)

    def release_when_in_flight(self, count: int, *, timeout: float = 60) -> list[int]:
        """From a helper thread: wait until ``count`` requests are in flight at once, then release them.
        Returns a list that receives the number seen once that happened (or the timeout ended the wait)."""
        seen: list[int] = []

        def run():
            try:
                seen.append(self.wait_for_in_flight(count, timeout=timeout))
            finally:
                self.release()

        threading.Thread(target=run, name="fake-apns-release", daemon=True).start()
        return seen

    def wait_for_in_flight(self, count: int, *, timeout: float = 60) -> int:
        """Block until ``count`` requests are in flight at once (held or delayed); returns the number seen.
        The timeout only ends a test that would otherwise hang."""
        with self._in_flight_changed:
            self._in_flight_changed.wait_for(lambda: self.in_flight >= count, timeout)
            return self.in_flight

    def requests_for(self, token: str) -> list[Recorded]:
        return [r for r in self.requests if r.token == token]

    @property
    def connections(self) -> set[tuple[str, int]]:
        return {r.client for r in self.requests}

    def _next_reply(self, token: str) -> Reply:
        with self._lock:
            queue = self._scripts.get(token)
            if not queue:
                return self.default
            return queue.pop(0) if len(queue) > 1 else queue[0]

    # --- the ASGI app ---

    async def app(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        record = Recorded(
            http_version=scope["http_version"],
            method=scope["method"],
            path=scope["path"],
            topic=headers.get("apns-topic"),
            body=body,
            client=tuple(scope["client"]),
            headers=headers,
        )
        self.requests.append(record)
        client = record.client
        self._in_progress[client] = self._in_progress.get(client, 0) + 1
        self.peak_streams[client] = max(self.peak_streams.get(client, 0), self._in_progress[client])
        try:
            await self._answer(record, body, send)
        finally:
            self._in_progress[client] -= 1

    async def _answer(self, record: Recorded, body: bytes, send) -> None:
        if record.method != "POST":
            return await self._respond(send, Reply(405, "MethodNotAllowed"), record)
        if not record.path.startswith("/3/device/") or not record.token:
            return await self._respond(send, Reply(404, "BadPath"), record)
        if not record.topic:
            return await self._respond(send, Reply(400, "MissingTopic"), record)
        try:
            json.loads(body)
        except ValueError:
            return await self._respond(send, Reply(400, "PayloadEmpty"), record)
        reply = self._next_reply(record.token)
        with self._in_flight_changed:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._in_flight_changed.notify_all()
        try:
            if reply.hold:
                await self._released.wait()
            if reply.delay:
                await asyncio.sleep(reply.delay)
        finally:
            with self._in_flight_changed:
                self.in_flight -= 1
                self._in_flight_changed.notify_all()
        if reply.drop:
            writer = self._writers.get(record.client)
            if writer is not None:
                writer.transport.abort()
            return
        await self._respond(send, reply, record)

    @staticmethod
    async def _respond(send, reply: Reply, record: Recorded) -> None:
        payload = b""
        if reply.status != 200:
            data = {"reason": reply.reason}
            if reply.timestamp is not None:
                data["timestamp"] = reply.timestamp
            payload = json.dumps(data).encode()
        # Like APNs: the request's apns-id echoed, or a new one.
        headers = [(b"apns-id", (record.headers.get("apns-id") or str(uuid.uuid4()).upper()).encode())]
        if payload:
            headers.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    # --- lifecycle ---

    def _config(self, fd: int) -> Config:
        fake = self

        class RecordingConfig(Config):
            def create_ssl_context(self):
                context = super().create_ssl_context()

                class RecordingSSLObject(ssl.SSLObject):
                    def do_handshake(self):
                        super().do_handshake()
                        peer = self.getpeercert() or {}
                        subject = {k: v for rdn in peer.get("subject", ()) for k, v in rdn}
                        fake.handshakes.append(subject)

                context.sslobject_class = RecordingSSLObject
                return context

        certfile, keyfile = _server_certificate(self.workdir, self.server_ca_file)

        config = RecordingConfig()
        config.fake = self
        config.bind = [f"fd://{fd}"]
        config.certfile = str(certfile)
        config.keyfile = str(keyfile)
        config.ca_certs = str(self.client_ca_file)
        config.verify_mode = ssl.CERT_REQUIRED
        config.alpn_protocols = ["h2"]
        config.h2_max_concurrent_streams = self.max_concurrent_streams
        config.graceful_timeout = 1
        # APNs keeps a connection for as many pushes as the provider sends.
        config.keep_alive_max_requests = self.keep_alive_max_requests
        config.keep_alive_timeout = 3600
        config.accesslog = None
        config.errorlog = None
        config.loglevel = "WARNING"
        return config

    def start(self) -> FakeAPNs:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        config = self._config(sock.detach())
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.set_exception_handler(_quiet_tls_teardown)
            self._loop = loop
            self._stop = asyncio.Event()
            self._released = asyncio.Event()
            loop.call_soon(ready.set)
            try:
                loop.run_until_complete(serve(self.app, config, shutdown_trigger=self._stop.wait))
            except BaseException as exc:  # reported to start() if it happens early
                failure.append(exc)
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-apns", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise RuntimeError("fake APNs did not start") from failure[0]
        self._wait_until_listening()
        return self

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("fake APNs is not listening")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(15)
        self._thread = None

    def __enter__(self) -> FakeAPNs:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


class BareAPNs:
    """A bare HTTP/2 APNs (h2 over TLS, client certificate required, every push answered 200) for
    connection-level behaviour that hypercorn cannot script.

    ``requests_per_connection``: once that many requests have arrived on a connection it sends
    GOAWAY naming the last of them, still answers those (as RFC 9113 §6.8 allows streams up to the
    last one to complete), leaves every later stream unprocessed, and closes the connection. After
    its own GOAWAY hypercorn answers nothing.
    ``stream_window``: the SETTINGS_INITIAL_WINDOW_SIZE announced; with 0 no request body may be
    sent until the server grants credit, which it does by a WINDOW_UPDATE for each new stream.
    ``answered`` lists the token of every 200 sent, ``requests`` every (connection, stream id,
    token) received, ``goaways`` the last stream id of each GOAWAY.
    """

    def __init__(
        self,
        *,
        client_ca_file: Path,
        workdir: Path,
        requests_per_connection: int | None = None,
        stream_window: int | None = None,
    ):
        self.client_ca_file = Path(client_ca_file)
        self.workdir = Path(workdir)
        self.requests_per_connection = requests_per_connection
        self.stream_window = stream_window
        self.server_ca_file = self.workdir / "draining-apns-ca.pem"
        self.host, self.port = "127.0.0.1", 0
        self.requests: list[tuple[int, int, str]] = []
        self.answered: list[str] = []
        self.goaways: list[int] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._connections = 0

    def start(self) -> BareAPNs:
        import h2.config
        import h2.connection
        import h2.settings

        certfile, keyfile = _server_certificate(self.workdir, self.server_ca_file)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.client_ca_file))
        context.load_cert_chain(certfile, keyfile)
        context.verify_mode = ssl.CERT_REQUIRED
        context.set_alpn_protocols(["h2"])
        ready = threading.Event()

        async def serve() -> None:
            self._server = await asyncio.start_server(self._handle, self.host, 0, ssl=context)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            await self._server.serve_forever()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.set_exception_handler(_quiet_tls_teardown)
            try:
                self._loop.run_until_complete(serve())
            except asyncio.CancelledError:
                pass
            finally:
                self._loop.close()

        self._h2 = (h2.config, h2.connection, h2.settings)
        self._thread = threading.Thread(target=run, name="draining-apns", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("draining APNs did not start")
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import h2.events

        config, connection_module, settings = self._h2
        self._connections += 1
        number = self._connections
        conn = connection_module.H2Connection(config=config.H2Configuration(client_side=False, header_encoding="utf-8"))
        if self.stream_window is not None:
            conn.local_settings = settings.Settings(
                client=False, initial_values={settings.SettingCodes.INITIAL_WINDOW_SIZE: self.stream_window}
            )
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        received, last_stream_id, waiting, apns_ids = 0, None, {}, {}
        try:
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        request_headers = dict(event.headers)
                        token = request_headers[":path"].removeprefix("/3/device/")
                        apns_ids[event.stream_id] = request_headers.get("apns-id") or str(uuid.uuid4()).upper()
                        self.requests.append((number, event.stream_id, token))
                        received += 1
                        if self.stream_window == 0:
                            conn.increment_flow_control_window(2, event.stream_id)  # the body, "{}"
                        if last_stream_id is None:
                            waiting[event.stream_id] = token
                            if received == self.requests_per_connection:
                                last_stream_id = event.stream_id
                                conn.close_connection(last_stream_id=last_stream_id)
                                self.goaways.append(last_stream_id)
                                # h2 closes its state machine on GOAWAY; keep it open to finish the
                                # streams up to last_stream_id, as the protocol allows.
                                conn.state_machine.state = connection_module.ConnectionState.SERVER_OPEN
                    elif isinstance(event, h2.events.DataReceived):
                        conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        token = waiting.pop(event.stream_id, None)
                        if token is not None:
                            headers = [(":status", "200"), ("apns-id", apns_ids.pop(event.stream_id))]
                            conn.send_headers(event.stream_id, headers, end_stream=True)
                            self.answered.append(token)
                writer.write(conn.data_to_send())
                await writer.drain()
                if last_stream_id is not None and not waiting:
                    break
        finally:
            writer.close()

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> BareAPNs:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
