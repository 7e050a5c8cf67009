"""The permission matrix (issue 13): every route, walked from the URL resolver (so a
new route is covered without editing this file), requested with GET by each role:
the merchant's owner, marketer and cashier, the platform's support agent, support
lead and platform admin, and an anonymous visitor.

- A dashboard page (a view with ``allowed_roles``, i.e. MerchantStaffRequiredMixin):
  the roles it lists get it (any answer but 401/403, a login redirect or a 5xx;
  a POST-only view's 405 counts), the other merchant roles a 403; platform staff a
  403 (they are nobody's staff); an anonymous visitor the login page.
- An admin page: merchant staff and visitors are sent to admin's login. A
  model's admin page (list, add, change, delete, history) refuses platform
  staff whose group lacks the permission it needs (view or change, add,
  delete), and its list is open to those who have it; admin's index opens for
  all three groups.
- The POS API: nobody gets in with a session alone (a key is required).
- A public page: nobody is refused (no 401/403), except the PassKit web service,
  which authenticates devices by the pass's own token.

Arguments name real objects of merchant A (tests/test_every_route.py fills them).
"""

# The fixtures imported from the route sweep are "redefined" as arguments.
# ruff: noqa: F811

from __future__ import annotations

import inspect

import pytest
from django.contrib.auth.models import Group

from merchants.platform_roles import PLATFORM_ADMIN, SUPPORT_AGENT, SUPPORT_LEAD
from tests import factories
from tests.test_every_route import (  # noqa: F401  (fixtures)
    ROUTES,
    Town,
    build_url,
    client_for,
    fill_any,
    pki,
    town,
    wallet_settings,
)
from tests.test_tenancy import is_public

MERCHANT_ROLES = ("owner", "marketer", "cashier")
PLATFORM_ROLES = {"support agent": SUPPORT_AGENT, "support lead": SUPPORT_LEAD, "platform admin": PLATFORM_ADMIN}
ROLES = (*MERCHANT_ROLES, *PLATFORM_ROLES, "anonymous")


def platform_staff(role: str):
    user = factories.UserFactory(email=f"{role.replace(' ', '-')}@platform.test", merchant=None, role="", is_staff=True)
    user.groups.add(Group.objects.get(name=PLATFORM_ROLES[role]))
    return user


# admin's own log-in and log-out pages are for everyone.
ADMIN_PUBLIC = {"admin:login", "admin:logout"}


def kind_of(route) -> str:
    from loyalty.api.views import PosApiView

    if route.name in ADMIN_PUBLIC:
        return "public"
    if route.route.startswith("admin/"):
        return "admin"
    if inspect.isclass(route.view) and issubclass(route.view, PosApiView):
        return "api"
    if route.is_api:
        return "public"  # the API's schema and docs pages are published
    if is_public(route):
        return "public"
    if hasattr(route.view, "allowed_roles"):
        return "dashboard"
    return "other"


def refused(response, kind: str = "") -> bool:
    if kind == "api" and response.status_code == 404:  # the API's catch-all: no such endpoint for anyone
        return True
    return response.status_code in (401, 403) or (
        response.status_code == 302 and "login" in response.get("Location", "")
    )


# Pages without an object in the URL (those with one are filled with a placeholder id, and admin answers a
# missing object with a redirect, which says nothing about permissions).
ADMIN_PAGES = {"changelist": ("view", "change"), "add": ("add",)}
# Pages that refuse some of the roles their view lists, for a finer reason of their own.
NARROWER = {
    # The settings hub answers 403 to a role with no settings page to open (merchants.navigation).
    "merchant_settings": "owner",
}


def admin_model_page(route) -> tuple[str, tuple[str, ...], bool] | None:
    """For a model's admin page: (app_label.model, the permissions any of which opens it, is it the list)."""
    from django.contrib import admin

    name = (route.name or "").removeprefix("admin:")
    for model in admin.site._registry:
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        page = name.removeprefix(prefix)
        if name.startswith(prefix) and page in ADMIN_PAGES:
            return f"{model._meta.app_label}.{model._meta.model_name}", ADMIN_PAGES[page], page == "changelist"
    return None


def expectation(kind: str, route, role: str, user=None) -> str | None:
    """ "allowed", "refused", or None when the matrix says nothing (kind "other")."""
    if kind == "public":
        # The PassKit web service authenticates each device by its pass's token (tests/wallet).
        return None if (route.name or "").startswith("wallet_passkit") else "allowed"
    if kind == "api":
        return "refused"
    if kind == "admin":
        if role not in PLATFORM_ROLES:
            return "refused"
        if route.name == "admin:index":
            return "allowed"
        page = admin_model_page(route)
        if page is None:
            return None
        label, actions, is_list = page
        app_label, model = label.split(".")
        if not any(user.has_perm(f"{app_label}.{action}_{model}") for action in actions):
            return "refused"
        return "allowed" if is_list else None
    if kind == "dashboard":
        if route.name in NARROWER and role in MERCHANT_ROLES and role != NARROWER[route.name]:
            return None
        return "allowed" if role in MERCHANT_ROLES and role in route.view.allowed_roles else "refused"
    return None


def test_every_route_for_every_role(town: Town):
    clients = {role: client_for(town.users.get(role)) for role in MERCHANT_ROLES}
    staff = {role: platform_staff(role) for role in PLATFORM_ROLES}
    clients.update({role: client_for(user) for role, user in staff.items()})
    clients["anonymous"] = client_for(None)
    failures, checked = [], {"dashboard": 0, "admin": 0, "admin refused": 0, "api": 0, "public": 0}
    for route in ROUTES:
        kind = kind_of(route)
        if kind == "other":
            continue
        url = build_url(route, fill_any(route, town))
        for role in ROLES:
            expected = expectation(kind, route, role, staff.get(role))
            response = clients[role].get(url)
            if response.status_code >= 500:
                failures.append(f"GET {url} as {role}: {response.status_code}")
            elif expected == "refused" and not refused(response, kind):
                failures.append(f"GET {url} as {role}: {response.status_code}, expected a refusal")
            elif expected == "allowed" and refused(response):
                failures.append(f"GET {url} as {role}: {response.status_code}, expected access")
            checked[kind] += 1
            if kind == "admin" and role in PLATFORM_ROLES and expected == "refused":
                checked["admin refused"] += 1
    assert not failures, "\n".join(failures)
    # The sweep saw every kind of route (a resolver change that hid them would pass vacuously).
    assert all(count > 0 for count in checked.values()), checked


def test_the_sweep_knows_the_kinds_of_the_main_routes():
    kinds = {route.name: kind_of(route) for route in ROUTES if route.name}
    assert kinds["audit_log"] == "dashboard" and kinds["api_key_list"] == "dashboard"
    assert kinds["admin:index"] == "admin" and kinds["admin:loyalty_customer_support"] == "admin"
    assert kinds["login"] == "public" and kinds["pos-card-detail"] == "api"


@pytest.mark.django_db
def test_the_audit_log_page_is_the_owners_only(client, owner, marketer, cashier):
    # One row of the matrix spelt out: only the owner reads the audit log.
    from django.urls import reverse

    for user, status in ((owner, 200), (marketer, 403), (cashier, 403)):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        assert client.get(reverse("audit_log")).status_code == status
