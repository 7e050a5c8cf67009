"""With DEBUG=0 the settings refuse to start on the development secrets. Each case imports the settings
in a fresh interpreter, as a server process would."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

STRONG_SECRET = "k" * 64
# A Fernet-style key that is not the development one.
OTHER_ENCRYPTION_KEY = "b3RoZXItcHJvZHVjdGlvbi1rZXktZm9yLXRlc3RzLTE="

PRINT_SETTINGS = "import django; django.setup(); from django.conf import settings; print('DEBUG', settings.DEBUG)"


def start(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "SECRETS_ENCRYPTION_KEY", "DEBUG"}}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", ALLOWED_HOSTS="loyalty.example", **env)
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "env, message",
    [
        ({}, "SECRET_KEY must be set when DEBUG is off."),
        ({"SECRET_KEY": "insecure-dev-key-do-not-use-in-production"}, "SECRET_KEY must be set when DEBUG is off."),
        ({"SECRET_KEY": STRONG_SECRET}, "SECRETS_ENCRYPTION_KEY must be set when DEBUG is off."),
        (
            # The development key kept among the rotation list is refused too.
            {
                "SECRET_KEY": STRONG_SECRET,
                "SECRETS_ENCRYPTION_KEY": f"{OTHER_ENCRYPTION_KEY},ZGV2LW9ubHktc2VjcmV0cy1rZXktbm90LWZvci1wcm9k",
            },
            "SECRETS_ENCRYPTION_KEY must be set when DEBUG is off.",
        ),
    ],
)
def test_debug_off_refuses_the_development_secrets(env, message):
    result = start(DEBUG="0", **env)
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr, result.stderr[-2000:]
    assert "DEBUG" not in result.stdout


def test_debug_off_starts_with_real_secrets():
    result = start(DEBUG="0", SECRET_KEY=STRONG_SECRET, SECRETS_ENCRYPTION_KEY=OTHER_ENCRYPTION_KEY)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "DEBUG False"


def test_debug_on_starts_with_the_development_secrets():
    result = start(DEBUG="1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "DEBUG True"
