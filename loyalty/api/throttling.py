"""Per-API-key rate limit for the POS API.

A fixed window counted in the cache. DRF's SimpleRateThrottle keeps a list of
timestamps and rewrites it on every call (read-modify-write, so concurrent
workers lose counts); a counter is exact and cheaper. With several gunicorn
workers the cache must be shared: set CACHE_URL (Redis), otherwise each
process counts on its own.

On Redis the count is one round trip: a small Lua script (INCR, and EXPIRE on
the window's first hit) run by EVALSHA on a connection kept per thread
(``_redis_count``: redis-py's client, its pool and its retries cost more than
the call); on other caches it is Django's add() + incr().

The rate is ``settings.POS_API_THROTTLE_RATE`` ("600/min", "20/s", …), read on
every request so tests and deployments can change it.
"""

from __future__ import annotations

import os
import threading
import time
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

DEFAULT_RATE = "600/min"
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@lru_cache(maxsize=64)
def parse_rate(rate: str) -> tuple[int, int]:
    """ "600/min" → (600, 60)."""
    count, _sep, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[:1].lower()]


_INCR_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
_scripts: dict[tuple, Any] = {}


def _redis_counter(backend: RedisCache):
    """The registered script on a redis client for ``backend``, made once per
    process (redis-py clients share their connection pool and are thread-safe)."""
    script = _scripts.get(tuple(backend._servers))
    if script is None:
        # Django's RedisCache has no atomic "incr or create"; use its redis client directly.
        client = backend._cache.get_client(None, write=True)
        script = _scripts[tuple(backend._servers)] = client.register_script(_INCR_SCRIPT)
    return script


_connections = threading.local()


def _redis_count(backend: RedisCache, full_key: str, ttl: int) -> int:
    """EVALSHA on a connection of this thread's own: one write and one read.
    Anything unexpected (the script not loaded yet, a lost connection, a
    timeout) takes the client's full path instead, which loads the script,
    reconnects and retries."""
    script = _redis_counter(backend)
    if getattr(_connections, "pid", None) != os.getpid():  # a thread forked with its connections: the parent's
        _connections.pid = os.getpid()
        _connections.by_script = {}
    connection = _connections.by_script.get(script)
    if connection is None:
        connection = _connections.by_script[script] = script.registered_client.connection_pool.make_connection()
    try:
        connection.send_command("EVALSHA", script.sha, 1, full_key, ttl)
        return int(connection.read_response())
    except Exception:  # noqa: BLE001 - whatever it was, the client's own path handles it
        connection.disconnect()
        return int(script(keys=[full_key], args=[ttl]))


def count_hit(key: str, ttl: int) -> int:
    """Add one to the counter ``key`` (created with ``ttl`` seconds to live) and return it."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return _redis_count(backend, backend.make_key(key), ttl)  # (our keys need no validation)
    # add() is a no-op when the key exists, so the first hit of a window
    # creates it with an expiry and everyone increments atomically.
    cache.add(key, 0, timeout=ttl)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=ttl)
        return 1


# The verdict on a request already counted, in its WSGI environ (request.META): (allowed, seconds to wait).
# The purchase lane and the view's quick attempt count a request before the general path may take it over;
# the general path's throttle then uses the verdict instead of counting the request a second time.
THROTTLE_VERDICT = "loyalty.pos.throttle_verdict"


def api_key_hit(api_key, *, meta: dict) -> bool:
    """Count one request of ``api_key`` (once per request: the verdict is kept in
    ``meta``); False once it is over the rate."""
    verdict = meta.get(THROTTLE_VERDICT)
    if verdict is None:
        throttle = ApiKeyRateThrottle()
        verdict = meta[THROTTLE_VERDICT] = (throttle.allow_request_for(api_key), throttle._wait)
    return verdict[0]


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self.num_requests, self.duration = parse_rate(getattr(settings, "POS_API_THROTTLE_RATE", DEFAULT_RATE))
        self._wait = 0.0

    def allow_request(self, request, view) -> bool:
        api_key = request.auth
        if api_key is None:  # unauthenticated requests are refused before this
            return True
        verdict = request.META.get(THROTTLE_VERDICT)
        if verdict is not None:  # counted already, by the purchase lane or the quick attempt
            self._wait = verdict[1]
            return verdict[0]
        return self.allow_request_for(api_key)

    def allow_request_for(self, api_key) -> bool:
        now = time.time()
        window = int(now // self.duration)
        count = count_hit(f"pos-throttle:{api_key.pk}:{self.duration}:{window}", self.duration + 1)
        if count > self.num_requests:
            self._wait = (window + 1) * self.duration - now
            return False
        return True

    def wait(self) -> float:
        return max(self._wait, 1.0)
