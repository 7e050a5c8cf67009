"""A fake Telegram Bot API on 127.0.0.1: ``POST /bot<token>/sendMessage`` (JSON ``chat_id``,
``text``) answers ``{"ok": true, "result": {"message_id", "chat", "text"}}``; chats in
``blocked`` get ``403 {"ok": false, "error_code": 403, "description": "Forbidden: bot was
blocked by the user"}``; ``fail_next`` scripts 429 (with ``parameters.retry_after``) or 5xx.
``start_update(chat_id, token)`` builds the update Telegram posts to a webhook when a user opens
``t.me/<bot>?start=<token>``."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from tests.fakes.http import JsonFakeServer


@dataclass
class Sent:
    chat_id: int
    text: str
    message_id: int


class FakeTelegram(JsonFakeServer):
    def __init__(self, *, token: str = "123456:TEST-token"):
        self.token = token
        self.sent: list[Sent] = []
        self.blocked: set[int] = set()
        self._ids = itertools.count(1)
        super().__init__()

    def handle_post(self, path: str, headers, body: bytes) -> tuple[int, dict]:
        payload = json.loads(body or b"{}")
        if not path.startswith(f"/bot{self.token}/"):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if path.rsplit("/", 1)[1] != "sendMessage":
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        failure = self.take_failure()
        if failure == 429:
            return 429, {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            }
        if failure:
            return failure, {"ok": False, "error_code": failure, "description": "Bad Gateway"}
        chat_id = int(payload["chat_id"])
        if chat_id in self.blocked:
            return 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
        with self.lock:
            sent = Sent(chat_id, payload["text"], next(self._ids))
            self.sent.append(sent)
        return 200, {
            "ok": True,
            "result": {
                "message_id": sent.message_id,
                "chat": {"id": chat_id, "type": "private"},
                "date": 0,
                "text": sent.text,
            },
        }

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
