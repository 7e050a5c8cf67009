"""The dashboard's navigation: one list of entries, each with the roles that see it,
and the settings hub (``/dashboard/settings/``) that groups the owner's set-up pages
under one "Settings" entry so that the top bar stays short.

To add a page to the dashboard menu, add a ``NavItem`` to ``NAV_ITEMS`` (or call
``register()`` from your app's ``AppConfig.ready``). ``order`` decides the place;
the gaps leave room for the pages later issues add:

    NavItem("customer_list", _("Customers"), CAN_SEE_ANALYTICS, order=10, section=("card_detail",))
    NavItem("program", _("Program"), CAN_MANAGE_PROGRAM, order=20)
    NavItem("till", _("Till"), CAN_USE_TILL, order=30)
    NavItem("campaign_list", _("Campaigns"), CAN_SEE_CAMPAIGNS, order=40)
    NavItem("analytics", _("Analytics"), CAN_SEE_ANALYTICS, order=50)

A set-up page (rarely visited: locations, staff, keys, wallet certificates) goes on
the settings hub instead: ``register_settings_page(SettingsPage(...))``. The
"Settings" entry is shown to whoever may open at least one of those pages.

Which entry is active: the one whose URL is the longest prefix of the current
path (``/dashboard/locations/`` is active on ``/dashboard/locations/3/edit/``).
An entry also owns the URLs of the route names in its ``section`` (and the pages
below them), and any page whose route is named in ``section`` (for routes with
arguments, like ``card_detail``). Settings owns every settings page. Home is
active on the home page only, never as a fallback for pages outside the menu.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .permissions import (
    CAN_MANAGE_API_KEYS,
    CAN_MANAGE_LOCATIONS,
    CAN_MANAGE_PROFILE,
    CAN_MANAGE_PROGRAM,
    CAN_MANAGE_STAFF,
    CAN_USE_TILL,
    role_allows,
)

SETTINGS_URL_NAME = "merchant_settings"


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str | Promise
    roles: frozenset[str]
    order: int = 100
    # Route names whose pages belong to this entry (see the module docstring).
    section: tuple[str, ...] = ()
    # Active on its own URL only (Home), not on the pages below it.
    exact: bool = False


@dataclass(frozen=True)
class SettingsPage:
    """A card on the settings hub. ``summary(merchant)`` may return a short
    status line ("2 locations"); it is called when the hub is shown."""

    url_name: str
    title: str | Promise
    description: str | Promise
    roles: frozenset[str]
    order: int = 100
    icon: str = "gear"
    summary: Callable[..., str | Promise | None] | None = None


NAV_ITEMS: list[NavItem] = [
    NavItem("dashboard", _("Home"), CAN_USE_TILL, order=0, exact=True),
    NavItem("design", _("Card design"), CAN_MANAGE_PROGRAM, order=22),
    NavItem("enroll_qr", _("QR & poster"), CAN_MANAGE_PROGRAM, order=24),
    NavItem("till", _("Till"), CAN_USE_TILL, order=30),
    # Shown to whoever may open a settings page; its roles are worked out from SETTINGS_PAGES.
    NavItem(SETTINGS_URL_NAME, _("Settings"), frozenset(), order=90),
]

SETTINGS_PAGES: list[SettingsPage] = []


def register(item: NavItem) -> None:
    if all(existing.url_name != item.url_name for existing in NAV_ITEMS):
        NAV_ITEMS.append(item)


def register_settings_page(page: SettingsPage) -> None:
    if all(existing.url_name != page.url_name for existing in SETTINGS_PAGES):
        SETTINGS_PAGES.append(page)


def settings_pages_for(user) -> list[SettingsPage]:
    """The settings pages ``user`` may open, in order."""
    return [page for page in sorted(SETTINGS_PAGES, key=lambda p: p.order) if role_allows(user, page.roles)]


@dataclass(frozen=True)
class NavLink:
    url: str
    label: str | Promise
    active: bool


def _url_or_none(url_name: str) -> str | None:
    try:
        return reverse(url_name)
    except NoReverseMatch:  # a route with arguments: matched by its name instead
        return None


def nav_for(request) -> list[NavLink]:
    """The entries ``request.user`` may see, in order, marking the current one."""
    user = request.user
    match = getattr(request, "resolver_match", None)
    route_name = match.url_name if match is not None else None
    path = request.path
    entries: list[tuple[str, NavItem]] = []
    best: tuple[int, int] | None = None  # (how specific the match is, index in entries)
    for item in sorted(NAV_ITEMS, key=lambda i: i.order):
        section = item.section
        if item.url_name == SETTINGS_URL_NAME:
            pages = settings_pages_for(user)
            if not pages:
                continue
            section = section + tuple(page.url_name for page in pages)
        elif not role_allows(user, item.roles):
            continue
        url = reverse(item.url_name)
        index = len(entries)
        entries.append((url, item))
        if item.exact:
            score = len(url) if path == url else None
        else:
            roots = [url, *filter(None, (_url_or_none(name) for name in section))]
            matching = [len(root) for root in roots if path.startswith(root)]
            score = max(matching, default=None)
            if route_name is not None and route_name in section:
                score = 10_000  # named explicitly: beats any prefix
        if score is not None and (best is None or score > best[0]):
            best = (score, index)
    return [
        NavLink(url=url, label=item.label, active=best is not None and index == best[1])
        for index, (url, item) in enumerate(entries)
    ]


# The merchants app's own settings pages ---------------------------------------------


def _summary(name: str) -> Callable[..., str | None]:
    def summary(merchant):
        from . import selectors

        return getattr(selectors, name)(merchant=merchant)

    return summary


SETTINGS_PAGES.extend(
    [
        SettingsPage(
            "business_profile",
            _("Business profile"),
            _("Business name, the address in your QR codes, country, currency and time zone."),
            CAN_MANAGE_PROFILE,
            order=5,
            icon="store",
            summary=_summary("profile_summary"),
        ),
        SettingsPage(
            "location_list",
            _("Locations"),
            _("Your shops, cafés or salons: addresses, time zones, where customers earn and spend."),
            CAN_MANAGE_LOCATIONS,
            order=10,
            icon="pin",
            summary=_summary("locations_summary"),
        ),
        SettingsPage(
            "staff_list",
            _("Staff"),
            _("Invite cashiers and marketers, see who has access, switch accounts off."),
            CAN_MANAGE_STAFF,
            order=20,
            icon="people",
            summary=_summary("staff_summary"),
        ),
        SettingsPage(
            "api_key_list",
            _("API keys"),
            _("Connect your POS system: one key per location, shown once, revocable."),
            CAN_MANAGE_API_KEYS,
            order=30,
            icon="key",
            summary=_summary("api_keys_summary"),
        ),
    ]
)
