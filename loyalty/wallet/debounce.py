"""The debounced sync's due set: which passes are due for a sync, and when,
kept in the broker's Redis instead of one delayed Celery message per pass.

A change that starts a burst (``passes._enqueue_sync``) adds its pass to a
sorted set, scored by the moment the debounce window closes (ZADD NX: the
first change of a burst sets the time), once its transaction has committed.
That is one Redis round trip, where publishing a delayed task cost the web
process about a millisecond of CPU per burst.

One self-rescheduling task drains the set (``drain_due_syncs_task``): it
takes the passes that are due, queues their ``sync_pass_task`` and queues
itself again for the next due moment, for as long as the set is not empty.
A small flag, holding the running chain's token, says a drain is on its way;
the change that finds no flag starts a chain (one Celery publish after a
quiet spell, none while passes keep changing). Both sides run as Lua scripts,
so a change that lands while the last drain finds the set empty either sees
the flag gone and starts a new chain, or is in the set that drain sees. The
flag expires (FLAG_SECONDS) so a chain lost with a killed worker is replaced
by the next change; a pass taken from the set whose task was lost is still
marked (``needs_sync_since``), and ``sweep_lost_wallet_syncs_task`` queues it
again after a few minutes, as before.

Without a Redis broker (the embedded default's filesystem broker) or with
eager tasks, ``available()`` is False and each burst publishes its delayed
``sync_pass_task`` as before.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

import redis
from celery import current_app
from django.conf import settings

logger = logging.getLogger(__name__)

# A drain chain that has not run for this long is taken for lost: the next change starts a new one.
FLAG_SECONDS = 60
# Passes one drain queues at most (the rest go to the next drain, queued at once).
DRAIN_BATCH = 1000

_SCHEDULE = """
for i = 4, #ARGV do redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[i]) end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3]) then return 1 end
return 0
"""
# ARGV: now, limit, flag seconds, this chain's token. Returns {due ids, next due score or ''}.
_DRAIN = """
local owner = redis.call('GET', KEYS[2])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #ids > 0 then redis.call('ZREM', KEYS[1], unpack(ids)) end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if owner and owner ~= ARGV[4] then return {ids, ''} end
if #nxt == 0 then
  redis.call('DEL', KEYS[2])
  return {ids, ''}
end
redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[3])
return {ids, nxt[2]}
"""

_clients: dict[str, tuple[Any, Any, Any]] = {}


def _redis() -> tuple[Any, Any, Any] | None:
    """(client, schedule script, drain script) for the broker's Redis, made
    once per process; None when the broker is not Redis."""
    url = settings.CELERY_BROKER_URL
    found = _clients.get(url)
    if found is None:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            return None
        client = redis.Redis.from_url(url)
        found = _clients[url] = (client, client.register_script(_SCHEDULE), client.register_script(_DRAIN))
    return found


def available() -> bool:
    """Whether bursts go through the due set (a Redis broker, tasks not eager)."""
    return not current_app.conf.task_always_eager and _redis() is not None


def redis_keys() -> list[str]:
    """The due set's key and its drain flag's key."""
    # Per queue: the workers that drain it are the ones that consume it (each test run has its own).
    queue = current_app.conf.task_default_queue
    return [f"wallet:sync-due:{queue}", f"wallet:sync-drain:{queue}"]


def due_passes() -> dict[int, float]:
    """The passes waiting in the due set, with the moment (epoch seconds) each is due."""
    found = _redis()
    if found is None:
        return {}
    return {int(member): score for member, score in found[0].zrange(redis_keys()[0], 0, -1, withscores=True)}


def forget() -> None:
    """Empty the due set and drop its flag (tests; the passes stay marked for the sweep)."""
    found = _redis()
    if found is not None:
        found[0].delete(*redis_keys())


def schedule(pass_ids: Iterable[int], *, delay: float, now: float | None = None) -> None:
    """Make these passes due ``delay`` seconds from now (unless already due
    sooner), and start a drain chain if none is on its way. Called after
    commit; a Redis failure is logged, and the sweep sends those passes later."""
    pass_ids = list(pass_ids)
    found = _redis()
    assert found is not None, "schedule() needs a Redis broker: check available() first"
    due_at = (time.time() if now is None else now) + delay
    token = uuid.uuid4().hex
    try:
        started = found[1](keys=redis_keys(), args=[repr(due_at), token, FLAG_SECONDS, *pass_ids])
    except redis.RedisError:
        logger.warning("Wallet sync: could not schedule passes %s; the sweep will send them", pass_ids)
        return
    if started:
        _drain_task().apply_async((token,), countdown=delay)


def drain(token: str, *, now: float | None = None) -> tuple[list[int], float | None]:
    """Take the passes that are due (at most DRAIN_BATCH). Returns them and the
    moment this chain should drain again (None: the set is empty, or another
    chain owns it)."""
    found = _redis()
    if found is None:
        return [], None
    ids, next_due = found[2](
        keys=redis_keys(), args=[repr(time.time() if now is None else now), DRAIN_BATCH, FLAG_SECONDS, token]
    )
    return [int(pass_id) for pass_id in ids], float(next_due) if next_due else None


def _drain_task():
    # Reached through Celery's registry by name (services never import the tasks module).
    return current_app.tasks["loyalty.wallet.tasks.drain_due_syncs_task"]
