"""Per-API-key rate limit for the POS API.

A fixed window counted in the cache. DRF's SimpleRateThrottle keeps a list of
timestamps and rewrites it on every call (read-modify-write, so concurrent
workers lose counts); a counter is exact and cheaper. With several gunicorn
workers the cache must be shared: set CACHE_URL (Redis), otherwise each
process counts on its own.

On Redis the count is one round trip (SET NX with expiry + INCR, pipelined);
on other caches it is Django's add() + incr().

The rate is ``settings.POS_API_THROTTLE_RATE`` ("600/min", "20/s", …), read on
every request so tests and deployments can change it.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

DEFAULT_RATE = "600/min"
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "600/min" → (600, 60)."""
    count, _sep, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[:1].lower()]


def count_hit(key: str, ttl: int) -> int:
    """Add one to the counter ``key`` (created with ``ttl`` seconds to live) and return it."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        # Django's RedisCache has no atomic "incr or create"; use its redis client directly.
        client = backend._cache.get_client(full_key, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.set(full_key, 0, ex=ttl, nx=True)
        pipe.incr(full_key)
        return int(pipe.execute()[1])
    # add() is a no-op when the key exists, so the first hit of a window
    # creates it with an expiry and everyone increments atomically.
    cache.add(key, 0, timeout=ttl)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=ttl)
        return 1


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
        count = count_hit(f"pos-throttle:{api_key.pk}:{self.duration}:{window}", self.duration + 1)
        if count > self.num_requests:
            self._wait = (window + 1) * self.duration - now
            return False
        return True

    def wait(self) -> float:
        return max(self._wait, 1.0)
