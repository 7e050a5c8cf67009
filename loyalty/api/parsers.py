"""The POS API's JSON parser, with the size and depth limits of
``loyalty.json_body``: 413 for a body that is too large, 400 for one nested
too deeply, both in the API's error shape.

Not a subclass of DRF's JSONParser on purpose: DRF (3.15+) reads
``request.body`` for those, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE check
(2.5 MB) would run first and raise RequestDataTooBig; this parser reads the
stream itself, at most MAX_BODY_BYTES + 1 bytes of it."""

from __future__ import annotations

from typing import Any

from rest_framework.parsers import BaseParser

from loyalty.json_body import read_json


class PosJsonParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        request = (parser_context or {}).get("request")
        content_length = request.META.get("CONTENT_LENGTH") if request is not None else None
        return read_json(stream, content_length=content_length)
