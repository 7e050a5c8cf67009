"""Shared fixtures. Tests run on real PostgreSQL (DATABASE_URL) and real Redis
(CELERY_BROKER_URL); people are named after their roles."""

import os
from datetime import UTC, datetime

import pytest
import time_machine
from django.conf import settings
from django.dispatch import receiver
from django.test.signals import setting_changed

from tests import factories
from tests.browser import _chromium, browser  # noqa: F401 -- the Playwright fixtures, for every browser test


def pytest_configure(config):
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        raise pytest.UsageError(
            "The tests run on PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty "
            "(make test does this for you)."
        )
    os.makedirs(settings.BASE_DIR / "artifacts", exist_ok=True)
    # Each pytest process (and each xdist worker) publishes to and consumes from a queue of its own, so
    # runs sharing one Redis database never take each other's tasks.
    from config.celery import app

    app.conf.task_default_queue = f"tests-{os.getpid()}"


def pytest_unconfigure(config):
    from config.celery import app

    if app.conf.task_default_queue.startswith("tests-"):
        try:
            app.control.purge()  # an emptied Redis list is gone
        except Exception:  # noqa: BLE001 - the broker may be unreachable; nothing to clean then
            pass


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # Under pytest-xdist (--dist loadgroup) the browser tests all go to one worker: one Chromium per run.
    for item in items:
        if item.get_closest_marker("browser") or "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server, serving what production serves: the POS purchase lane in front of
    Django (config/wsgi.py), so the API's live-server tests (concurrency, schemathesis) go through it."""
    from pytest_django.live_server_helper import LiveServer

    from loyalty.api.lane import PosPurchaseLane

    server = LiveServer(
        request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost",
        start=False,
    )
    static_handler = server.thread.static_handler
    server.thread.static_handler = lambda app: PosPurchaseLane(static_handler(app))
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's default language (LANGUAGE_CODE), as each request does: a test
    client's request in another language leaves it active in the thread (LocaleMiddleware activates a
    request's language and nothing deactivates it), and the next test on that worker would otherwise see
    its messages in that language."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def merchant(db):
    return factories.MerchantFactory(name="Кофейня «Зерно»")


@pytest.fixture
def location(merchant):
    return factories.LocationFactory(merchant=merchant, name="Тверская")


@pytest.fixture
def owner(merchant):
    return factories.UserFactory(merchant=merchant, role="owner", email="owner@zerno.test")


@pytest.fixture
def marketer(merchant):
    return factories.UserFactory(merchant=merchant, role="marketer", email="marketer@zerno.test")


@pytest.fixture
def cashier(merchant):
    return factories.UserFactory(merchant=merchant, role="cashier", email="cashier@zerno.test")


@pytest.fixture
def other_merchant(db):
    return factories.MerchantFactory(name="Barbershop Other")


@pytest.fixture
def other_owner(other_merchant):
    return factories.UserFactory(merchant=other_merchant, role="owner", email="owner@other.test")


@receiver(setting_changed)
def _celery_follows_eager_setting(*, setting, value, **kwargs):
    # Celery reads Django's CELERY_* settings once, when its configuration is first used; a test that
    # sets ``settings.CELERY_TASK_ALWAYS_EAGER`` after that (whichever test ran first on this worker)
    # must still get eager tasks, and the next test must get them back as they were.
    if setting in ("CELERY_TASK_ALWAYS_EAGER", "CELERY_TASK_EAGER_PROPAGATES"):
        from config.celery import app

        setattr(app.conf, setting.removeprefix("CELERY_").lower(), bool(value))


@pytest.fixture(autouse=True)
def _staff_sessions_with_second_factor(monkeypatch):
    """Platform staff open admin only after the second factor (issue 13). A test that logs
    staff in with ``force_login`` stands for a complete log-in: the user gets a confirmed
    authenticator and the session is marked verified, as django-otp does after a code.
    Tests of the second factor itself log in through the forms, or with
    ``tests.two_factor.password_only_login``."""
    from django.test import Client

    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        if user.is_staff:
            from tests.two_factor import mark_verified

            mark_verified(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)
    monkeypatch.setattr(Client, "password_only_force_login", original, raising=False)


@pytest.fixture
def one_rate_limit_window():
    """The clock at the start of an hour, running: a test that counts requests against a rate limit (a
    minute's, ten minutes' or an hour's fixed window) stays inside one window. On the real clock such a
    test fails whenever its requests straddle a window's end. A live server's thread shares the clock."""
    with time_machine.travel(datetime(2026, 6, 1, 9, 0, 1, tzinfo=UTC), tick=True):
        yield
