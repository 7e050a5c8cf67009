"""Rate limits of the public enrolment pages (counted by ``loyalty.ratelimit``).

An enrolment attempt is counted per device (a signed cookie the join page
sets), per address (much higher: a café's guest Wi-Fi puts many phones behind
one address; behind our proxy the address is the client's, see
``loyalty.ratelimit.client_ip``) and per merchant. Only attempts that pass the
form's validation count: a customer correcting a typo is not an attack.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core import signing

from loyalty.ratelimit import Limit, client_ip, hit

# One phone trying numbers: a person enrols once or twice, a script many times.
ENROLL_PER_DEVICE = Limit(*getattr(settings, "ENROLL_RATE_LIMIT_PER_DEVICE", (10, 600)))
# One address: a script that drops its cookies, or a whole café's Wi-Fi.
ENROLL_PER_IP = Limit(*getattr(settings, "ENROLL_RATE_LIMIT_PER_IP", (200, 600)))
# Per merchant it caps a spread-out flood.
ENROLL_PER_MERCHANT = Limit(*getattr(settings, "ENROLL_RATE_LIMIT_PER_MERCHANT", (300, 600)))
# Sending a customer their card link by e-mail: once per 10 minutes per customer.
CARD_EMAIL_PER_CUSTOMER = Limit(1, 600)

DEVICE_COOKIE = "enrol_device"
DEVICE_SALT = "loyalty.enrollment.device"
DEVICE_MAX_AGE = 365 * 24 * 3600


def device_id(request) -> str:
    """This browser's id from its signed cookie, or a new one (set by ``remember_device``)."""
    known = getattr(request, "_enrol_device", None)
    if known:
        return known
    try:
        value = request.get_signed_cookie(DEVICE_COOKIE, default="", salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE)
    except signing.BadSignature:
        value = ""
    if not value:
        value = secrets.token_urlsafe(16)
        request._enrol_device_new = True
    request._enrol_device = value
    return value


def remember_device(request, response):
    """Give a browser without a device cookie the one ``device_id`` made for it."""
    if getattr(request, "_enrol_device_new", False) or DEVICE_COOKIE not in request.COOKIES:
        response.set_signed_cookie(
            DEVICE_COOKIE,
            device_id(request),
            salt=DEVICE_SALT,
            max_age=DEVICE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


def enrollment_allowed(request, *, merchant) -> bool:
    """Count one enrolment attempt from this request; False when a limit is reached."""
    by_device = hit(f"enroll:device:{device_id(request)}", ENROLL_PER_DEVICE)
    by_ip = hit(f"enroll:ip:{client_ip(request)}", ENROLL_PER_IP)
    by_merchant = hit(f"enroll:merchant:{merchant.pk}", ENROLL_PER_MERCHANT)
    return by_device and by_ip and by_merchant
