"""The e-mail channel, through Django's e-mail backend (SMTP in production, a file backend by
default): a text and an HTML part, a one-click unsubscribe link in the footer, and the
``List-Unsubscribe`` / ``List-Unsubscribe-Post`` headers (RFC 8058) so mail clients show their
own "Unsubscribe" button, which POSTs to the same link.

One connection serves a whole batch (``with EmailChannel() as client``).
"""

from __future__ import annotations

import smtplib
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend

from .base import Channel, ChannelClient, OutgoingMessage, SendResult, TransientChannelError


class EmailChannel(ChannelClient):
    name = Channel.EMAIL

    def __init__(self, *, backend: str | None = None):
        self.backend = backend or getattr(settings, "CAMPAIGN_EMAIL_BACKEND", "") or settings.EMAIL_BACKEND
        self.connection: BaseEmailBackend | None = None

    def open(self) -> None:
        connection = get_connection(self.backend, fail_silently=False)
        self.connection = connection
        try:
            connection.open()
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientChannelError(f"SMTP connection failed: {exc}") from exc

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except (OSError, smtplib.SMTPException):
                pass
            self.connection = None

    def build(self, message: OutgoingMessage) -> EmailMultiAlternatives:
        _, from_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
        sender = formataddr((message.sender_name, from_address)) if message.sender_name else settings.DEFAULT_FROM_EMAIL
        headers = {}
        if message.unsubscribe_url:
            headers["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if message.reference:
            headers["X-Campaign-Delivery"] = message.reference
        mail = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=sender,
            to=[message.address],
            headers=headers,
            connection=self.connection,
        )
        if message.html:
            mail.attach_alternative(message.html, "text/html")
        return mail

    def send(self, message: OutgoingMessage) -> SendResult:
        if self.connection is None:
            self.open()
        mail = self.build(message)
        try:
            mail.send()
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()))
            text = f"{code} {reason.decode(errors='replace') if isinstance(reason, bytes) else reason}"
            # 5xx: the server says the address is no good; 4xx: try again later.
            if 500 <= code < 600:
                return SendResult.refused(text, channel_off=code in (550, 551, 553))
            raise TransientChannelError(text) from exc
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            text = f"{exc.smtp_code} {error.decode(errors='replace') if isinstance(error, bytes) else error}"
            if 500 <= exc.smtp_code < 600:
                return SendResult.refused(text)
            self.close()
            raise TransientChannelError(text) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TransientChannelError(f"SMTP: {exc}") from exc
        return SendResult.sent(mail.extra_headers.get("Message-ID", ""))
