"""The POS API's exception handler: every error in the shape of ``loyalty.json_errors``."""

from __future__ import annotations

import logging
from typing import Any

from django.utils.translation import gettext_lazy
from rest_framework.response import Response
from rest_framework.views import set_rollback

from loyalty.json_errors import describe_error, error_body

logger = logging.getLogger(__name__)

SERVER_ERROR_MESSAGE = gettext_lazy("Something went wrong on our side. Retrying with the same Idempotency-Key is safe.")


def pos_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    # Whatever failed, nothing the request started may be committed.
    set_rollback()
    described = describe_error(exc)
    if described is None:
        # A bug: log it with its traceback and still answer in the API's shape.
        logger.exception("Unhandled error in the POS API", exc_info=exc)
        return Response(error_body("server_error", str(SERVER_ERROR_MESSAGE)), status=500)
    http_status, body, headers = described
    return Response(body, status=http_status, headers=headers)
