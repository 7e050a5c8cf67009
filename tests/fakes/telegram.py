"""A fake Telegram Bot API on 127.0.0.1: ``POST /bot<token>/sendMessage`` (JSON ``chat_id``,
``text``) answers ``{"ok": true, "result": {"message_id", "chat", "text"}}``; chats in
``blocked`` get ``403 {"ok": false, "error_code": 403, "description": "Forbidden: bot was
blocked by the user"}``; ``fail_next`` scripts 429 (with ``parameters.retry_after``) or 5xx.
``start_update(chat_id, token)`` builds the update Telegram posts to a webhook when a user opens
``t.me/<bot>?start=<token>``."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Sent:
    chat_id: int
    text: str
    message_id: int


class FakeTelegram:
    def __init__(self, *, token: str = "123456:TEST-token"):
        self.token = token
        self.sent: list[Sent] = []
        self.blocked: set[int] = set()
        self.fail_next: list[int] = []
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
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
                payload = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.startswith(f"/bot{fake.token}/"):
                    return self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                method = self.path.rsplit("/", 1)[1]
                if method != "sendMessage":
                    return self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                with fake.lock:
                    failure = fake.fail_next.pop(0) if fake.fail_next else None
                if failure == 429:
                    return self._reply(
                        429,
                        {
                            "ok": False,
                            "error_code": 429,
                            "description": "Too Many Requests: retry after 1",
                            "parameters": {"retry_after": 1},
                        },
                    )
                if failure:
                    return self._reply(failure, {"ok": False, "error_code": failure, "description": "Bad Gateway"})
                chat_id = int(payload["chat_id"])
                if chat_id in fake.blocked:
                    return self._reply(
                        403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
                    )
                with fake.lock:
                    sent = Sent(chat_id, payload["text"], next(fake._ids))
                    fake.sent.append(sent)
                return self._reply(
                    200,
                    {
                        "ok": True,
                        "result": {
                            "message_id": sent.message_id,
                            "chat": {"id": chat_id, "type": "private"},
                            "date": 0,
                            "text": sent.text,
                        },
                    },
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTelegram:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def to(self, chat_id: int) -> list[Sent]:
        with self.lock:
            return [s for s in self.sent if s.chat_id == chat_id]

    @staticmethod
    def start_update(chat_id: int, token: str, *, update_id: int = 1) -> dict:
        return {
            "update_id": update_id,
            "message": {
                "message_id": 1,
                "from": {"id": chat_id, "is_bot": False, "first_name": "Anna", "language_code": "ru"},
                "chat": {"id": chat_id, "first_name": "Anna", "type": "private"},
                "date": 0,
                "text": f"/start {token}",
                "entities": [{"offset": 0, "length": 6, "type": "bot_command"}],
            },
        }
