"""Issue 12: the owner changes a staff member's role (never leaving the merchant
without an active owner), and re-inviting an address with an open invitation
asks (send again / replace) instead of replacing it silently."""

import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation

from merchants import services
from merchants.models import Invitation, Role
from tests.merchants.helpers import login, role_in, snapshot

pytestmark = pytest.mark.django_db


def change_role(client, member, role, language="en"):
    return client.post(reverse("staff_role", args=[member.pk]), {"role": role}, HTTP_ACCEPT_LANGUAGE=language)


def test_owner_makes_a_cashier_a_marketer(client, merchant, owner, cashier):
    login(client, owner)
    response = change_role(client, cashier, Role.MARKETER)
    assert response.status_code == 302
    assert role_in(cashier, merchant) == Role.MARKETER
    page = client.get(reverse("staff_list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "cashier@zerno.test is now: Marketer." in page or f"{cashier.email} is now: Marketer." in page


def test_the_new_role_takes_effect(client, owner, cashier):
    login(client, owner)
    login(client.__class__(), cashier)
    other = client.__class__()
    login(other, cashier)
    assert other.get(reverse("program")).status_code == 403
    change_role(client, cashier, Role.MARKETER)
    assert other.get(reverse("program")).status_code == 200


def test_the_only_active_owner_cannot_be_demoted(merchant, owner, marketer):
    # Through the service: even with the owner acting on themselves.
    with translation.override("en"), pytest.raises(services.MerchantError, match="only active owner"):
        services.staff_change_role(merchant=merchant, user=owner, role=Role.CASHIER)
    assert role_in(owner, merchant) == Role.OWNER


def test_an_owner_can_be_demoted_when_another_owner_remains(client, merchant, owner, marketer):
    services.staff_change_role(merchant=merchant, user=marketer, role=Role.OWNER)
    login(client, marketer)
    response = change_role(client, owner, Role.CASHIER, language="ru")
    assert response.status_code == 302
    assert role_in(owner, merchant) == Role.CASHIER
    # Now the marketer is the only owner: the cashier-ex-owner cannot be the one to demote them either way.
    with pytest.raises(services.MerchantError):
        services.staff_change_role(merchant=merchant, user=marketer, role=Role.MARKETER)


def test_an_inactive_owner_does_not_count(merchant, owner, marketer):
    services.staff_change_role(merchant=merchant, user=marketer, role=Role.OWNER)
    services.staff_deactivate(merchant=merchant, user=marketer, actor=owner)
    with pytest.raises(services.MerchantError):
        services.staff_change_role(merchant=merchant, user=owner, role=Role.MARKETER)


def test_demoting_the_last_owner_from_the_page_says_why(client, owner, marketer):
    login(client, owner)
    before = snapshot()
    response = client.post(
        reverse("staff_role", args=[owner.pk]), {"role": "cashier"}, HTTP_ACCEPT_LANGUAGE="en", follow=True
    )
    assert "owner@zerno.test is the only active owner. Make someone else an owner first." in response.content.decode()
    assert snapshot() == before


def test_role_change_needs_the_owner_and_a_known_role(client, owner, marketer, cashier):
    login(client, marketer)
    assert change_role(client, cashier, Role.OWNER).status_code == 403
    login(client, owner)
    before = snapshot()
    response = client.post(reverse("staff_role", args=[cashier.pk]), {"role": "king"}, follow=True)
    assert "Choose a role." in response.content.decode() or "Выберите роль." in response.content.decode()
    assert snapshot() == before


def test_other_merchants_staff_is_not_found(client, owner, other_owner, other_merchant):
    login(client, owner)
    assert change_role(client, other_owner, Role.CASHIER).status_code == 404
    assert role_in(other_owner, other_merchant) == Role.OWNER


# Re-inviting --------------------------------------------------------------


def invite(client, *, on_pending=None, role="cashier", language="en"):
    data = {"email": "new@zerno.test", "role": role}
    if on_pending:
        data["on_pending"] = on_pending
    return client.post(reverse("invitation_create"), data, HTTP_ACCEPT_LANGUAGE=language)


def token_from_mail() -> str:
    return re.search(r"/invite/([^/\s]+)/", mail.outbox[-1].body).group(1)


def test_reinviting_asks_and_changes_nothing(client, owner):
    login(client, owner)
    invite(client)
    before = snapshot()
    response = invite(client, role="marketer")
    assert response.status_code == 409
    page = response.content.decode()
    assert "new@zerno.test already has an open invitation. Send it again, or replace it?" in page
    assert "Send it again (as Cashier)" in page and "Replace it (as Marketer)" in page
    assert snapshot() == before


def test_reinviting_asks_in_russian(client, owner):
    login(client, owner)
    invite(client, language="ru")
    page = invite(client, role="marketer", language="ru").content.decode()
    assert "У new@zerno.test уже есть открытое приглашение. Отправить его ещё раз или заменить?" in page


def test_send_again_keeps_the_role_and_replaces_the_link(client, owner):
    login(client, owner)
    invite(client)
    first = token_from_mail()
    assert invite(client, on_pending="resend", role="marketer").status_code == 302
    second = token_from_mail()
    assert first != second
    invitation = Invitation.objects.get(email="new@zerno.test")  # still one invitation
    assert invitation.role == Role.CASHIER and invitation.revoked_at is None
    assert client.get(reverse("invitation_accept", args=[first])).status_code == 410
    assert client.get(reverse("invitation_accept", args=[second])).status_code == 200


def test_replace_issues_a_new_invitation_with_the_new_role(client, owner):
    login(client, owner)
    invite(client)
    assert invite(client, on_pending="replace", role="marketer").status_code == 302
    old, new = Invitation.objects.filter(email="new@zerno.test").order_by("created_at")
    assert old.revoked_at is not None and new.revoked_at is None and new.role == Role.MARKETER


def test_send_again_from_the_staff_list(client, owner):
    login(client, owner)
    invite(client)
    invitation = Invitation.objects.get()
    sent = len(mail.outbox)
    response = client.post(reverse("invitation_resend", args=[invitation.pk]), follow=True)
    assert len(mail.outbox) == sent + 1
    assert 'data-testid="invitation-link"' in response.content.decode()
