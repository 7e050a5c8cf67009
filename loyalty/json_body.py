"""Reading a JSON request body safely, for the POS API and the till's JSON views.

A till sends a few hundred bytes, so anything much bigger is refused before it
is read (``BodyTooLarge``, answered 413), and anything nested deeper than a
request of ours ever is (``BodyMalformed``, answered 400), because Python's
``json`` recurses once per level and would fail with RecursionError (a 500)
around a thousand levels. Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) does
not help here: it guards ``request.body`` only, and DRF's parsers read the
stream directly.
"""

from __future__ import annotations

import json
from typing import IO, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 16


class BodyTooLarge(Exception):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes)
        self.max_bytes = max_bytes


class BodyMalformed(ValueError):
    """Not JSON, or nested too deeply; the message says which."""


def _check_declared_length(content_length: str | int | None, max_bytes: int) -> None:
    try:
        declared = int(content_length or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        raise BodyTooLarge(max_bytes)


def read_json(stream: IO[bytes] | None, *, content_length: str | int | None, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """The JSON value of a body read from ``stream`` (what DRF's parsers get), at most
    ``max_bytes`` long; an empty body is ``{}``."""
    _check_declared_length(content_length, max_bytes)
    raw = stream.read(max_bytes + 1) if stream is not None else b""
    if len(raw) > max_bytes:
        raise BodyTooLarge(max_bytes)
    return parse_json(raw or b"{}")


def request_json(request: HttpRequest, *, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """The JSON value of a plain Django view's request body, at most ``max_bytes`` long
    (checked before the body is read); an empty body is ``{}``."""
    _check_declared_length(request.META.get("CONTENT_LENGTH"), max_bytes)
    raw = request.body
    if len(raw) > max_bytes:
        raise BodyTooLarge(max_bytes)
    return parse_json(raw or b"{}")


def parse_json(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise BodyMalformed(_too_deep(max_depth)) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyMalformed(str(exc)) from None
    if _depth(value) > max_depth:
        raise BodyMalformed(_too_deep(max_depth))
    return value


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259), though Python's json accepts them.
    raise ValueError(f"{name} is not a valid JSON value")


def _too_deep(max_depth: int) -> str:
    return _("lists and objects are nested more than %(max)d levels deep") % {"max": max_depth}


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest
