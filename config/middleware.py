"""Project-wide HTTP hygiene, before any view runs."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

from loyalty.api.errors import error_body

# PostgreSQL refuses the NUL character in text (every other character is
# storable), so a NUL from the URL would reach a query and fail there as a 500.
# No route of ours means anything by it: refuse it at the edge.
NUL = "\x00"
API_PATH_PREFIX = "/api/"


class RejectNulMiddleware:
    """Answer 400 to a request whose path or query string holds a NUL byte
    (``%00``), in the POS API's error shape under /api/, as plain text elsewhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path_info or b"\x00" in unquote_to_bytes(request.META.get("QUERY_STRING", "")):
            message = _("The address of this request contains a null character, which is not allowed.")
            if request.path_info.startswith(API_PATH_PREFIX):
                return JsonResponse(error_body("malformed_request", message), status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
