"""Fixed-window rate limits in the Django cache, for the public enrolment pages.

The counters live in the cache, so every web worker must share one: set
CACHE_URL (Redis) in production; the local-memory default counts per process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Limit:
    """At most ``count`` hits per ``seconds`` for one key."""

    count: int
    seconds: int


# Enrolment attempts (every POST: a form, a resend of the card). Per address it
# stops a script trying numbers; it is generous enough for a café's guest Wi-Fi,
# where many phones share one address. Per merchant it caps a spread-out flood.
ENROLL_PER_IP = Limit(*getattr(settings, "ENROLL_RATE_LIMIT_PER_IP", (10, 600)))
ENROLL_PER_MERCHANT = Limit(*getattr(settings, "ENROLL_RATE_LIMIT_PER_MERCHANT", (300, 600)))
# Sending a customer their card link by e-mail: once per 10 minutes per customer.
CARD_EMAIL_PER_CUSTOMER = Limit(1, 600)


def hit(key: str, limit: Limit, *, now: float | None = None) -> bool:
    """Count one hit for ``key``; False once it is over ``limit`` in the current window."""
    now = time.time() if now is None else now
    window = int(now // limit.seconds)
    cache_key = f"ratelimit:{key}:{limit.seconds}:{window}"
    if cache.add(cache_key, 1, timeout=limit.seconds + 5):
        return limit.count >= 1
    try:
        count = cache.incr(cache_key)
    except ValueError:
        # The window's counter expired between add() and incr().
        cache.set(cache_key, 1, timeout=limit.seconds + 5)
        count = 1
    return count <= limit.count


def client_ip(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client says unless a
    # proxy we trust rewrites it; behind a proxy, have it set REMOTE_ADDR.
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def enrollment_allowed(request, *, merchant) -> bool:
    """Count one enrolment attempt from this request; False when a limit is reached."""
    by_ip = hit(f"enroll:ip:{client_ip(request)}", ENROLL_PER_IP)
    by_merchant = hit(f"enroll:merchant:{merchant.pk}", ENROLL_PER_MERCHANT)
    return by_ip and by_merchant
