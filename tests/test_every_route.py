"""Every route, walked from the URL resolver (so a new route is covered without
editing this file), must never answer 5xx:

1. every GET page, rendered for each role (owner, marketer, cashier of the
   merchant, an anonymous visitor, the platform's support staff), with its URL arguments naming real
   objects of the merchant where the argument says which (see ``fill_any``);
2. a NUL byte (``%00``, which PostgreSQL refuses in text) in each string URL
   argument and in each query parameter the code reads answers 400 or 404.

Arguments are filled, in order, from ``PUBLIC_VALUES`` (public links: tokens,
slugs, PassKit identifiers), then by the tenancy test's rules (``pk``,
``<model>_<field>``), then with a placeholder of the converter's type: an
unknown argument is still requested (a 404 is fine, a 5xx is not).
"""

# The fixtures imported from support modules are "redefined" as arguments.
# ruff: noqa: F811

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import NoReverseMatch, get_resolver, reverse
from django.urls.converters import IntConverter, UUIDConverter
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from drf_spectacular.generators import SchemaGenerator

from loyalty.models import Card
from loyalty.wallet import credentials as wallet_credentials
from loyalty.wallet.passes import wallet_pass_for
from merchants import services
from merchants.models import Role, User
from tests import factories
from tests.fakes.pki import ThrowawayPKI, make_pki
from tests.test_tenancy import Route, World, fill, walk
from tests.wallet.pipeline_support import wallet_settings  # noqa: F401  (fixture)

PROJECT = Path(__file__).resolve().parent.parent
PROJECT_APPS = ("config", "merchants", "loyalty", "campaigns")
STATIC_PREFIXES = ("static/", "media/", "^media/", "^static/")
ROUTES = [r for r in walk(get_resolver()) if not r.route.startswith(STATIC_PREFIXES)]
# The merchant's staff, a visitor, and the platform's support staff (who use the admin).
ROLES = ("owner", "marketer", "cashier", "anonymous", "support")
NUL = "%00"


# --- a merchant with one of everything a public link names -----------------------------------


@dataclass
class Town:
    world: World
    users: dict[str, User]
    support: User
    api_secret: str
    values: dict[str, object]
    apple_auth: str


# Public links name their object by a token or slug, not by a key the tenancy rules know.
PUBLIC_VALUES: dict[str, Callable[[Town], object]] = {
    "slug": lambda town: town.world.a.slug,
    "app_label": lambda town: "loyalty",
    "web_token": lambda town: town.values["wallet_pass"].web_token,
    "serial_number": lambda town: town.values["wallet_pass"].serial_number,
    "pass_type_identifier": lambda town: town.values["wallet_pass"].pass_type_identifier or "pass.test.loyalty",
    "device_library_identifier": lambda town: "device-every-route",
    "token": lambda town: town.values["invitation_token"],
    "uidb64": lambda town: urlsafe_base64_encode(force_bytes(town.users["owner"].pk)),
    "merchant_id": lambda town: town.world.a.pk,
    "version": lambda town: 0,
    "filled": lambda town: 1,
    "total": lambda town: 5,
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> ThrowawayPKI:
    pki = make_pki()
    pki.write(tmp_path_factory.mktemp("pki"))
    return pki


@pytest.fixture
def town(db, pki, wallet_settings) -> Town:
    a = factories.MerchantFactory(name="Every Route A")
    # Apple Wallet set up, so that pass downloads and the PassKit web service build real passes.
    wallet_credentials.upload_apple_certificate(merchant=a, data=pki.pass_cert.p12(b"pw"), password="pw")
    b = factories.MerchantFactory(name="Every Route B")
    users = {
        role: factories.UserFactory(merchant=a, role=role, email=f"{role}@every-route.test")
        for role in (Role.OWNER, Role.MARKETER, Role.CASHIER)
    }
    world = World(a=a, b=b, a_owner=users[Role.OWNER], b_owner=factories.UserFactory(merchant=b, role=Role.OWNER))
    card = world.object_of_a(Card)
    wallet_pass = wallet_pass_for(card=card)
    invitation = services.invitation_create(
        merchant=a, email="invitee@every-route.test", role=Role.CASHIER, actor=users[Role.OWNER]
    )
    secret = services.api_key_create(
        merchant=a, location=factories.LocationFactory(merchant=a), name="Every route", actor=None
    ).secret
    support = factories.UserFactory(
        email="support@every-route.test", merchant=None, role="", is_staff=True, is_superuser=True
    )
    return Town(
        world=world,
        users={str(role): user for role, user in users.items()},
        support=support,
        api_secret=secret,
        values={
            "wallet_pass": wallet_pass,
            "invitation_token": invitation.token,
            "reset_token": default_token_generator.make_token(users[Role.OWNER]),
        },
        apple_auth=f"ApplePass {wallet_pass.authentication_token}",
    )


def fill_any(route: Route, town: Town) -> dict[str, object]:
    kwargs: dict[str, object] = {}
    for name in route.kwarg_names:
        converter = route.converters.get(name)
        if name == "token" and "uidb64" in route.kwarg_names:
            kwargs[name] = town.values["reset_token"]
        elif name in PUBLIC_VALUES:
            kwargs[name] = PUBLIC_VALUES[name](town)
        elif not route.route.startswith("admin/"):
            try:
                kwargs.update(fill(replace(route, kwarg_names=(name,)), town.world))
            except pytest.fail.Exception:
                kwargs[name] = placeholder(converter)
        else:
            kwargs[name] = placeholder(converter)
    return kwargs


def placeholder(converter) -> object:
    if isinstance(converter, IntConverter):
        return 1
    if isinstance(converter, UUIDConverter):
        return uuid.uuid4()
    return "x"


def build_url(route: Route, kwargs: dict) -> str:
    if route.name:
        return reverse(route.name, kwargs=kwargs)
    if route.kwarg_names or "<" in route.route:
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), route.route)
    # An unnamed regex route without arguments (the API's catch-all 404): an address it matches.
    return "/" + re.sub(r"\^|\$|\.\*", "", route.route).replace("//", "/") + "anything/"


def client_for(user: User | None) -> Client:
    # A crash comes back as its 500 (not raised), so that one run lists every failing URL.
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def headers_for(route: Route, town: Town) -> dict[str, str]:
    if route.is_api:
        return {"Authorization": f"Bearer {town.api_secret}", "Idempotency-Key": str(uuid.uuid4())}
    if "serial_number" in route.kwarg_names:  # the PassKit web service
        return {"Authorization": town.apple_auth}
    return {}


def request(client: Client, method: str, url: str, route: Route, headers: dict):
    if method == "GET":
        return client.get(url, headers=headers)
    if route.is_api:
        return client.post(url, "{}", content_type="application/json", headers=headers)
    return client.post(url, {}, headers=headers)


# --- 1. every page, every role ---------------------------------------------------------------


def test_every_get_page_renders_for_every_role(town: Town):
    # GET only, so nobody is logged out on the way: one client per role for the whole walk.
    clients = {role: client_for(town.support if role == "support" else town.users.get(role)) for role in ROLES}
    failures = []
    for route in ROUTES:
        url = build_url(route, fill_any(route, town))
        for role, client in clients.items():
            status = request(client, "GET", url, route, headers_for(route, town)).status_code
            if status >= 500:
                failures.append(f"GET {url} as {role}: {status}")
    assert not failures, "\n".join(failures)


# --- 2. NUL in the URL and in the query ------------------------------------------------------


def query_parameter_names() -> list[str]:
    """Query parameters the code reads (``request.GET.get("q")``, ``query_params["before"]``),
    the POS API schema's query parameters, and a few everyone uses."""
    names = {"q", "ref", "page", "next", "before", "after", "limit", "location", "format", "lang", "o", "p"}
    reads = re.compile(r"""(?:GET|query_params)(?:\.get|\.getlist)?[(\[]\s*["']([^"']+)["']""")
    for app in PROJECT_APPS:
        for source in (PROJECT / app).rglob("*.py"):
            names.update(reads.findall(source.read_text()))
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for operations in schema["paths"].values():
        for operation in operations.values():
            names.update(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")
    return sorted(names)


QUERY_NAMES = query_parameter_names()


def nul_urls(route: Route, town: Town) -> list[str]:
    """The route with NUL in each string argument in turn (the others real), then with
    each query parameter set to NUL."""
    kwargs = fill_any(route, town)
    urls = []
    for name in route.kwarg_names:
        if isinstance(route.converters.get(name), IntConverter | UUIDConverter):
            continue  # the resolver itself refuses anything but digits / a UUID there
        marker = "nulmarker"
        try:
            url = build_url(route, {**kwargs, name: marker})
        except NoReverseMatch:
            continue
        urls.append(url.replace(marker, NUL))
    base = build_url(route, kwargs)
    # Each parameter on its own (a view that refuses one cleanly must not hide a crash on
    # another), then all at once; the admin's many routes get the all-at-once request only.
    if not route.route.startswith("admin/"):
        urls += [f"{base}?{name}={NUL}" for name in QUERY_NAMES]
    urls.append(f"{base}?" + "&".join(f"{name}={NUL}" for name in QUERY_NAMES))
    urls.append(f"{base}?{NUL}=1")
    return urls


def test_nul_in_the_url_or_query_is_refused_not_a_crash(town: Town):
    failures = []
    for route in ROUTES:
        # A fresh login per route: a POST to a logout route must not turn the rest into login redirects.
        client = client_for(town.support if route.route.startswith("admin/") else town.users["owner"])
        headers = headers_for(route, town)
        for url in nul_urls(route, town):
            # Query strings are read on GET; a NUL in the path is tried with POST too.
            for method in ("GET", "POST") if "?" not in url else ("GET",):
                status = request(client, method, url, route, headers).status_code
                if status not in (400, 404, 405):
                    failures.append(f"{method} {url}: {status}")
    assert not failures, "\n".join(failures)


def test_the_sweep_reaches_the_public_links_and_the_search():
    """The walker sees the routes the outside testers broke, with NUL where they put it."""
    names = {r.name for r in ROUTES}
    assert {
        "webcard",
        "wallet_apple_pass",
        "wallet_google_save",
        "wallet_passkit_registration",
        "wallet_passkit_serials",
        "wallet_passkit_pass",
        "enroll",
        "customer_list",
        "pos-card-detail",
        "pos-card-history",
        "pos-docs",
    } <= names
    assert {"q", "ref", "before", "limit", "passesUpdatedSince"} <= set(QUERY_NAMES)


@pytest.mark.django_db
def test_nul_is_refused_in_the_apis_error_shape_and_in_the_visitors_language(client):
    api = client.get("/api/pos/v1/cards/%00/")
    assert api.status_code == 400
    assert api.json()["error"]["code"] == "malformed_request"
    page = client.get("/join/some-shop/?ref=%00", headers={"Accept-Language": "en"})
    assert page.status_code == 400
    assert "null character" in page.content.decode()
    russian = client.get("/card/%00/", headers={"Accept-Language": "ru"})
    assert russian.status_code == 400
    assert "нулевой символ" in russian.content.decode()
