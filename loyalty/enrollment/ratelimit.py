"""Rate limits of the public enrolment pages (counted by ``loyalty.ratelimit``)."""

from __future__ import annotations

from django.conf import settings

from loyalty.ratelimit import Limit, client_ip, hit

# Enrolment attempts (every POST: a form, a resend of the card). Per address it
# stops a script trying numbers; it is generous enough for a café's guest Wi-Fi,
# where many phones share one address. Per merchant it caps a spread-out flood.
ENROLL_PER_IP = Limit(*getattr(settings, "ENROLL_RATE_LIMIT_PER_IP", (10, 600)))
ENROLL_PER_MERCHANT = Limit(*getattr(settings, "ENROLL_RATE_LIMIT_PER_MERCHANT", (300, 600)))
# Sending a customer their card link by e-mail: once per 10 minutes per customer.
CARD_EMAIL_PER_CUSTOMER = Limit(1, 600)


def enrollment_allowed(request, *, merchant) -> bool:
    """Count one enrolment attempt from this request; False when a limit is reached."""
    by_ip = hit(f"enroll:ip:{client_ip(request)}", ENROLL_PER_IP)
    by_merchant = hit(f"enroll:merchant:{merchant.pk}", ENROLL_PER_MERCHANT)
    return by_ip and by_merchant
