"""The Telegram channel, through the Bot API (``POST {api}/bot<token>/sendMessage``).

A customer binds a chat by opening ``https://t.me/<bot>?start=<token>``: Telegram sends our
webhook an update whose message text is ``/start <token>``, and the webhook (verified by the
``X-Telegram-Bot-Api-Secret-Token`` header) stores the chat id for that customer. A 403 from
``sendMessage`` ("bot was blocked by the user", "user is deactivated") turns the channel off for
that customer; 429 carries ``parameters.retry_after``.
"""

from __future__ import annotations

import httpx
from django.conf import settings

from .base import Channel, ChannelClient, OutgoingMessage, SendResult, TransientChannelError


class TelegramChannel(ChannelClient):
    name = Channel.TELEGRAM

    def __init__(self) -> None:
        self.api_url = settings.TELEGRAM_API_URL.rstrip("/")
        self.token = settings.TELEGRAM_BOT_TOKEN
        self.http: httpx.Client | None = None

    def open(self) -> None:
        self.http = httpx.Client(timeout=10.0)

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
            self.http = None

    def call(self, method: str, payload: dict) -> dict:
        if self.http is None:
            self.open()
        assert self.http is not None
        try:
            response = self.http.post(f"{self.api_url}/bot{self.token}/{method}", json=payload)
        except httpx.HTTPError as exc:
            raise TransientChannelError(f"Telegram: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {"ok": False, "error_code": response.status_code, "description": response.text[:200]}
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = (body.get("parameters") or {}).get("retry_after")
            raise TransientChannelError(
                f"Telegram {response.status_code}: {body.get('description', '')}",
                retry_after=float(retry_after) if retry_after else None,
            )
        return body

    def send(self, message: OutgoingMessage) -> SendResult:
        if not self.token:
            return SendResult.refused("Telegram bot not configured")
        text = message.text
        if message.unsubscribe_url:
            text = f"{text}\n\n{message.extra.get('unsubscribe_label', 'Unsubscribe')}: {message.unsubscribe_url}"
        body = self.call("sendMessage", {"chat_id": int(message.address), "text": text})
        if body.get("ok"):
            return SendResult.sent(str((body.get("result") or {}).get("message_id", "")))
        code = body.get("error_code")
        reason = f"{code} {body.get('description', '')}".strip()
        # 403: blocked by the user, user deactivated, kicked from the chat; 400 "chat not found".
        off = code == 403 or "chat not found" in reason.lower()
        return SendResult.refused(reason, channel_off=off)
