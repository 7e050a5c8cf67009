"""Tenancy: merchant B can never reach merchant A's objects.

The URL resolver is walked at collection time, so a newly added route is tested
without editing this file. For every merchant-facing route with URL arguments
(admin, static files, i18n and routes marked ``public_route`` are skipped) the
test fills the arguments with one of merchant A's objects and then:

1. as merchant B's owner (and, for POS API views, with B's API key) sends GET
   and POST: each must answer 404 (or 405 for a method the route lacks, but at
   least one 404), and nothing of A's may change;
2. as merchant A's owner (A's key) sends the same request: it must not be a
   404/403/401, which proves the arguments named a real object of A, so the
   404 for B means isolation and not a typo.

How the arguments are filled, in order:
- ``KWARG_VALUES``: names with a fixed meaning (``format``).
- ``pk``/``id`` (or the view's ``pk_url_kwarg``): the view's model, taken from
  its ``model``, its ``queryset`` or what its ``get_queryset()`` returns.
- ``<model>_<field>`` such as ``location_id``, ``api_key_id``, ``card_number``:
  the merchant-owned model whose name is ``<model>`` without underscores, and
  the object's ``<field>`` (``id``/``pk`` mean the primary key).
An object of A for a model comes from ``MAKERS``, else from a factory_boy
factory for that model in ``tests/factories.py`` (called with ``merchant=A``).

A route whose arguments can't be filled FAILS (it is not skipped): extend
``KWARG_VALUES`` or ``MAKERS`` (or add a factory) so that it is covered.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.db import models
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import UUIDConverter
from django.urls.resolvers import RoutePattern

from merchants import services
from merchants.models import Merchant, Role, User
from tests import factories

MERCHANT_APPS = {"merchants", "loyalty", "campaigns", "analytics"}
# Models that are the tenant itself or people, not rows a merchant owns.
# A device (one iPhone) may hold cards of several merchants; its log lines are
# not attributable to one either.
# The audit log names a merchant when there is one (a platform-wide admin change has none); the owner's page
# reads it through for_merchant (tests/merchants/test_audit.py). The analytics summaries' high-water marks
# cover all merchants at once.
NOT_MERCHANT_OWNED = {
    "merchants.Merchant",
    "merchants.User",
    "merchants.AuditEvent",
    # A person's second factor (platform staff have no merchant; one login may serve several merchants).
    "merchants.AuthenticatorDevice",
    "merchants.RecoveryCodeSet",
    "loyalty.AppleDevice",
    "loyalty.DeviceLog",
    "analytics.SummaryState",
}
SKIPPED_PREFIXES = ("admin/", "static/", "media/", "i18n/", "^media/", "^static/")
SKIPPED_MODULES = ("django.views.static", "django.contrib.staticfiles", "django.views.i18n", "drf_spectacular")

KWARG_VALUES: dict[str, Callable[[World], object]] = {
    # DRF format suffixes (".json").
    "format": lambda world: "json",
}


# --- objects of merchant A, made on demand -------------------------------------------


def _location(merchant: Merchant):
    return factories.LocationFactory(merchant=merchant)


def _invitation(merchant: Merchant):
    owner = User.objects.filter(memberships__merchant=merchant, memberships__role=Role.OWNER).first()
    return services.invitation_create(
        merchant=merchant, email=f"invitee-{uuid.uuid4().hex[:8]}@tenancy.test", role=Role.CASHIER, actor=owner
    ).invitation


def _api_key(merchant: Merchant):
    return services.api_key_create(merchant=merchant, location=_location(merchant), name="Tenancy", actor=None).api_key


def _staff_member(merchant: Merchant):
    return factories.UserFactory(merchant=merchant, role=Role.CASHIER)


def _card(merchant: Merchant):
    from loyalty.enrollment.services import enroll_customer
    from loyalty.program.services import program_for

    program_for(merchant=merchant)
    phone = f"+7916{uuid.uuid4().int % 10**7:07d}"
    return enroll_customer(merchant=merchant, phone=phone, name="Tenant A", location=_location(merchant))


def _customer(merchant: Merchant):
    return _card(merchant).customer


def _import_job(merchant: Merchant):
    from analytics import imports

    content = b"phone,name\n+79160000001,Tenant A\n"
    return imports.upload(merchant=merchant, actor=None, filename="tenancy.csv", content=content)


MAKERS: dict[str, Callable[[Merchant], models.Model]] = {
    "merchants.Location": _location,
    "merchants.Invitation": _invitation,
    "merchants.ApiKey": _api_key,
    "merchants.User": _staff_member,
    "loyalty.Card": _card,
    "loyalty.Customer": _customer,
    "analytics.ImportJob": _import_job,
}


def _factory_for(model: type[models.Model]):
    for _name, candidate in inspect.getmembers(factories, inspect.isclass):
        meta = getattr(candidate, "_meta", None)
        if getattr(meta, "model", None) is model:
            return candidate
    return None


@dataclass
class World:
    a: Merchant
    b: Merchant
    a_owner: User
    b_owner: User
    made: dict[type, models.Model] = field(default_factory=dict)

    def object_of_a(self, model: type[models.Model]) -> models.Model:
        if model not in self.made:
            label = model._meta.label
            if label in MAKERS:
                self.made[model] = MAKERS[label](self.a)
            elif (factory := _factory_for(model)) is not None:
                self.made[model] = factory(merchant=self.a)
            else:
                pytest.fail(
                    f"No way to make a {label} of merchant A: add a maker to MAKERS in tests/test_tenancy.py "
                    "or a factory to tests/factories.py."
                )
        return self.made[model]


# --- walking the resolver -------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    route: str
    name: str | None
    callback: Callable
    kwarg_names: tuple[str, ...]
    converters: dict

    @property
    def view(self):
        return getattr(self.callback, "view_class", None) or getattr(self.callback, "cls", None) or self.callback

    @property
    def is_api(self) -> bool:
        try:
            from rest_framework.views import APIView
        except ImportError:
            return False
        return inspect.isclass(self.view) and issubclass(self.view, APIView)


def _kwarg_names(pattern) -> tuple[dict, tuple[str, ...]]:
    if isinstance(pattern, RoutePattern):
        return dict(pattern.converters), tuple(pattern.converters)
    return {}, tuple(pattern.regex.groupindex)


def walk(resolver: URLResolver, prefix: str = "", namespace: str = "", converters=None, names=()) -> Iterator[Route]:
    converters = converters or {}
    for entry in resolver.url_patterns:
        entry_converters, entry_names = _kwarg_names(entry.pattern)
        if isinstance(entry, URLResolver):
            child_ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(
                entry,
                prefix + str(entry.pattern),
                child_ns,
                {**converters, **entry_converters},
                names + entry_names,
            )
        elif isinstance(entry, URLPattern):
            yield Route(
                route=prefix + str(entry.pattern),
                name=f"{namespace}{entry.name}" if entry.name else None,
                callback=entry.callback,
                kwarg_names=names + entry_names,
                converters={**converters, **entry_converters},
            )


def is_public(route: Route) -> bool:
    return bool(getattr(route.view, "public_route", False) or getattr(route.callback, "public_route", False))


def is_skipped(route: Route) -> bool:
    module = getattr(route.view, "__module__", "") or ""
    return (
        route.route.startswith(SKIPPED_PREFIXES)
        or (route.name or "").startswith("admin:")
        or module.startswith(SKIPPED_MODULES)
        or is_public(route)
    )


def merchant_routes_with_kwargs() -> list[Route]:
    return [r for r in walk(get_resolver()) if r.kwarg_names and not is_skipped(r)]


ROUTES = merchant_routes_with_kwargs()


# --- filling the arguments ---------------------------------------------------------------

_MODEL_NAME = re.compile(r"[^a-z0-9]")


def merchant_owned_models() -> dict[str, type[models.Model]]:
    """Merchant-owned models by their name without underscores (``apikey``, ``card``)."""
    found = {}
    for model in apps.get_models():
        if model._meta.app_label in MERCHANT_APPS:
            found[model._meta.model_name] = model
    return found


def view_model(route: Route, world: World) -> type[models.Model] | None:
    view = route.view
    if getattr(view, "model", None) is not None:
        return view.model
    queryset = getattr(view, "queryset", None)
    if queryset is not None:
        return queryset.model
    if inspect.isclass(view) and hasattr(view, "get_queryset"):
        # Ask the view itself, set up as merchant A's owner would reach it.
        request = RequestFactory().get("/")
        request.user, request.merchant = world.a_owner, world.a
        instance = view()
        instance.request, instance.args, instance.kwargs, instance.merchant = request, (), {}, world.a
        try:
            return instance.get_queryset().model
        except Exception:  # noqa: BLE001 - any failure just means "can't tell"
            return None
    return None


def _value_from(obj: models.Model, attribute: str, converter) -> object:
    if attribute in ("id", "pk"):
        value = obj.pk
    else:
        if not hasattr(obj, attribute):
            pytest.fail(f"{obj._meta.label} has no attribute {attribute!r}")
        value = getattr(obj, attribute)
    if isinstance(converter, UUIDConverter) and not isinstance(value, uuid.UUID):
        uuids = [f for f in obj._meta.concrete_fields if isinstance(f, models.UUIDField)]
        if not uuids:
            pytest.fail(f"{obj._meta.label} has no UUID field for a <uuid:…> argument")
        value = getattr(obj, uuids[0].attname)
    return value


def fill(route: Route, world: World) -> dict[str, object]:
    kwargs = {}
    owned = merchant_owned_models()
    for name in route.kwarg_names:
        converter = route.converters.get(name)
        if name in KWARG_VALUES:
            kwargs[name] = KWARG_VALUES[name](world)
            continue
        pk_kwarg = getattr(route.view, "pk_url_kwarg", "pk")
        if name in ("pk", "id", pk_kwarg):
            model = view_model(route, world)
            if model is None:
                pytest.fail(
                    f"Route {route.route!r} ({route.name}): can't tell which model {name!r} names. Give the view a "
                    "`model`, a `queryset` or a `get_queryset()`, or add the name to KWARG_VALUES in "
                    "tests/test_tenancy.py."
                )
            kwargs[name] = _value_from(world.object_of_a(model), "pk", converter)
            continue
        slug_kwarg = getattr(route.view, "slug_url_kwarg", None)
        if slug_kwarg and name == slug_kwarg and (model := view_model(route, world)) is not None:
            kwargs[name] = _value_from(world.object_of_a(model), route.view.slug_field, converter)
            continue
        # <model>_<field>: try every split, longest model name first (api_key_id -> apikey + id).
        parts = name.split("_")
        for cut in range(len(parts), 0, -1):
            model_name = "".join(parts[:cut])
            attribute = "_".join(parts[cut:]) or "pk"
            if model_name in owned:
                kwargs[name] = _value_from(world.object_of_a(owned[model_name]), attribute, converter)
                break
        else:
            pytest.fail(
                f"Route {route.route!r} ({route.name}): no rule fills the URL argument {name!r}. "
                "Add it to KWARG_VALUES (or MAKERS) in tests/test_tenancy.py."
            )
    return kwargs


def url_for(route: Route, kwargs: dict) -> str:
    if route.name:
        return reverse(route.name, kwargs=kwargs)
    if "<" in route.route:
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), route.route)
    pytest.fail(f"Unnamed regex route {route.route!r}: name it so that the tenancy test can reverse it.")


# --- the requests ------------------------------------------------------------------------


def state_of(merchant: Merchant) -> dict:
    """Every row merchant ``merchant`` owns, to prove that nothing changed."""
    rows = {"merchant": list(Merchant.objects.filter(pk=merchant.pk).values())}
    for model in apps.get_models():
        if model._meta.app_label not in MERCHANT_APPS or model is Merchant:
            continue
        try:
            model._meta.get_field("merchant")
        except Exception:  # noqa: BLE001 - models without a merchant are asserted elsewhere
            continue
        rows[model._meta.label] = list(model._default_manager.filter(merchant=merchant).order_by("pk").values())
    return rows


def client_for(user: User, merchant: Merchant, route: Route) -> tuple[Client, dict]:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    headers = {}
    if route.is_api:
        secret = services.api_key_create(
            merchant=merchant, location=factories.LocationFactory(merchant=merchant), name="Tenancy", actor=None
        ).secret
        headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": str(uuid.uuid4())}
    return client, headers


def send(client: Client, method: str, url: str, headers: dict, route: Route):
    if method == "GET":
        return client.get(url, headers=headers)
    if route.is_api:
        return client.post(url, "{}", content_type="application/json", headers=headers)
    return client.post(url, {}, headers=headers)


@pytest.fixture
def world(db) -> World:
    a = factories.MerchantFactory(name="Merchant A")
    b = factories.MerchantFactory(name="Merchant B")
    return World(
        a=a,
        b=b,
        a_owner=factories.UserFactory(merchant=a, role=Role.OWNER, email="owner@a.test"),
        b_owner=factories.UserFactory(merchant=b, role=Role.OWNER, email="owner@b.test"),
    )


@pytest.mark.parametrize("route", ROUTES, ids=[r.name or r.route for r in ROUTES])
def test_other_merchants_objects_are_404(route: Route, world: World):
    kwargs = fill(route, world)
    url = url_for(route, kwargs)
    before = state_of(world.a)

    b_client, b_headers = client_for(world.b_owner, world.b, route)
    b_status = {method: send(b_client, method, url, b_headers, route).status_code for method in ("GET", "POST")}

    assert set(b_status.values()) <= {404, 405} and 404 in b_status.values(), (
        f"{url}: merchant B reached merchant A's object: {b_status}"
    )
    assert state_of(world.a) == before, f"{url}: merchant B's requests changed merchant A's data"

    # The same arguments work for A, so the 404 above is isolation, not a bad URL.
    a_client, a_headers = client_for(world.a_owner, world.a, route)
    a_get = send(a_client, "GET", url, a_headers, route).status_code
    a_status = a_get if a_get != 405 else send(a_client, "POST", url, a_headers, route).status_code
    assert a_status not in (401, 403, 404), (
        f"{url}: merchant A's owner got {a_status} on A's own object, so the test's arguments are wrong; "
        "fix MAKERS/KWARG_VALUES in tests/test_tenancy.py"
    )


def test_walker_sees_the_dashboard_routes_and_skips_public_ones():
    names = {r.name for r in ROUTES}
    assert {
        "location_edit",
        "location_deactivate",
        "location_activate",
        "invitation_revoke",
        "staff_deactivate",
        "staff_activate",
        "api_key_revoke",
    } <= names
    assert not names & {"invitation_accept", "password_reset_confirm"}
    assert all(not r.route.startswith("admin/") for r in ROUTES)


def test_a_route_with_an_unknown_argument_fails_loudly(world):
    route = Route("x/<str:mystery_thing>/", "x", lambda request: None, ("mystery_thing",), {})
    with pytest.raises(pytest.fail.Exception, match="no rule fills the URL argument 'mystery_thing'"):
        fill(route, world)


def test_every_merchant_owned_model_has_a_merchant_fk_and_for_merchant(world):
    checked = []
    for model in apps.get_models():
        if model._meta.app_label not in MERCHANT_APPS or model._meta.label in NOT_MERCHANT_OWNED:
            continue
        label = model._meta.label
        try:
            merchant_field = model._meta.get_field("merchant")
        except Exception:  # noqa: BLE001
            pytest.fail(f"{label} has no `merchant` field: every merchant-owned model needs a direct merchant FK")
        assert merchant_field.is_relation and merchant_field.related_model is Merchant, (
            f"{label}.merchant must point at Merchant"
        )
        assert not merchant_field.null, f"{label}.merchant must not be nullable"
        manager = model._default_manager
        assert hasattr(manager, "for_merchant"), f"{label}.objects has no for_merchant(); use MerchantScopedManager"
        query = str(manager.for_merchant(world.a).query)
        assert f'"merchant_id" = {world.a.pk}' in query, f"{label}.objects.for_merchant() doesn't filter by merchant"
        checked.append(label)
    assert {"merchants.Location", "merchants.Invitation", "merchants.ApiKey"} <= set(checked)
