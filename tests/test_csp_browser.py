"""Every page satisfies the Content Security Policy in a real browser (issue 13).

Chromium loads every HTML page of the project and the test fails on any CSP violation: an inline
<script>, an on*= handler, a javascript: URL, eval, a style="" attribute or an un-nonced <style>, a
resource from another origin. Violations are caught twice: a ``securitypolicyviolation`` listener
installed before any page script runs (``add_init_script``, which the policy does not apply to), and
Chromium's console error ("Refused to ... because it violates the following Content Security Policy
directive"). An uncaught script error on a page fails the test too: a script moved out of a template
that no longer finds its element would otherwise go unnoticed.

The pages come from the URL resolver, as in tests/test_every_route.py (so a new page is covered
without editing this file): every route is requested with Django's test client as each role (owner,
marketer, cashier, anonymous visitor, platform support), and each answer that is a 200 HTML page is
then opened in Chromium as that role. Admin routes get the primary key of a real object of their
model, so change forms and the support console are opened on real rows. Public links get real
tokens: the web card, the join page, the feedback page, the unsubscribe page, the invitation.
"""

# The fixtures imported from support modules are "redefined" as arguments.
# ruff: noqa: F811

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import Client
from django.urls import NoReverseMatch, reverse

from campaigns import consent
from campaigns.feedback import feedback_token
from campaigns.models import Campaign, Delivery, Send, Trigger
from loyalty.models import Card
from tests import factories
from tests.test_every_route import ROLES, ROUTES, Town, build_url, fill_any, pki, town  # noqa: F401
from tests.test_tenancy import Route
from tests.wallet.pipeline_support import wallet_settings  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORDER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.effectiveDirective + " blocked " + (e.blockedURI || "inline") + " at " +
    (e.sourceFile || "") + ":" + e.lineNumber + " " + (e.sample || ""));
});
"""

# Templates every run must have opened in the browser: if a fixture change made one of these pages answer
# 404 or redirect, the test would otherwise pass without looking at it.
MUST_RENDER = {
    # the dashboard, for the owner, the marketer and the cashier
    "merchants/dashboard.html",
    "loyalty/cashier.html",
    "loyalty/cashier_location.html",
    "loyalty/design.html",
    "loyalty/program_form.html",
    "loyalty/customers.html",
    "loyalty/card_detail.html",
    "enrollment/qr.html",
    "enrollment/poster.html",
    "merchants/staff_list.html",
    "merchants/api_key_list.html",
    "merchants/settings.html",
    "merchants/two_factor.html",
    "merchants/audit_log.html",
    "campaigns/segment_list.html",
    "campaigns/segment_form.html",
    "campaigns/rfm.html",
    "campaigns/campaign_list.html",
    "campaigns/campaign_form.html",
    "campaigns/campaign_detail.html",
    "analytics/analytics.html",
    "analytics/roi.html",
    "analytics/import.html",
    "analytics/import_detail.html",
    # the customer's pages
    "enrollment/join.html",
    "enrollment/card.html",
    "enrollment/welcome.html",
    "campaigns/feedback.html",
    "campaigns/unsubscribe.html",
    # signing in and up
    "registration/login.html",
    "merchants/signup.html",
    "merchants/invitation_accept.html",
    "registration/password_reset_form.html",
    "drf_spectacular/swagger_ui.html",
    # admin, for platform support
    "admin/otp_login.html",
    "admin/index.html",
    "admin/app_index.html",
    "admin/change_list.html",
    "admin/change_form.html",
    "admin/delete_confirmation.html",
    "admin/object_history.html",
    "admin/loyalty/customer/support.html",
    "admin/loyalty/card/adjust_balance.html",
    "admin/loyalty/card/block_card.html",
    "admin/djcelery/change_periodictask_form.html",
}


@dataclass
class Visits:
    pages: list[str] = field(default_factory=list)
    templates: set[str] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)


def admin_object_pk(route: Route) -> object | None:
    """The primary key of the first row of the model an admin route belongs to (``admin:<app>_<model>_…``)."""
    name = (route.name or "").removeprefix("admin:")
    for model in admin.site._registry:
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if name.startswith(prefix):
            obj = model._default_manager.order_by("pk").first()
            return obj.pk if obj is not None else None
    return None


def url_of(route: Route, town: Town, public: dict[str, object]) -> str | None:
    kwargs = fill_any(route, town)
    if route.name in public:
        kwargs = {**kwargs, "token": public[route.name]}
    if route.route.startswith("admin/") and route.kwarg_names:
        # An object's admin page (change, delete, history, the support console…) on a real row; other
        # admin routes (the app index) keep what fill_any gave them.
        pk = admin_object_pk(route)
        if pk is not None:
            kwargs = {name: pk for name in route.kwarg_names}
    try:
        return build_url(route, kwargs)
    except NoReverseMatch:  # a placeholder the route's converter refuses: nothing to open
        return None


def session_client(user) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@dataclass
class Tab:
    """A page of one role's browser context, with what its console and uncaught errors said."""

    page: object
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def open_tab(browser, live_server, client: Client) -> Tab:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    if settings.SESSION_COOKIE_NAME in client.cookies:
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
    context.add_init_script(RECORDER)
    tab = Tab(page=context.new_page())

    def on_console(message) -> None:
        if "Content Security Policy" in message.text:
            tab.console.append(message.text)

    tab.page.on("console", on_console)
    tab.page.on("pageerror", lambda error: tab.errors.append(str(error)))
    return tab


def visit(tab: Tab, live_server, path: str, visits: Visits, role: str) -> None:
    tab.console.clear()
    tab.errors.clear()
    tab.page.goto(live_server.url + path, wait_until="load")
    # The recorder's events are queued tasks: one more turn of the page's event loop delivers any
    # still pending before they are read.
    recorded = tab.page.evaluate("() => new Promise(done => setTimeout(() => done(window.__csp || []), 0))")
    for text in [*recorded, *tab.console]:
        visits.violations.append(f"{path} as {role}: {text}")
    for text in tab.errors:
        visits.violations.append(f"{path} as {role}: script error: {text}")


@pytest.fixture
def public_tokens(town: Town) -> dict[str, object]:
    card = town.world.object_of_a(Card)
    follow_up = Campaign.objects.create(
        merchant=town.world.a,
        name="Follow-up",
        body="How was it?",
        channels=["email"],
        kind="automation",
        trigger=Trigger.POST_PURCHASE,
    )
    send = Send.objects.create(merchant=town.world.a, campaign=follow_up, occurrence="once")
    delivery = Delivery.objects.create(
        merchant=town.world.a, campaign=follow_up, send=send, customer=card.customer, occurrence="once"
    )
    return {
        "campaigns_feedback": feedback_token(delivery_id=delivery.pk),
        "campaigns_unsubscribe": consent.unsubscribe_token(customer_id=card.customer_id, channel="email"),
    }


def visit_once(tab: Tab, live_server, client: Client, url: str, visits: Visits, role: str, seen: set) -> None:
    """Open ``url`` in the browser if it is a 200 HTML page for this role, unless a page at the same address
    rendering the same templates was opened already (a public page for each role, the same dashboard page
    for the owner and the marketer)."""
    response = client.get(url)
    if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
        return
    rendered = (url, tuple(sorted({t.name for t in response.templates if t.name})))
    if rendered in seen:
        return
    seen.add(rendered)
    visit(tab, live_server, url, visits, role)
    visits.pages.append(f"{role} {url}")
    visits.templates.update(rendered[1])


def walk_pages(browser, live_server, town: Town, public: dict[str, object]) -> Visits:
    visits = Visits()
    seen: set[tuple[str, tuple[str, ...]]] = set()
    users = {role: town.support if role == "support" else town.users.get(role) for role in ROLES}
    for role in ROLES:
        client = session_client(users[role])
        tab = open_tab(browser, live_server, client)
        # The merchant has several locations: the till first asks which one, then shows the till itself.
        visit_once(tab, live_server, client, reverse("till"), visits, role, seen)
        client.post(reverse("till_location"), {"location": town.world.a.locations.filter(is_active=True).first().pk})
        for route in ROUTES:
            if route.is_api and route.name != "pos-docs":
                continue
            url = url_of(route, town, public)
            if url is None:
                continue
            visit_once(tab, live_server, client, url, visits, role, seen)
        tab.page.context.close()
    return visits


def test_every_page_satisfies_the_content_security_policy(live_server, browser, town: Town, public_tokens):
    factories.CampaignFactory(merchant=town.world.a)
    visits = walk_pages(browser, live_server, town, public_tokens)
    missing = MUST_RENDER - visits.templates
    assert not missing, f"pages not opened (not a 200 HTML page for any role): {sorted(missing)}"
    assert not visits.violations, "\n".join(visits.violations)
