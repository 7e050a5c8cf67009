"""Fixed-window rate limits in the Django cache, and the client address they count by.

The counters live in the cache, so every web worker must share one: set
CACHE_URL (Redis) in production; the local-memory default counts per process.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Limit:
    """At most ``count`` hits per ``seconds`` for one key."""

    count: int
    seconds: int


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
    """The client's address. Behind our HTTPS proxy (settings.BEHIND_HTTPS_PROXY)
    it is X-Forwarded-For's last hop, the one our proxy appended; the hops before
    it are whatever the client sent. Otherwise REMOTE_ADDR only."""
    if getattr(settings, "BEHIND_HTTPS_PROXY", False):
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if hops and hops[-1]:
            return hops[-1][:64]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def login_client_ip(request) -> str | None:
    """``client_ip`` for django-axes, which stores it as an IP address: None when
    there is none (a test client's ``force_login``) or the proxy's hop is not one."""
    address = client_ip(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def login_username(request, credentials: dict | None = None) -> str:
    """The account a login attempt names, spelt as the login form cleans it
    (django-axes counts failures per account by this): ``Owner@X `` and
    ``owner@x`` are one account."""
    source = credentials if credentials is not None else request.POST
    return str(source.get("username") or "").strip().lower()
