"""The production WSGI application wrapped for profiling (bench/profile_granian.py
runs granian on it): cProfile in process CPU time around each request, and
each SQL statement's wall time by its first words. Every worker writes its
figures to $PROFILE_DIR/<pid>.* every 200 requests."""

from __future__ import annotations

import cProfile
import json
import os
import time

from django.db import connection

from config.wsgi import application as _application

PROFILE_DIR = os.environ["PROFILE_DIR"]
# PROFILE_PYTHON=0: SQL timings and CPU only, without cProfile's overhead.
PROFILE_PYTHON = os.environ.get("PROFILE_PYTHON", "1") != "0"
_profiler = cProfile.Profile(time.process_time)
_statements: dict[str, list[float]] = {}
_requests = [0, 0.0]  # count, process CPU inside the WSGI callable


def _timed(execute, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        words = sql.split()
        label = words[0] if words[0] in ("SAVEPOINT", "RELEASE") else " ".join(words[:6])[:70]
        entry = _statements.setdefault(label, [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - started


def _dump() -> None:
    base = os.path.join(PROFILE_DIR, str(os.getpid()))
    _profiler.dump_stats(base + ".pstats")
    with open(base + ".json", "w") as out:
        json.dump({"requests": _requests[0], "cpu": _requests[1], "statements": _statements}, out)


def application(environ, start_response):
    cpu = time.process_time()
    if PROFILE_PYTHON:
        _profiler.enable()
    try:
        with connection.execute_wrapper(_timed):
            body = _application(environ, start_response)
            return [b"".join(body)]
    finally:
        if PROFILE_PYTHON:
            _profiler.disable()
        _requests[0] += 1
        _requests[1] += time.process_time() - cpu
        if _requests[0] % 200 == 0:
            _dump()
