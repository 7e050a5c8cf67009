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


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "SECRETS_ENCRYPTION_KEY", "DEBUG"}}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", ALLOWED_HOSTS="loyalty.example", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "p" * 20 + "-Q7w!x9#Lm2@Zr5$Tn8%Vb4^Kc6&Hd1*",
    "SECRETS_ENCRYPTION_KEY": OTHER_ENCRYPTION_KEY,
}


def test_production_settings_pass_check_deploy_with_no_warning():
    result = run(["check", "--deploy", "--fail-level", "WARNING"], BEHIND_HTTPS_PROXY="1", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "no issues" in result.stdout


def test_check_deploy_notices_a_missing_https_redirect():
    # The check is real: switching a protection off makes it fail.
    result = run(["check", "--deploy", "--fail-level", "WARNING"], SECURE_SSL_REDIRECT="0", **PRODUCTION)
    assert result.returncode != 0 and "security.W008" in result.stderr + result.stdout


PRINT_SECURITY = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0, "
    "s.SECURE_PROXY_SSL_HEADER)"
)


@pytest.mark.parametrize("proxy, header", [("1", "('HTTP_X_FORWARDED_PROTO', 'https')"), ("0", "None")])
def test_debug_off_sets_secure_cookies_https_and_trusts_the_proxy_header_only_when_told(proxy, header):
    environment = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "SECRETS_ENCRYPTION_KEY", "DEBUG"}}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", ALLOWED_HOSTS="loyalty.example")
    environment.update(PRODUCTION, BEHIND_HTTPS_PROXY=proxy)
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SECURITY],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"True True True True {header}"
