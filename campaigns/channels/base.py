"""What every channel client takes and returns.

A client sends one ``OutgoingMessage`` and answers with a ``SendResult``, or raises
``TransientChannelError`` (the sender retries later with backoff). A permanent refusal is a
result, not an exception: it is recorded on the delivery with the provider's own reason, and
``channel_off`` says that the customer cannot be reached on this channel any more (a Telegram bot
blocked by the user, an address the provider says does not exist).

Clients are opened once per batch (``with client:``), so an SMTP connection or an HTTP keep-alive
pool serves many messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Channel:
    WALLET = "wallet"
    EMAIL = "email"
    SMS = "sms"
    TELEGRAM = "telegram"

    ALL = (WALLET, EMAIL, SMS, TELEGRAM)


class TransientChannelError(Exception):
    """The provider could not take the message now (network, 5xx, rate limit): retry later."""

    def __init__(self, reason: str, *, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class OutgoingMessage:
    merchant_id: int
    customer_id: int
    # The address on this channel: an e-mail, an E.164 phone, a Telegram chat id, a card id (wallet).
    address: str
    text: str
    subject: str = ""
    html: str = ""
    sender_name: str = ""
    # One-click unsubscribe from this channel (e-mail header and footer; SMS/Telegram may append it).
    unsubscribe_url: str = ""
    # Our reference (the delivery id), echoed back by providers that support it.
    reference: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    ok: bool
    provider_id: str = ""
    reason: str = ""
    # The customer can no longer be reached on this channel (blocked bot, invalid address).
    channel_off: bool = False

    @classmethod
    def sent(cls, provider_id: str = "") -> SendResult:
        return cls(ok=True, provider_id=provider_id)

    @classmethod
    def refused(cls, reason: str, *, channel_off: bool = False) -> SendResult:
        return cls(ok=False, reason=reason[:500], channel_off=channel_off)


class ChannelClient:
    """Base of the four clients: a context manager around ``send``."""

    name: str = ""

    def open(self) -> None:  # noqa: B027 - optional hook
        pass

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> ChannelClient:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(self, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError
