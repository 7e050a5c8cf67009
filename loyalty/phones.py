"""Phone numbers: everything typed is normalised to E.164 with ``phonenumbers``
before it is stored or looked up."""

from __future__ import annotations

import phonenumbers


def normalize_phone(raw: str, *, region: str = "RU") -> str | None:
    """E.164 (``+79161234567``) or None if ``raw`` is not a valid number.
    A national number (``8 916 123-45-67``) is read in the merchant's country."""
    raw = (raw or "").strip()
    if not raw or len(raw) > 32:
        return None
    try:
        number = phonenumbers.parse(raw, (region or "RU").upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
