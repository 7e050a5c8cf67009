"""The dashboard's navigation: one list of entries, each with the roles that see it.

To add a page to the dashboard menu, add a ``NavItem`` to ``NAV_ITEMS`` (or call
``register()`` from your app's ``AppConfig.ready``). ``order`` decides the place;
the gaps leave room for the pages later issues add:

    NavItem("program", _("Program"), CAN_MANAGE_PROGRAM, order=20)
    NavItem("till", _("Cashier"), CAN_USE_TILL, order=30)
    NavItem("campaign_list", _("Campaigns"), CAN_SEE_CAMPAIGNS, order=40)
    NavItem("analytics", _("Analytics"), CAN_SEE_ANALYTICS, order=50)

An entry is shown as active on its own page and on every page below its URL
(``/dashboard/locations/`` is active on ``/dashboard/locations/3/edit/``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .permissions import (
    CAN_MANAGE_API_KEYS,
    CAN_MANAGE_LOCATIONS,
    CAN_MANAGE_PROGRAM,
    CAN_MANAGE_STAFF,
    CAN_USE_TILL,
    role_allows,
)


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str | Promise
    roles: frozenset[str]
    order: int = 100


NAV_ITEMS: list[NavItem] = [
    NavItem("dashboard", _("Home"), CAN_USE_TILL, order=0),
    NavItem("till", _("Till"), CAN_USE_TILL, order=30),
    NavItem("design", _("Card design"), CAN_MANAGE_PROGRAM, order=22),
    NavItem("enroll_qr", _("QR & poster"), CAN_MANAGE_PROGRAM, order=24),
    NavItem("location_list", _("Locations"), CAN_MANAGE_LOCATIONS, order=70),
    NavItem("staff_list", _("Staff"), CAN_MANAGE_STAFF, order=80),
    NavItem("api_key_list", _("API keys"), CAN_MANAGE_API_KEYS, order=90),
]


def register(item: NavItem) -> None:
    if all(existing.url_name != item.url_name for existing in NAV_ITEMS):
        NAV_ITEMS.append(item)


@dataclass(frozen=True)
class NavLink:
    url: str
    label: str | Promise
    active: bool


def nav_for(request) -> list[NavLink]:
    """The entries ``request.user`` may see, in order, marking the current one."""
    user = request.user
    links: list[tuple[str, NavItem]] = []
    for item in sorted(NAV_ITEMS, key=lambda i: i.order):
        if not role_allows(user, item.roles):
            continue
        links.append((reverse(item.url_name), item))
    # The longest matching URL wins, so that Home (/dashboard/) is not active everywhere.
    matching = [url for url, _item in links if request.path == url or request.path.startswith(url)]
    current = max(matching, key=len, default=None)
    return [NavLink(url=url, label=item.label, active=url == current) for url, item in links]
