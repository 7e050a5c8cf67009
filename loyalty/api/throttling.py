"""Per-API-key rate limit for the POS API.

A fixed window counted with the cache's atomic ``incr``. DRF's
SimpleRateThrottle keeps a list of timestamps and rewrites it on every call
(read-modify-write, so concurrent workers lose counts); a counter is exact and
cheaper. With several gunicorn workers the cache must be shared: set CACHE_URL
(Redis), otherwise each process counts on its own.

The rate is ``settings.POS_API_THROTTLE_RATE`` ("600/min", "20/s", …), read on
every request so tests and deployments can change it.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

DEFAULT_RATE = "600/min"
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "600/min" → (600, 60)."""
    count, _sep, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[:1].lower()]


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self.num_requests, self.duration = parse_rate(getattr(settings, "POS_API_THROTTLE_RATE", DEFAULT_RATE))
        self._wait = 0.0

    def allow_request(self, request, view) -> bool:
        api_key = request.auth
        if api_key is None:  # unauthenticated requests are refused before this
            return True
        now = time.time()
        window = int(now // self.duration)
        key = f"pos-throttle:{api_key.pk}:{self.duration}:{window}"
        # add() is a no-op when the key exists, so the first request of a window
        # creates it with an expiry and everyone increments atomically.
        cache.add(key, 0, timeout=self.duration + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=self.duration + 1)
            count = 1
        if count > self.num_requests:
            self._wait = (window + 1) * self.duration - now
            return False
        return True

    def wait(self) -> float:
        return max(self._wait, 1.0)
