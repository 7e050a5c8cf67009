"""Login brute force (issue 13): ten wrong passwords in a row lock the account and
the address out; the eleventh attempt is refused without its password being
checked, and the right password is refused too until the lockout ends. The
dashboard's login and admin's are throttled alike."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.hashers import MD5PasswordHasher
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD, UserFactory

CHECKED: list[str] = []


class CountingHasher(MD5PasswordHasher):
    """The test's password hasher: records each password it checks."""

    def verify(self, password, encoded):
        CHECKED.append(password)
        return super().verify(password, encoded)


@pytest.fixture(autouse=True)
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["tests.merchants.test_login_throttling.CountingHasher"]
    CHECKED.clear()
    yield CHECKED
    CHECKED.clear()


@pytest.fixture
def support(db):
    return UserFactory(email="support@platform.test", merchant=None, role="", is_staff=True, is_superuser=True)


LOGINS = {
    "dashboard": (lambda: reverse("login"), "owner@zerno.test"),
    "admin": (lambda: reverse("admin:login"), "support@platform.test"),
}


def _post(client, url, username, password, **extra):
    return client.post(url, {"username": username, "password": password, "next": "/"}, **extra)


@pytest.mark.parametrize("form", ["dashboard", "admin"])
def test_eleventh_wrong_password_is_not_checked_and_the_right_one_waits_for_the_lockout(
    client, owner, support, form, counting_hasher
):
    url_of, email = LOGINS[form]
    url = url_of()
    started = timezone.now()
    with time_machine.travel(started, tick=False) as clock:
        for attempt in range(1, 11):
            response = _post(client, url, email, f"wrong-{attempt}")
            assert f"wrong-{attempt}" in counting_hasher  # each of the first ten is really checked
            # The tenth failure locks: its answer already says so.
            assert response.status_code == (429 if attempt == 10 else 200), attempt

        response = _post(client, url, email, "wrong-11")
        assert response.status_code == 429
        assert "wrong-11" not in counting_hasher
        assert "Слишком много неверных паролей" in response.content.decode()

        clock.shift(dt.timedelta(minutes=14))
        response = _post(client, url, email, PASSWORD)
        assert response.status_code == 429
        assert PASSWORD not in counting_hasher
        assert "_auth_user_id" not in client.session

        clock.shift(dt.timedelta(minutes=2))  # 16 minutes after the last counted failure
        response = _post(client, url, email, PASSWORD)
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str((owner if form == "dashboard" else support).pk)


def test_lockout_is_per_account_from_any_address(client, owner, marketer):
    for i in range(10):
        _post(client, reverse("login"), "OWNER@zerno.test ", f"wrong-{i}", REMOTE_ADDR=f"192.0.2.{i}")
    # The account is locked whatever address and spelling come next ...
    assert _post(client, reverse("login"), "owner@zerno.test", PASSWORD, REMOTE_ADDR="192.0.2.200").status_code == 429
    # ... while another account from those addresses still logs in.
    response = _post(client, reverse("login"), marketer.email, PASSWORD, REMOTE_ADDR="192.0.2.3")
    assert response.status_code == 302


def test_lockout_is_per_address_whatever_account_is_tried(client, owner, settings, counting_hasher):
    settings.BEHIND_HTTPS_PROXY = True
    # One client (the hop our proxy appends last) guessing ten different accounts ...
    for i in range(10):
        _post(client, reverse("login"), f"guess{i}@nowhere.test", "x", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}, 198.51.100.7")
    # ... is refused even for a real account and its right password.
    counting_hasher.clear()
    locked = _post(client, reverse("login"), owner.email, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert locked.status_code == 429 and counting_hasher == []
    # The hops before ours are whatever the client wrote: changing them does not escape.
    spoofed = _post(client, reverse("login"), owner.email, PASSWORD, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    assert spoofed.status_code == 429
    # Another client behind the same proxy logs in.
    other = _post(client, reverse("login"), owner.email, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert other.status_code == 302


def test_a_success_clears_the_count(client, owner):
    for i in range(9):
        _post(client, reverse("login"), owner.email, f"wrong-{i}")
    assert _post(client, reverse("login"), owner.email, PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for i in range(9):
        assert _post(client, reverse("login"), owner.email, f"again-{i}").status_code == 200
    assert _post(client, reverse("login"), owner.email, PASSWORD).status_code == 302
