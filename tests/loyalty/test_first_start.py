"""The quick start on SQLite, as `make run` does it (bin/run), in subprocesses: the
web server answers while the demo data is still loading behind it, the dashboard
says so plainly, the loader shows a progress bar with an estimate, and the demo
completes with a ledger that verifies.

The demo is smaller than `make run`'s (the whole one takes minutes on a shared
machine); the mechanism is the same command with the same options. The test waits
for events (the loader's progress file, the server's first answer, the loader's
exit), never for a wall-clock bound."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest
from django.conf import settings

ROOT = settings.BASE_DIR


def _env(var_dir) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"}}
    env.update(VAR_DIR=str(var_dir), DEBUG="1", DJANGO_SETTINGS_MODULE="config.settings", LANGUAGE_CODE="en")
    return env


def _manage(env, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True, **kwargs
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(var_dir) -> dict:
    try:
        return json.loads((var_dir / "demo-status.json").read_text())
    except (OSError, ValueError):
        return {}


def _until(condition, what: str, proc=None):
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"gave up waiting for {what}: the process exited with {proc.returncode}")
        time.sleep(0.1)


# Migrations, a server and a loader on a shared two-core machine: more than the suite's default guard.
@pytest.mark.timeout(1200)
def test_site_answers_while_demo_loads_then_ledger_verifies(tmp_path):
    var_dir = tmp_path / "var"
    env = _env(var_dir)
    _manage(env, "migrate", "--noinput")
    _manage(env, "load_demo", "--staff-only")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    # The server's log goes to a file, so that a failed answer's traceback is in the failure's message.
    server_log = tmp_path / "server.log"
    with server_log.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    loader = None
    try:

        def answers() -> bool:
            try:
                return httpx.get(f"{base}/login/", timeout=10).status_code == 200
            except httpx.TransportError:
                return False

        # As bin/run does it: the site first, then the demo behind it. The demo is the one `make run`
        # loads (about 20,000 events, tens of seconds at least), so a login right after its first
        # events finds it loading; 3,000 events were seen to finish before a login did.
        _until(answers, "the web server", server)
        loader = subprocess.Popen(
            [sys.executable, "manage.py", "load_demo", "--customers", "2000", "--months", "12"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        # The loader is under way: its progress file counts events.
        _until(lambda: _status(var_dir).get("done", 0) > 0, "the demo's first events", loader)
        with httpx.Client(
            base_url=base, timeout=60, follow_redirects=True, headers={"Accept-Language": "en"}
        ) as client:
            login = client.get("/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
            dashboard = client.post(
                "/login/",
                data={"username": "owner@zerno.demo", "password": "zerno-demo-2026", "csrfmiddlewaretoken": token},
                headers={"Referer": f"{base}/login/"},
            )
        after = _status(var_dir)
        assert dashboard.status_code == 200, server_log.read_text()[-5000:]
        assert dashboard.url.path == "/dashboard/"
        # Answered before the demo finished loading, and said so.
        assert after["state"] == "loading" and after["done"] < after["total"], after
        assert "Demo data is still loading." in dashboard.text
        assert re.search(r"\d+% done", dashboard.text)

        out, err = loader.communicate()
        assert loader.returncode == 0, err
    finally:
        for proc in (loader, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait()
    # A progress bar with an estimate on the terminal, then the summary.
    assert re.search(r"Demo data: +\d+%\|.*\| \d+/\d+ \[.* so far, about .* left\]", err), err[-500:]
    assert "Demo data loaded: 2000 customers" in out
    final = _status(var_dir)
    assert final["state"] == "done" and final["done"] == final["total"] > 0
    assert "OK: the ledger verifies." in _manage(env, "verify_ledger").stdout
    # A second start finds the demo loaded and leaves it alone.
    assert "Demo data already loaded" in _manage(env, "load_demo").stdout
