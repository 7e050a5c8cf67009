"""``manage.py`` in a subprocess on the quick start's embedded defaults: SQLite and the
filesystem broker under ``var_dir``, whatever DATABASE_URL, CELERY_BROKER_URL and CACHE_URL the
test run itself uses (the tests that check the quick start runs what PostgreSQL runs)."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

_SERVICES = {"DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "DEBUG"}


def quickstart_manage(var_dir, *args: str, **environment: str) -> subprocess.CompletedProcess:
    """Run ``manage.py *args`` (``environment``: extra variables) and fail the test if it fails."""
    env = {k: v for k, v in os.environ.items() if k not in _SERVICES}
    env.update(VAR_DIR=str(var_dir), DEBUG="1", DJANGO_SETTINGS_MODULE="config.settings", **environment)
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result
