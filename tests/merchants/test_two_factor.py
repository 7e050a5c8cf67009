"""Two-factor authentication (issue 13): TOTP via django-otp with one-time recovery codes;
optional for merchant owners, required for platform staff before admin opens."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from merchants.models import AuditEvent, AuthenticatorDevice
from tests.factories import PASSWORD
from tests.merchants.test_platform_roles import staff_in
from tests.two_factor import current_code, password_only_login

pytestmark = pytest.mark.django_db


def log_in(client, user, code: str = "", url_name: str = "login"):
    data = {"username": user.email, "password": PASSWORD, "otp_token": code}
    return client.post(reverse(url_name), data)


def enable(client, user) -> tuple[AuthenticatorDevice, list[str]]:
    """Turn 2FA on through the settings page as the user would; returns the device and the codes shown."""
    page = client.get(reverse("two_factor"))
    assert page.status_code == 200 and b"<svg" in page.content
    device = AuthenticatorDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("two_factor"), {"action": "enable", "token": current_code(device)})
    assert response.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", response.content.decode())
    assert len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed
    return device, codes


def test_owner_logs_in_with_the_password_alone_until_2fa_is_on_then_needs_the_code(client, owner):
    response = log_in(client, owner)
    assert response.status_code == 302 and "_auth_user_id" in client.session
    device, _codes = enable(client, owner)
    assert AuditEvent.objects.filter(action="two_factor.enabled", target_id=str(owner.pk)).exists()
    client.logout()

    later = timezone.now() + timedelta(minutes=1)  # the next time step: a used code is never accepted twice
    with time_machine.travel(later, tick=False):
        response = log_in(client, owner)
        assert response.status_code == 200 and "_auth_user_id" not in client.session
        assert "authenticator" in response.content.decode() or "приложения" in response.content.decode()
        response = log_in(client, owner, "000000" if current_code(device) != "000000" else "111111")
        assert response.status_code == 200 and "_auth_user_id" not in client.session
    with time_machine.travel(later + timedelta(seconds=5), tick=False):  # past django-otp's throttle delay
        response = log_in(client, owner, current_code(device))
        assert response.status_code == 302 and "_auth_user_id" in client.session
        assert client.get(reverse("dashboard")).status_code == 200


def test_a_recovery_code_works_once(client, owner):
    client.force_login(owner)
    _device, codes = enable(client, owner)
    client.logout()
    assert log_in(client, owner, codes[0].upper()).status_code == 302
    client.logout()
    assert log_in(client, owner, codes[0]).status_code == 200
    assert "_auth_user_id" not in client.session
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        assert log_in(client, owner, codes[1]).status_code == 302
    page = client.get(reverse("two_factor"))
    assert "8" in page.content.decode()  # 8 recovery codes left


def test_staff_without_2fa_cannot_reach_admin_pages_and_are_sent_to_set_it_up(client):
    agent = staff_in("Support agent", "agent@platform.test")
    response = log_in(client, agent, url_name="admin:login")
    assert response.status_code == 302  # the password is right; the second factor is still missing
    for url in (reverse("admin:index"), reverse("admin:loyalty_customer_changelist")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor"))
    device, _codes = enable(client, agent)
    # The session that set the device up is verified by it.
    assert client.get(reverse("admin:index")).status_code == 200

    # Another session with the password alone (no code) is sent back to log in with the code.
    other = client.__class__()
    password_only_login(other, agent)
    response = other.get(reverse("admin:loyalty_customer_changelist"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert "_auth_user_id" not in other.session
    later = timezone.now() + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        response = log_in(other, agent, url_name="admin:login")
        assert response.status_code == 200 and "_auth_user_id" not in other.session
    with time_machine.travel(later + timedelta(seconds=5), tick=False):
        response = log_in(other, agent, current_code(device), url_name="admin:login")
        assert response.status_code == 302
        assert other.get(reverse("admin:loyalty_customer_changelist")).status_code == 200


def test_staff_cannot_turn_2fa_off_but_owners_can(client, owner):
    client.force_login(owner)
    device, _codes = enable(client, owner)
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        response = client.post(reverse("two_factor"), {"action": "disable", "token": current_code(device)})
    assert response.status_code == 302
    assert not AuthenticatorDevice.objects.filter(user=owner).exists()
    client.logout()
    assert log_in(client, owner).status_code == 302  # the password alone again

    agent = staff_in("Support agent", "agent@platform.test")
    staff = client.__class__()
    password_only_login(staff, agent)
    device, _codes = enable(staff, agent)
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        staff.post(reverse("two_factor"), {"action": "disable", "token": current_code(device)})
    assert AuthenticatorDevice.objects.filter(user=agent, confirmed=True).exists()


def test_the_settings_hub_offers_2fa_to_the_owner(client, owner):
    client.force_login(owner)
    page = client.get(reverse("merchant_settings")).content.decode()
    assert reverse("two_factor") in page


def test_the_demo_support_login_reaches_admin_with_the_printed_code(client):
    from io import StringIO

    from django.core.management import call_command

    from loyalty.management.commands.load_demo import DEMO_PASSWORD

    call_command("load_demo", customers=0, months=1, stdout=StringIO())
    out = StringIO()
    call_command("load_demo", print_totp=True, stdout=out)
    data = {"username": "support@platform.demo", "password": DEMO_PASSWORD, "otp_token": out.getvalue().strip()}
    assert client.post(reverse("admin:login"), data).status_code == 302
    assert client.get(reverse("admin:loyalty_customer_changelist")).status_code == 200


def wrong_code(device) -> str:
    return "000000" if current_code(device) != "000000" else "111111"


def test_wrong_codes_lock_the_second_step_even_for_the_right_code_until_the_wait_passes(client, owner):
    """django-otp's throttling on the authenticator and the recovery codes: each wrong code doubles the
    wait before the next code is even looked at (1, 2, 4 … s). After ten wrong codes in a row the wait is
    512 s: the right code, and a recovery code, are refused without being checked, with a message saying so."""
    client.force_login(owner)
    device, codes = enable(client, owner)
    client.logout()
    moment = timezone.now() + timedelta(minutes=1)
    for attempt in range(10):
        with time_machine.travel(moment, tick=False):
            response = log_in(client, owner, wrong_code(device))
            assert response.status_code == 200 and "_auth_user_id" not in client.session
        device.refresh_from_db()
        assert device.throttling_failure_count == attempt + 1  # each one was checked (and counted)
        moment += timedelta(seconds=2**attempt + 1)  # just past the wait this failure set
    moment -= timedelta(seconds=2**9 + 1)  # back to the tenth wrong code: the wait is now 512 s
    last_t = device.last_t
    for seconds in (1, 300, 510):
        with time_machine.travel(moment + timedelta(seconds=seconds), tick=False):
            response = client.post(
                reverse("login"),
                {"username": owner.email, "password": PASSWORD, "otp_token": current_code(device)},
                headers={"Accept-Language": "ru"},
            )
            page = response.content.decode()
            assert response.status_code == 200 and "_auth_user_id" not in client.session
            assert "Слишком много неверных кодов подряд" in page and "даже верный" in page
            assert log_in(client, owner, codes[0]).status_code == 200  # a recovery code waits too
    device.refresh_from_db()
    assert device.throttling_failure_count == 10 and device.last_t == last_t  # refused unchecked
    with time_machine.travel(moment + timedelta(seconds=513), tick=False):
        response = log_in(client, owner, current_code(device))
        assert response.status_code == 302 and "_auth_user_id" in client.session
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


def test_a_few_wrong_codes_read_as_wrong_codes_in_english(client, owner):
    client.force_login(owner)
    device, _codes = enable(client, owner)
    client.logout()
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        response = client.post(
            reverse("login"),
            {"username": owner.email, "password": PASSWORD, "otp_token": wrong_code(device)},
            headers={"Accept-Language": "en"},
        )
    assert "The code is wrong or has expired" in response.content.decode()


def raw_key_column(device) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_key FROM merchants_authenticatordevice WHERE id = %s", [device.pk])
        return bytes(cursor.fetchone()[0])


def test_the_authenticator_key_is_stored_encrypted_and_survives_key_rotation(client, owner, settings):
    import base64

    old, new = "old-secrets-key-for-2fa", "new-secrets-key-for-2fa"
    settings.SECRETS_ENCRYPTION_KEYS = [old]
    client.force_login(owner)
    device, _codes = enable(client, owner)
    key = device.bin_key
    stored = raw_key_column(device)
    for spelling in (key, key.hex().encode(), base64.b32encode(key), base64.b32encode(key).rstrip(b"=")):
        assert spelling not in stored
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM otp_totp_totpdevice")
        assert cursor.fetchone()[0] == 0  # no plain-text copy in django-otp's table
    client.logout()

    settings.SECRETS_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_secrets_key", stdout=open("/dev/null", "w"))
    assert raw_key_column(device) != stored
    settings.SECRETS_ENCRYPTION_KEYS = [new]  # the old key is gone
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        device.refresh_from_db()
        assert device.bin_key == key
        response = log_in(client, owner, current_code(device))
        assert response.status_code == 302 and "_auth_user_id" in client.session
    assert AuditEvent.objects.filter(action="secrets.rotated", after__authenticator_keys=1).exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_plain_keys():
    """Devices made by django-otp before the move keep working: migrating forward encrypts their keys
    into AuthenticatorDevice and empties otp_totp's table."""
    from django.db.migrations.executor import MigrationExecutor

    from tests import factories

    executor = MigrationExecutor(connection)
    executor.migrate([("merchants", "0008_support_console")])
    old_apps = executor.loader.project_state(
        [("merchants", "0008_support_console"), ("otp_totp", "0003_add_timestamps")]
    ).apps
    user = factories.UserFactory(email="plain@zerno.test")
    key = bytes(range(20))
    old_apps.get_model("otp_totp", "TOTPDevice").objects.create(
        user_id=user.pk, name="phone", key=key.hex(), confirmed=True, drift=1, last_t=42
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    device = AuthenticatorDevice.objects.get(user=user)
    assert device.bin_key == key and device.confirmed and device.drift == 1 and device.last_t == 42
    assert key.hex().encode() not in raw_key_column(device)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM otp_totp_totpdevice")
        assert cursor.fetchone()[0] == 0
