"""Public wallet endpoints: the customer's "Add to Apple Wallet" download and
"Add to Google Wallet" redirect, the card art Google fetches, and the PassKit
web service devices call (wallet spec §2). Thin: parse, call a service, answer.

The PassKit routes are CSRF-exempt (devices have no cookies) and
authenticated per pass with ``Authorization: ApplePass <token>``."""

from __future__ import annotations

import json
import logging
import re

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import http_date, parse_http_date_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loyalty import ratelimit
from loyalty.models import CardDesign, WalletPass
from loyalty.wallet import google, passes, passkit, render
from loyalty.wallet.apple import PKPASS_MIME_TYPE
from merchants.models import Merchant
from merchants.permissions import public_route

logger = logging.getLogger(__name__)

_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _unavailable(request, reason: str, *, status: int) -> TemplateResponse:
    return TemplateResponse(request, "loyalty/wallet_unavailable.html", {"reason": reason}, status=status)


def _not_offered(request, wallet_pass: WalletPass, reason: str) -> TemplateResponse:
    """The merchant has not set this wallet up. The customer (who followed an old or
    shared link) is sent to their web card with no set-up talk; the reason, which is
    instructions for the merchant, is shown only to the merchant's own staff."""
    memberships = getattr(request, "memberships", None) or []
    is_staff_of_merchant = any(m.merchant_id == wallet_pass.merchant_id for m in memberships)
    return TemplateResponse(
        request,
        "loyalty/wallet_unavailable.html",
        {
            "reason": reason if is_staff_of_merchant else "",
            "not_offered": True,
            "web_card_url": reverse("webcard", args=[wallet_pass.web_token]),
        },
        status=404,
    )


# --- customer-facing --------------------------------------------------------------------------


@public_route
@require_GET
def apple_pass(request, web_token: str):
    wallet_pass = get_object_or_404(WalletPass.objects.select_related("merchant"), web_token=web_token)
    availability = passes.wallets_available(merchant=wallet_pass.merchant)
    if not availability.apple:
        return _not_offered(request, wallet_pass, availability.apple_reason)
    try:
        data = passes.build_pass(wallet_pass=wallet_pass)
    except (passes.WalletUnavailable, render.WebServiceNotSecure) as exc:
        logger.error("Apple pass %s not built: %s", wallet_pass.pk, exc)
        return _unavailable(request, _("Apple Wallet is temporarily unavailable. Please try again later."), status=503)
    response = HttpResponse(data, content_type=PKPASS_MIME_TYPE)
    response["Content-Disposition"] = 'attachment; filename="loyalty-card.pkpass"'
    response["Last-Modified"] = http_date(passkit.download_last_modified(wallet_pass.updated_at))
    response["Cache-Control"] = "no-store"
    return response


@public_route
@require_GET
def google_save(request, web_token: str):
    wallet_pass = get_object_or_404(WalletPass.objects.select_related("merchant"), web_token=web_token)
    availability = passes.wallets_available(merchant=wallet_pass.merchant)
    if not availability.google:
        return _not_offered(request, wallet_pass, availability.google_reason)
    try:
        # The object goes in first: the link names only its id.
        link = passes.google_save_link(wallet_pass=wallet_pass)
    except (passes.WalletUnavailable, google.GoogleWalletError, ValueError) as exc:
        logger.warning("Google Wallet save link for pass %s failed: %s", wallet_pass.pk, exc)
        return _unavailable(request, _("Google Wallet did not answer. Please try again in a minute."), status=503)
    return redirect(link)


def _design(merchant_id: int, version: int) -> CardDesign | None:
    if version == 0:
        return None
    return get_object_or_404(
        CardDesign.objects.for_merchant(merchant_id).filter(published_at__isnull=False), version=version
    )


@public_route
@require_GET
@cache_control(public=True, max_age=24 * 3600)
def google_logo(request, merchant_id: int, version: int):
    merchant = get_object_or_404(Merchant, pk=merchant_id)
    design = _design(merchant_id, version) or render.DEFAULT_DESIGN
    png = render.google_logo_png(merchant.name, design.pk, design.background_color, design.foreground_color)
    return HttpResponse(png, content_type="image/png")


@public_route
@require_GET
@cache_control(public=True, max_age=24 * 3600)
def google_stamps(request, merchant_id: int, version: int, filled: int, total: int):
    get_object_or_404(Merchant, pk=merchant_id)
    design = _design(merchant_id, version) or render.DEFAULT_DESIGN
    if not (1 <= total <= 20 and 0 <= filled <= total):
        return HttpResponse(status=404)
    png = render.google_stamps_png(filled, total, design.background_color, design.foreground_color)
    return HttpResponse(png, content_type="image/png")


# --- the PassKit web service ------------------------------------------------------------------


def _authorized(request, pass_type_identifier: str, serial_number: str) -> WalletPass | None:
    return passkit.authenticated_pass(
        pass_type_identifier=pass_type_identifier,
        serial_number=serial_number,
        authorization=request.headers.get("Authorization"),
    )


def _unauthorized() -> HttpResponse:
    return HttpResponse(status=401)


@public_route
@csrf_exempt
@require_http_methods(["POST", "DELETE"])
def registration(request, device_library_identifier: str, pass_type_identifier: str, serial_number: str):
    wallet_pass = _authorized(request, pass_type_identifier, serial_number)
    if wallet_pass is None:
        return _unauthorized()
    if request.method == "DELETE":
        passkit.unregister_device(wallet_pass=wallet_pass, device_library_identifier=device_library_identifier)
        return HttpResponse(status=200)
    try:
        body = json.loads(request.body or b"{}")
        push_token = body.get("pushToken") if isinstance(body, dict) else None
    except (ValueError, UnicodeDecodeError):
        push_token = None
    if not isinstance(push_token, str) or not re.fullmatch(r"[0-9A-Za-z]{1,200}", push_token):
        return JsonResponse({"error": "pushToken is required"}, status=400)
    created = passkit.register_device(
        wallet_pass=wallet_pass, device_library_identifier=device_library_identifier, push_token=push_token
    )
    return HttpResponse(status=201 if created else 200)


@public_route
@csrf_exempt
@require_GET
def serial_numbers(request, device_library_identifier: str, pass_type_identifier: str):
    found = passkit.updated_serials(
        device_library_identifier=device_library_identifier,
        pass_type_identifier=pass_type_identifier,
        passes_updated_since=request.GET.get("passesUpdatedSince"),
    )
    if found is None:
        return HttpResponse(status=204)
    return JsonResponse({"serialNumbers": found.serial_numbers, "lastUpdated": found.last_updated})


@public_route
@csrf_exempt
@require_GET
def latest_pass(request, pass_type_identifier: str, serial_number: str):
    wallet_pass = _authorized(request, pass_type_identifier, serial_number)
    if wallet_pass is None:
        return _unauthorized()
    passkit.record_fetch(wallet_pass=wallet_pass)
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    if passkit.not_modified_since(updated_at=wallet_pass.updated_at, if_modified_since=since):
        response = HttpResponse(status=304)
        response["Last-Modified"] = http_date(passkit.download_last_modified(wallet_pass.updated_at))
        return response
    # Waits when two changes shared a second a moment ago (see passkit.settled_last_modified).
    modified = passkit.settled_last_modified(wallet_pass)
    try:
        data = passes.build_pass(wallet_pass=wallet_pass)
    except (passes.WalletUnavailable, render.WebServiceNotSecure) as exc:
        logger.error("Apple pass %s not built for a device: %s", wallet_pass.pk, exc)
        response = HttpResponse(status=503)
        response["Retry-After"] = "3600"
        return response
    response = HttpResponse(data, content_type=PKPASS_MIME_TYPE)
    response["Last-Modified"] = http_date(modified)
    response["Cache-Control"] = "no-store"
    return response


@public_route
@csrf_exempt
@require_POST
def device_log(request):
    # Anyone may post here: limit each client address, then read a small body only.
    count, seconds = passkit.device_log_limit()
    if not ratelimit.hit(f"passkit-log:{ratelimit.client_ip(request)}", ratelimit.Limit(count, seconds)):
        response = JsonResponse({"error": "too many log requests"}, status=429)
        response["Retry-After"] = str(seconds)
        return response
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > passkit.MAX_LOG_BODY_BYTES:
        return JsonResponse({"error": "log body too large"}, status=413)
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"error": "body must be JSON"}, status=400)
    lines = body.get("logs") if isinstance(body, dict) else None
    if not isinstance(lines, list):
        return JsonResponse({"error": "logs must be a list"}, status=400)
    passkit.store_device_logs(lines=lines)
    return HttpResponse(status=200)
