"""Background work of the merchants app: e-mails that must not slow down, or
reveal anything through, the page that asked for them."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.utils import translation

from . import services


@shared_task(
    name="merchants.tasks.password_reset_email_task",
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=50,
    time_limit=60,
)
def password_reset_email_task(email: str, language: str) -> int:
    with translation.override(language):
        return services.password_reset_send(email=email)
