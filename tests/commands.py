"""Tests that need a command-line tool (openssl, xgettext). Locally a missing tool skips them; in CI
(``CI=true``), where .ci/run and bin/test install the tools, a missing tool FAILS them instead, so the
checks can never be skipped unnoticed."""

from __future__ import annotations

import functools
import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def needs_command(name: str, *, reason: str = "", package: str = ""):
    """Decorator: run the test when ``name`` is on PATH; otherwise skip it, or fail it in CI."""
    why = reason or f"{name} not installed"

    def decorate(test):
        if shutil.which(name) is not None:
            return test
        if in_ci():

            @functools.wraps(test)
            def missing(*args, **kwargs):
                pytest.fail(f"{why}: CI installs it (apt-get install {package or name}), so this check must run here")

            return missing
        return pytest.mark.skip(reason=why)(test)

    return decorate
