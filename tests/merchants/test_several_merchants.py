"""Issue 12: one person (an agency marketer, say) belongs to several merchants with
one login, a role in each, and switches between them in the dashboard's header.
The choice lives in the session and is checked on every request; inviting never
tells the inviter whether the address already has a login elsewhere."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from merchants import services
from merchants.models import Membership, Role, User
from tests import factories
from tests.merchants.helpers import login, password_login

pytestmark = pytest.mark.django_db

PASSWORD = factories.PASSWORD  # the factories' password of every user


@pytest.fixture
def agency(merchant, other_merchant):
    """A marketer of merchant A (``merchant``) who is also the cashier of merchant B."""
    person = factories.UserFactory(email="agency@studio.test", merchant=merchant, role=Role.MARKETER)
    factories.join(person, other_merchant, Role.CASHIER)
    return person


def switch(client, merchant):
    return client.post(reverse("merchant_switch"), {"merchant": merchant.pk})


def dashboard_lead(client) -> str:
    html = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    return " ".join(re.search(r'<p class="lead">(.*?)</p>', html, re.S).group(1).split())


def test_the_switcher_lists_the_persons_merchants_and_only_then(client, agency, merchant, other_merchant, owner):
    login(client, agency)
    html = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="merchant-switch"' in html
    options = re.findall(r'<option value="(\d+)"( selected)?>([^<]+)</option>', html)
    assert {(int(pk), name) for pk, _sel, name in options} == {
        (merchant.pk, merchant.name),
        (other_merchant.pk, other_merchant.name),
    }
    # Someone with one merchant sees no switcher.
    login(client, owner)
    assert 'data-testid="merchant-switch"' not in client.get(reverse("dashboard")).content.decode()


def test_switching_changes_the_merchant_and_the_role(client, agency, merchant, other_merchant):
    login(client, agency)
    first = dashboard_lead(client)
    assert first in (f"{merchant.name} · Marketer", f"{other_merchant.name} · Cashier")
    switch(client, merchant)
    assert dashboard_lead(client) == f"{merchant.name} · Marketer"
    assert client.get(reverse("program")).status_code == 200  # a marketer's page

    response = switch(client, other_merchant)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert dashboard_lead(client) == f"{other_merchant.name} · Cashier"
    # The role is the one held in B: a cashier there, so no program page.
    assert client.get(reverse("program")).status_code == 403
    assert client.get(reverse("till")).status_code == 200


def test_isolation_holds_after_switching(client, agency, merchant, other_merchant):
    location_a = factories.LocationFactory(merchant=merchant)
    location_b = factories.LocationFactory(merchant=other_merchant)
    factories.join(User.objects.get(pk=agency.pk), factories.MerchantFactory(), Role.OWNER)
    login(client, agency)
    Membership.objects.filter(user=agency).update(role=Role.OWNER)  # may open locations everywhere
    switch(client, merchant)
    assert client.get(reverse("location_edit", args=[location_a.pk])).status_code == 200
    assert client.get(reverse("location_edit", args=[location_b.pk])).status_code == 404
    switch(client, other_merchant)
    assert client.get(reverse("location_edit", args=[location_a.pk])).status_code == 404
    assert client.get(reverse("location_edit", args=[location_b.pk])).status_code == 200


def test_switching_to_a_merchant_one_does_not_belong_to_is_refused(client, agency, merchant):
    stranger = factories.MerchantFactory(name="Чужая кофейня")
    login(client, agency)
    switch(client, merchant)
    assert switch(client, stranger).status_code == 403
    assert dashboard_lead(client).startswith(merchant.name)
    assert switch(client, merchant).status_code == 302
    assert client.post(reverse("merchant_switch"), {"merchant": "x"}).status_code == 403


def test_a_deactivated_membership_is_out_of_reach_at_once(client, agency, merchant, other_merchant, other_owner):
    login(client, agency)
    switch(client, other_merchant)
    assert client.get(reverse("till")).status_code == 200
    services.staff_deactivate(merchant=other_merchant, user=agency, actor=other_owner)
    # The very next request: back in the merchant they still belong to; B cannot be chosen.
    assert dashboard_lead(client) == f"{merchant.name} · Marketer"
    assert switch(client, other_merchant).status_code == 403
    assert 'data-testid="merchant-switch"' not in client.get(reverse("dashboard")).content.decode()
    # Removed altogether: the same.
    Membership.objects.filter(user=agency, merchant=merchant).delete()
    assert client.get(reverse("dashboard")).status_code == 403


def test_deactivating_someone_in_one_merchant_leaves_the_other(client, agency, merchant, other_merchant, owner):
    login(client, owner)
    client.post(reverse("staff_deactivate", args=[agency.pk]))
    assert not Membership.objects.get(user=agency, merchant=merchant).is_active
    assert Membership.objects.get(user=agency, merchant=other_merchant).is_active
    other = client.__class__()
    assert password_login(other, agency.email, PASSWORD)
    assert dashboard_lead(other) == f"{other_merchant.name} · Cashier"


# Invitations to an address that already has a login ---------------------------------------


def invite(client, email):
    return client.post(reverse("invitation_create"), {"email": email, "role": "marketer"})


def issued_page(client) -> str:
    return client.get(reverse("staff_list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_inviter_cannot_tell_whether_the_address_has_a_login(client, owner, other_owner):
    login(client, owner)
    answers = []
    for email in ("nobody@fresh.test", other_owner.email):
        response = invite(client, email)
        page = issued_page(client)
        token = re.search(r"/invite/([^/\s\"<]+)/", mail.outbox[-1].body).group(1)
        answers.append(
            (
                response.status_code,
                response["Location"],
                page.replace(email, "EMAIL").replace(token, "TOKEN").replace("nobody@fresh.test", "EMAIL"),
                mail.outbox[-1].body.replace(email, "EMAIL").replace(token, "TOKEN"),
                mail.outbox[-1].subject,
            )
        )
    # The second page also lists the first invitation; compare what is about the new one.
    (s1, l1, _p1, body1, subject1), (s2, l2, p2, body2, subject2) = answers
    assert (s1, l1, body1, subject1) == (s2, l2, body2, subject2)
    assert "already exists" not in p2 and "уже существует" not in p2


def test_an_existing_login_joins_with_its_password(client, owner, merchant, other_owner, other_merchant):
    issued = services.invitation_create(merchant=merchant, email=other_owner.email, role=Role.MARKETER, actor=owner)
    url = reverse("invitation_accept", args=[issued.token])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "You already have a login" in page and 'name="password1"' not in page

    wrong = client.post(url, {"password": "not-the-password"}, HTTP_ACCEPT_LANGUAGE="en")
    assert wrong.status_code == 200 and "Wrong password" in wrong.content.decode()
    assert not Membership.objects.filter(user=other_owner, merchant=merchant).exists()
    assert "_auth_user_id" not in client.session

    response = client.post(url, {"password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert User.objects.filter(email=other_owner.email).count() == 1  # no second account
    roles = {m.merchant_id: m.role for m in Membership.objects.filter(user=other_owner, is_active=True)}
    assert roles == {merchant.pk: Role.MARKETER, other_merchant.pk: Role.OWNER}
    # Logged in, in the inviting merchant, able to switch back.
    assert dashboard_lead(client) == f"{merchant.name} · Marketer"
    switch(client, other_merchant)
    assert dashboard_lead(client) == f"{other_merchant.name} · Owner"
    assert client.get(url).status_code == 410  # used


def test_a_logged_in_invitee_joins_with_one_click(client, owner, merchant, other_owner):
    issued = services.invitation_create(merchant=merchant, email=other_owner.email, role=Role.CASHIER, actor=owner)
    login(client, other_owner)
    url = reverse("invitation_accept", args=[issued.token])
    assert "Join the team" in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert client.post(url).status_code == 302
    assert Membership.objects.get(user=other_owner, merchant=merchant).role == Role.CASHIER
    assert dashboard_lead(client) == f"{merchant.name} · Cashier"


def test_someone_else_logged_in_cannot_use_the_invitation(client, owner, merchant, other_owner, cashier):
    issued = services.invitation_create(merchant=merchant, email=other_owner.email, role=Role.CASHIER, actor=owner)
    login(client, cashier)
    url = reverse("invitation_accept", args=[issued.token])
    assert "Log out, then open the link again" in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert client.post(url, {"password": PASSWORD}).status_code == 409
    assert not Membership.objects.filter(user=other_owner, merchant=merchant).exists()
    issued.invitation.refresh_from_db()
    assert issued.invitation.accepted_at is None


def test_a_former_member_rejoins_with_the_new_role(client, owner, merchant, cashier):
    services.staff_deactivate(merchant=merchant, user=cashier, actor=owner)
    # Still listed (deactivated): the owner reactivates instead of inviting.
    with pytest.raises(services.MerchantError):
        services.invitation_create(merchant=merchant, email=cashier.email, role=Role.MARKETER, actor=owner)
    Membership.objects.filter(user=cashier).delete()
    issued = services.invitation_create(merchant=merchant, email=cashier.email, role=Role.MARKETER, actor=owner)
    membership = services.invitation_join(token=issued.token, user=cashier)
    assert (membership.role, membership.is_active) == (Role.MARKETER, True)


def test_platform_staff_cannot_join_a_team(owner, merchant):
    support = factories.UserFactory(email="help@platform.test", merchant=None, is_staff=True)
    issued = services.invitation_create(merchant=merchant, email=support.email, role=Role.CASHIER, actor=owner)
    with pytest.raises(services.InvitationInvalid):
        services.invitation_join(token=issued.token, user=support)
    assert not support.memberships.exists()
