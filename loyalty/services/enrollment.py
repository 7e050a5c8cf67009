"""Enrolling customers (stub: signature fixed)."""

from __future__ import annotations

from datetime import date

from loyalty.models import Card


def enroll_customer(
    *,
    merchant,
    phone: str,
    name: str = "",
    email: str = "",
    birthday: date | None = None,
    location=None,
    source: str = "cashier",
    marketing_consent: bool = False,
    consent_channel: str = "",
    consent_text_version: str = "",
    referral_code: str = "",
    actor=None,
    api_key=None,
    now=None,
) -> Card:
    raise NotImplementedError
