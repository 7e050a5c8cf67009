"""Public endpoints of the channels: the one-click unsubscribe (a link in each e-mail and
Telegram message, and the ``List-Unsubscribe-Post`` target), the Telegram webhook that binds a
chat to a customer, and the SMS gateway's delivery reports."""

from __future__ import annotations

import hmac
import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from merchants.permissions import public_route

from .. import consent
from .. import feedback as feedback_service
from ..delivery_reports import record_open, record_sms_status
from ..exceptions import FeedbackError
from ..tasks import alert_low_rating_task
from .sms import signature

logger = logging.getLogger(__name__)


# A transparent 1×1 GIF.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


@public_route
@require_http_methods(["GET", "HEAD"])
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    # Always the image (a mail client shows no broken picture); only a valid token records the open.
    record_open(token=token)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store, private"
    response["Referrer-Policy"] = "no-referrer"
    return response


@public_route
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    # Opening the link is the one click; mail clients POST to it (RFC 8058). Either way the
    # channel is off before the page is shown.
    done = consent.unsubscribe(token=token)
    if done is None:
        return render(request, "campaigns/unsubscribe.html", {"invalid": True}, status=404)
    customer, channel = done
    if request.method == "POST" and "List-Unsubscribe" in request.POST:
        return HttpResponse(status=200)
    return render(
        request,
        "campaigns/unsubscribe.html",
        {"merchant_name": customer.merchant.name, "channel_label": consent.channel_label(channel)},
    )


@public_route
@require_http_methods(["GET", "POST"])
def feedback_page(request: HttpRequest, token: str) -> HttpResponse:
    """The post-purchase follow-up's link: a rating 1–5 and a comment, answered once."""
    delivery = feedback_service.delivery_for_token(token)
    if delivery is None:
        return render(request, "campaigns/feedback.html", {"invalid": True}, status=404)
    context = {
        "merchant_name": delivery.merchant.name,
        "campaign": delivery.campaign,
        "ratings": range(1, 6),
        "bonus": delivery.campaign.feedback_bonus,
    }
    existing = getattr(delivery, "feedback", None)  # the reverse one-to-one; None when not answered yet
    if request.method == "POST" and existing is None:
        comment = request.POST.get("comment", "")
        try:
            rating = int(request.POST.get("rating", ""))
        except ValueError:
            rating = 0
        try:
            answer = feedback_service.leave_feedback(delivery=delivery, rating=rating, comment=comment)
        except FeedbackError as error:
            return render(
                request, "campaigns/feedback.html", {**context, "error": str(error), "comment": comment}, status=400
            )
        if answer.needs_alert:
            alert_low_rating_task.delay(answer.feedback.pk)
        existing = answer.feedback
        context["just_answered"] = answer.created
    return render(request, "campaigns/feedback.html", {**context, "feedback": existing})


@public_route
@csrf_exempt
@require_POST
def telegram_webhook(request: HttpRequest) -> HttpResponse:
    expected = settings.TELEGRAM_WEBHOOK_SECRET
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return HttpResponse(status=403)
    try:
        update = json.loads(request.body)
    except ValueError:
        return HttpResponse(status=400)
    message = update.get("message") if isinstance(update, dict) else None
    if not isinstance(message, dict):
        return HttpResponse(status=200)
    text = str(message.get("text") or "")
    chat_id = (message.get("chat") or {}).get("id")
    if not text.startswith("/start") or not isinstance(chat_id, int):
        return HttpResponse(status=200)
    token = text.removeprefix("/start").strip()
    link = consent.bind_telegram(token=token, chat_id=chat_id) if token else None
    if link is None:
        reply = _("Open the link from your loyalty card to get news here.")
    else:
        reply = _("Done! %(name)s will send its news here.") % {"name": link.customer.merchant.name}
    # Telegram accepts a method call as the webhook's answer: the confirmation costs no request.
    return JsonResponse({"method": "sendMessage", "chat_id": chat_id, "text": reply})


@public_route
@csrf_exempt
@require_POST
def sms_status(request: HttpRequest) -> HttpResponse:
    url = settings.PUBLIC_BASE_URL + request.path
    params = {key: request.POST[key] for key in request.POST}
    given = request.headers.get("X-Twilio-Signature", "")
    if not settings.SMS_AUTH_TOKEN or not hmac.compare_digest(
        given.encode(), signature(url, params, settings.SMS_AUTH_TOKEN).encode()
    ):
        return HttpResponse(status=403)
    record_sms_status(
        provider_id=params.get("MessageSid", ""),
        status=params.get("MessageStatus", ""),
        error_code=params.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)
