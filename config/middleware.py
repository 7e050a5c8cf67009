"""Project-wide HTTP hygiene, before any view runs."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

from loyalty.json_errors import error_body

# PostgreSQL refuses the NUL character in text (every other character is
# storable), so a NUL from the URL would reach a query and fail there as a 500.
# No route of ours means anything by it: refuse it at the edge.
NUL = "\x00"
API_PATH_PREFIX = "/api/"


class RejectNulMiddleware:
    """Answer 400 to a request whose path or query string holds a NUL byte
    (``%00``), in the POS API's error shape under /api/, as plain text elsewhere.
    Runs once the URL is resolved (an unknown path stays a 404), before the view.

    A view that refuses a NUL itself, in its own documented way, says so with a
    class (or function) attribute ``accepts_nul = True`` and is let through."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        view = getattr(view_func, "view_class", None) or getattr(view_func, "cls", None) or view_func
        if getattr(view, "accepts_nul", False):
            return None
        if NUL in request.path_info or b"\x00" in unquote_to_bytes(request.META.get("QUERY_STRING", "")):
            message = _("The address of this request contains a null character, which is not allowed.")
            if request.path_info.startswith(API_PATH_PREFIX):
                return JsonResponse(error_body("malformed_request", message), status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return None
