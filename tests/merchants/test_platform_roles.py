"""Platform staff roles (issue 13): support agent, support lead and platform admin
are Django groups with least privilege; the demo support login is an agent, not a
superuser; merchant staff never reach admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from loyalty.enrollment.services import enroll_customer
from loyalty.program.services import program_for
from merchants.models import User
from merchants.platform_roles import PLATFORM_ADMIN, SUPPORT_AGENT, SUPPORT_LEAD, sync_platform_groups
from tests import factories
from tests.factories import PASSWORD
from tests.loyalty.test_admin import complete_form_data

pytestmark = pytest.mark.django_db


def staff_in(group_name: str, email: str) -> User:
    user = factories.UserFactory(email=email, merchant=None, role="", is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def agent(db):
    return staff_in(SUPPORT_AGENT, "agent@platform.test")


@pytest.fixture
def lead(db):
    return staff_in(SUPPORT_LEAD, "lead@platform.test")


@pytest.fixture
def platform_admin(db):
    return staff_in(PLATFORM_ADMIN, "admin@platform.test")


@pytest.fixture
def card(merchant, location):
    program_for(merchant=merchant)
    return enroll_customer(merchant=merchant, phone="+79165550202", name="Борис", location=location)


def as_user(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_the_groups_exist_after_migrate_and_a_resync_keeps_them_exact():
    names = set(Group.objects.values_list("name", flat=True))
    assert {SUPPORT_AGENT, SUPPORT_LEAD, PLATFORM_ADMIN} <= names
    agent = Group.objects.get(name=SUPPORT_AGENT)
    perms = {f"{p.content_type.app_label}.{p.codename}" for p in agent.permissions.select_related("content_type")}
    assert {"loyalty.view_ledgerentry", "loyalty.change_card", "loyalty.change_customer"} <= perms
    assert {"merchants.view_auditevent", "merchants.view_merchant"} <= perms
    assert not any(p.split(".")[1].startswith(("delete_", "add_")) for p in perms)
    assert not {"merchants.change_user", "auth.change_group", "merchants.change_merchant"} & perms
    # A permission granted by hand is taken back by the next sync.
    agent.permissions.add(*Group.objects.get(name=PLATFORM_ADMIN).permissions.filter(codename="delete_merchant"))
    sync_platform_groups()
    assert not agent.permissions.filter(codename="delete_merchant").exists()


def test_support_agent_works_on_cards_and_customers_only(client, agent, card, merchant, owner):
    as_user(client, agent)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:loyalty_ledgerentry_changelist")).status_code == 200
    assert client.get(reverse("admin:merchants_auditevent_changelist")).status_code == 200
    url = reverse("admin:loyalty_card_adjust", args=[card.pk])
    key = client.get(url).context["form"].initial["idempotency_key"]
    response = client.post(url, {"points": 50, "reason": "Компенсация", "idempotency_key": key})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.balance >= 50
    # Correcting a customer's name is allowed ...
    customer_url = reverse("admin:loyalty_customer_change", args=[card.customer_id])
    data = complete_form_data(client.get(customer_url))
    data["name"] = "Борис Петров"
    assert client.post(customer_url, data).status_code == 302
    # ... changing a merchant, a user, a group, or deleting anything is not.
    merchant_url = reverse("admin:merchants_merchant_change", args=[merchant.pk])
    merchant_form = client.get(merchant_url)
    assert merchant_form.status_code == 200 and not merchant_form.context["has_change_permission"]
    assert client.post(merchant_url, {"name": "Взлом"}).status_code == 403
    merchant.refresh_from_db()
    assert merchant.name == "Кофейня «Зерно»"
    user_url = reverse("admin:merchants_user_change", args=[owner.pk])
    assert client.post(user_url, {"email": "x@x.test"}).status_code == 403
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403
    location = factories.LocationFactory(merchant=merchant)
    delete_url = reverse("admin:merchants_location_delete", args=[location.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:merchants_user_add")).status_code == 403


def test_support_lead_also_changes_merchants_but_not_people(client, lead, merchant, owner):
    as_user(client, lead)
    merchant_url = reverse("admin:merchants_merchant_change", args=[merchant.pk])
    data = complete_form_data(client.get(merchant_url))
    data["name"] = "Зерно на Тверской"
    assert client.post(merchant_url, data).status_code == 302
    merchant.refresh_from_db()
    assert merchant.name == "Зерно на Тверской"
    assert client.post(reverse("admin:merchants_user_change", args=[owner.pk]), {}).status_code == 403
    assert client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 200


def test_platform_admin_manages_people_without_being_superuser(client, platform_admin, owner):
    assert not platform_admin.is_superuser
    as_user(client, platform_admin)
    url = reverse("admin:merchants_user_change", args=[owner.pk])
    data = complete_form_data(client.get(url))
    data["full_name"] = "Ольга Смирнова"
    assert client.post(url, data).status_code == 302
    owner.refresh_from_db()
    assert owner.full_name == "Ольга Смирнова"
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 200


def test_merchant_staff_never_reach_admin(client, owner):
    response = client.post(reverse("admin:login"), {"username": owner.email, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    as_user(client, owner)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_the_demo_support_login_is_a_support_agent(db):
    call_command("load_demo", customers=0, months=1, stdout=open("/dev/null", "w"))
    support = User.objects.get(email="support@platform.demo")
    assert support.is_staff and not support.is_superuser
    assert list(support.groups.values_list("name", flat=True)) == [SUPPORT_AGENT]
    assert support.has_perm("loyalty.change_card") and not support.has_perm("merchants.change_user")
