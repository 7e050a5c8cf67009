"""A local SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts.

Django's real SMTP backend talks to it. Addresses in ``refuse`` get a 550 at RCPT TO; addresses in
``defer`` a 451 (try again later)."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content()
        raise KeyError(content_type)


class _Handler:
    def __init__(self, server: FakeSMTP):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        if address in self.server.refuse:
            return "550 5.1.1 No such user here"
        if address in self.server.defer:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.server.keep:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            with self.server.lock:
                self.server.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        with self.server.lock:
            self.server.count += 1
        return "250 Message accepted for delivery"


def _free_port() -> int:
    # aiosmtpd's controller checks it is up by connecting to its port, so it needs a real one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class FakeSMTP:
    def __init__(self, *, keep: bool = True):
        self.keep = keep
        self.messages: list[Received] = []
        self.count = 0
        self.refuse: set[str] = set()
        self.defer: set[str] = set()
        self.lock = threading.Lock()
        self._port = _free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self._port)

    def start(self) -> FakeSMTP:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self._port

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.rcpt_tos]
