"""Card identity: numbers (with a Luhn check digit) and barcode payloads."""

from __future__ import annotations

import secrets

CARD_NUMBER_LENGTH = 12


def luhn_check_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return number.isdigit() and len(number) > 1 and luhn_check_digit(number[:-1]) == number[-1]


def new_card_number() -> str:
    """11 random digits (first non-zero) plus a Luhn check digit. Random, not
    sequential: one card's number says nothing about another's."""
    body = str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(CARD_NUMBER_LENGTH - 2))
    return body + luhn_check_digit(body)


def new_barcode_payload() -> str:
    """An opaque token the card's barcode/QR carries (not the card number)."""
    return "LC1" + secrets.token_urlsafe(18)
