"""Two-factor authentication (issue 13): TOTP via django-otp with one-time recovery codes;
optional for merchant owners, required for platform staff before admin opens."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from merchants.models import AuditEvent
from tests.factories import PASSWORD
from tests.merchants.test_platform_roles import staff_in
from tests.two_factor import current_code, password_only_login

pytestmark = pytest.mark.django_db


def log_in(client, user, code: str = "", url_name: str = "login"):
    data = {"username": user.email, "password": PASSWORD, "otp_token": code}
    return client.post(reverse(url_name), data)


def enable(client, user) -> tuple[TOTPDevice, list[str]]:
    """Turn 2FA on through the settings page as the user would; returns the device and the codes shown."""
    page = client.get(reverse("two_factor"))
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
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
    assert not TOTPDevice.objects.filter(user=owner).exists()
    client.logout()
    assert log_in(client, owner).status_code == 302  # the password alone again

    agent = staff_in("Support agent", "agent@platform.test")
    staff = client.__class__()
    password_only_login(staff, agent)
    device, _codes = enable(staff, agent)
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        staff.post(reverse("two_factor"), {"action": "disable", "token": current_code(device)})
    assert TOTPDevice.objects.filter(user=agent, confirmed=True).exists()


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
