"""The POS purchase lane: ``POST /api/pos/v1/purchases/`` answered in front of
Django's request cycle when it is the common case, the same answer for fewer
milliseconds of CPU.

A till's plain accrual is the hottest request of the product. Through Django it
pays for the request object, the URL resolver and sixteen middleware whose work
on this request is always the same (no session, no CSRF, no page): about a third
of its CPU. ``PosPurchaseLane`` wraps the WSGI application (config/wsgi.py) and
answers the request itself only when everything about it is already known:

- the path, the method and the headers are the plain ones (no query string, no
  cookie, ``Content-Type: application/json``, a plain ``Accept``, a body of known
  length, at most ``MAX_BODY_BYTES``);
- the API key is one this worker verified lately (``remembered_api_key``; the
  lock statement re-checks that it is still active);
- the body is a valid accrual without redemption (the input serializer's own
  field rules, ``quick_answer``);
- the purchase takes the quick path (``ledger.quick_purchase``; anything else
  raises ``NotQuick`` before a row is written);
- and Django has already answered a quick purchase for the same host, scheme,
  forwarded headers and ``Accept-Language``: the headers its middleware put on
  that answer (security headers, the Content-Security-Policy, ``Vary``,
  ``Content-Language``…) are learnt from it and put on this one, so the two
  answers differ only in their bodies. A new middleware's header, or a change of
  settings, is learnt with the next start.

Anything else goes to Django untouched (the body the lane read is handed over),
where the view answers it as before, errors included. The rate limit counts a
request once: the lane's verdict travels in the environ (``THROTTLE_VERDICT``)
and ``ApiKeyRateThrottle`` uses it instead of counting again.

``POS_PURCHASE_LANE = False`` (environment ``POS_PURCHASE_LANE=0``) turns the
lane off.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core import signals
from django.utils import timezone, translation
from rest_framework import serializers, status
from rest_framework.exceptions import APIException

from loyalty import ledger
from loyalty import serializers as s
from loyalty.exceptions import LoyaltyError
from loyalty.idempotency import REPLAYED_HEADER, IdempotentResponse, request_fingerprint
from loyalty.idempotency import idempotency_key_from_headers as _key_from_headers
from loyalty.json_body import MAX_BODY_BYTES, BodyMalformed, parse_json
from loyalty.money import wire_amount
from merchants.models import ApiKey
from merchants.services import api_key_touch

from .auth import bearer_secret, remembered_api_key
from .throttling import api_key_hit

logger = logging.getLogger(__name__)

PATH = "/api/pos/v1/purchases/"
# Set in the environ by the view when it answered a purchase the quick way (not a replay): the language
# it answered in. The lane learns that answer's headers (learn()).
QUICK_ANSWER = "loyalty.pos.quick_answer"
PLAIN_ACCEPT = frozenset({None, "", "*/*", "application/json"})

# The input serializer, one per process, used for its field rules only (building a serializer per
# request deep-copies every field), for bodies that are not in the plain shape below.
_PURCHASE_INPUT = s.PurchaseInputSerializer()

# --- the plain purchase: input and output without DRF's serializer machinery -----------------------------

# A body of exactly these three fields, each in a spelling the serializer takes as it is (nothing for it
# to trim, no NUL, no blank, within its lengths; an amount greater than zero in the schema's pattern), is
# read here; any other body, valid or not, is read by PurchaseInputSerializer, which gives the same
# values and the errors (tests/loyalty/test_purchase_lane.py compares the two).
_PLAIN_FIELDS = frozenset({"card_number", "bill_amount", "receipt_id"})
_PLAIN_CARD_NUMBER = re.compile(r"[0-9]{1,32}")
_PLAIN_RECEIPT_ID = re.compile(r"[!-~]{1,64}")
_POSITIVE_MONEY = re.compile(s.POSITIVE_MONEY_PATTERN)
_INPUT_PLACES = Decimal(1).scaleb(-s.MONEY["decimal_places"])


def plain_purchase_input(data: dict) -> dict[str, Any] | None:
    """The validated purchase, as PurchaseInputSerializer gives it, for a body in
    the plain shape; None for any other body."""
    if data.keys() != _PLAIN_FIELDS:
        return None
    card_number, bill, receipt_id = data["card_number"], data["bill_amount"], data["receipt_id"]
    if not (
        isinstance(card_number, str)
        and isinstance(bill, str)
        and isinstance(receipt_id, str)
        and _PLAIN_CARD_NUMBER.fullmatch(card_number)
        and _POSITIVE_MONEY.fullmatch(bill)
        and _PLAIN_RECEIPT_ID.fullmatch(receipt_id)
    ):
        return None
    return {
        "card_number": card_number,
        # DRF's DecimalField quantizes to its decimal places (3).
        "bill_amount": Decimal(bill).quantize(_INPUT_PLACES),
        "receipt_id": receipt_id,
        "redeem_points": 0,
        "redeem_rewards": 0,
    }


def _validated(data: dict) -> dict[str, Any]:
    plain = plain_purchase_input(data)
    return plain if plain is not None else _PURCHASE_INPUT.run_validation(data)


_PERCENT = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True)
_TIME = serializers.DateTimeField()


# As DRF's JSONRenderer writes (compact, not ASCII-escaped); one encoder for the process, as json.dumps with
# options builds one per call (encode() keeps no state between calls).
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def purchase_json(purchase) -> bytes:
    """PurchaseOutputSerializer's JSON for ``purchase`` (its ``card`` the card
    after it, with its tier), as JSONRenderer writes it; amounts in the
    purchase's currency."""
    currency = purchase.currency
    card = purchase.card
    data = {
        "id": purchase.pk,
        "receipt_id": purchase.receipt_id,
        "currency": currency,
        "bill_amount": wire_amount(Decimal(purchase.bill_amount), currency),
        "discount_percent": _PERCENT.to_representation(purchase.discount_percent),
        "discount_amount": wire_amount(Decimal(purchase.discount_amount), currency),
        "points_redeemed": purchase.points_redeemed,
        "points_amount": wire_amount(Decimal(purchase.points_amount), currency),
        "amount_paid": wire_amount(Decimal(purchase.amount_paid), currency),
        "points_earned": purchase.points_earned,
        "stamps_earned": purchase.stamps_earned,
        "rewards_redeemed": purchase.rewards_redeemed,
        "refunded_amount": wire_amount(Decimal(purchase.refunded_amount), currency),
        "created_at": _TIME.to_representation(purchase.created_at),
        "card": {
            "number": card.number,
            "balance": card.balance,
            "spendable_points": card.spendable_points,
            "pending_points": card.pending_points,
            "stamps": card.stamps,
            "rewards_available": card.rewards_available,
            "tier": card.tier.name if card.tier_id else None,
        },
    }
    text = _ENCODE(data)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def quick_answer(*, api_key: ApiKey, meta: Mapping[str, Any], body: bytes, path: str) -> IdempotentResponse | None:
    """The purchase the quick way, or None when it needs the general path (which
    then answers it exactly as before: errors, 429, redemption …). ``meta`` is the
    WSGI environ (request.META); the rate limit's verdict is stored in it. Nothing
    is written before None is returned."""
    if not api_key_hit(api_key, meta=meta):
        return None
    try:
        key = _key_from_headers({"Idempotency-Key": meta.get("HTTP_IDEMPOTENCY_KEY")})
        data = parse_json(body)
        if not isinstance(data, dict):
            return None
        valid = _validated(data)
    except (APIException, BodyMalformed, ValueError):
        return None
    if valid["redeem_points"] or valid["redeem_rewards"]:
        return None
    api_key_touch(api_key=api_key)
    # Times in responses are shown in the merchant's time zone (as ApiKeyAuthentication does).
    timezone.activate(api_key.merchant.tzinfo)

    def respond(purchase) -> tuple[int, bytes]:
        return status.HTTP_201_CREATED, purchase_json(purchase)

    try:
        return ledger.quick_purchase(
            api_key=api_key,
            card_number=valid["card_number"],
            bill=valid["bill_amount"],
            receipt_id=valid["receipt_id"],
            key=key,
            fingerprint=request_fingerprint(method="POST", path=path, data=data),
            respond=respond,
        )
    except (ledger.NotQuick, APIException, LoyaltyError):
        # (An API key found inactive: the general path's check forgets it.)
        return None


# --- the headers Django puts on a quick purchase's answer ------------------------------------------


_LEARNT_LIMIT = 256
# (host, scheme, forwarded proto, forwarded host, Accept-Language) → (headers without Content-Length, language)
_learnt: dict[tuple, tuple[list[tuple[str, str]], str]] = {}
_NOT_LEARNT = frozenset({"content-length", REPLAYED_HEADER.lower()})


def _answer_key(environ: Mapping[str, Any]) -> tuple:
    return (
        environ.get("HTTP_HOST"),
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_X_FORWARDED_PROTO"),
        environ.get("HTTP_X_FORWARDED_HOST"),
        environ.get("HTTP_ACCEPT_LANGUAGE"),
    )


def learn(environ: Mapping[str, Any], status_line: str, headers: Iterable[tuple[str, str]]) -> None:
    """Remember the headers of Django's answer to a quick purchase (the view
    marked it in the environ) for requests like it."""
    language = environ.get(QUICK_ANSWER)
    if not language or not status_line.startswith("201 "):
        return
    headers = list(headers)
    if any(name.lower() == "set-cookie" for name, _value in headers):
        return  # an answer that set a cookie is not the same for every request
    if len(_learnt) >= _LEARNT_LIMIT:
        _learnt.clear()
    _learnt[_answer_key(environ)] = ([(n, v) for n, v in headers if n.lower() not in _NOT_LEARNT], language)


def forget_learnt() -> None:
    """Forget the learnt headers (tests that change the settings behind them)."""
    _learnt.clear()


# --- the lane ------------------------------------------------------------------------------------------


def _is_ours(environ: Mapping[str, Any]) -> bool:
    return environ.get("PATH_INFO") == PATH and environ.get("REQUEST_METHOD") == "POST"


def answer(environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """The lane's answer to a WSGI request (status line, headers, body), or None
    for Django to answer. Reads the body only when it may answer, and then puts
    it back in ``wsgi.input``."""
    if (
        not settings.POS_PURCHASE_LANE
        or not _is_ours(environ)
        or environ.get("QUERY_STRING")
        or environ.get("SCRIPT_NAME")
        or "HTTP_COOKIE" in environ
        or "HTTP_TRANSFER_ENCODING" in environ
        or environ.get("CONTENT_TYPE") != "application/json"
        or environ.get("HTTP_ACCEPT") not in PLAIN_ACCEPT
        or settings.DISALLOWED_USER_AGENTS
    ):
        return None
    learnt = _learnt.get(_answer_key(environ))
    if learnt is None:
        return None
    secret = bearer_secret(environ)
    api_key = remembered_api_key(secret) if secret else None
    if api_key is None:
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY_BYTES:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)  # for Django, if it answers after all
    if len(body) != length:
        return None
    headers, language = learnt
    translation.activate(language)
    try:
        result = quick_answer(api_key=api_key, meta=environ, body=body, path=PATH)
    finally:
        timezone.deactivate()
        translation.deactivate()
    if result is None:
        return None
    extra = [("Content-Length", str(len(result.content)))]
    if result.replayed:
        extra.append((REPLAYED_HEADER, "true"))
    return f"{result.status_code} {HTTPStatus(result.status_code).phrase}", headers + extra, result.content


class _Answered:
    """The lane's body; closing it ends the request as Django's handler does (request_finished)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def __iter__(self):
        yield self.body

    def close(self) -> None:
        signals.request_finished.send(sender=PosPurchaseLane)


class PosPurchaseLane:
    """WSGI: the lane in front of ``app`` (Django's WSGI handler)."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if not _is_ours(environ):
            return self.app(environ, start_response)
        signals.request_started.send(sender=PosPurchaseLane, environ=environ)
        try:
            result = answer(environ)
        except Exception:
            # A bug or a lost database: Django answers (the transaction rolled back; a purchase that
            # committed is replayed by its Idempotency-Key), and the log shows what happened here.
            logger.exception("The POS purchase lane failed; Django answers the request")
            result = None
        if result is not None:
            status_line, headers, body = result
            start_response(status_line, headers)
            return _Answered(body)

        def learning_start_response(status_line, headers, exc_info=None):
            learn(environ, status_line, headers)
            return start_response(status_line, headers, exc_info)

        return self.app(environ, learning_start_response)
