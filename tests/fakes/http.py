"""The small HTTP server the JSON-speaking provider fakes share (Telegram Bot API, Twilio):
a threaded server on 127.0.0.1, a lock for what the test inspects, scripted failures
(``fail_next``) and a ``handle_post`` each fake implements as (status, JSON body)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class JsonFakeServer:
    def __init__(self) -> None:
        self.fail_next: list[int] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                status, body = fake.handle_post(self.path, self.headers, self.rfile.read(length))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle_post(self, path: str, headers: Any, body: bytes) -> tuple[int, dict]:
        raise NotImplementedError

    def take_failure(self) -> int | None:
        """The next scripted failure status, if the test queued one."""
        with self.lock:
            return self.fail_next.pop(0) if self.fail_next else None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
