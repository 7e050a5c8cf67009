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
    CAN_SEE_AUDIT_LOG,
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


@dataclass(frozen=True)
class ChecklistStep:
    """A step of the getting-started checklist on the dashboard home. Apps add
    theirs with ``register_checklist_step()`` from ``AppConfig.ready`` (so the
    merchants app never imports them).

    ``done(merchant)`` says whether the step is done; ``note(merchant)`` may
    return a short status line ("Web card only, your choice"). An ``optional``
    step is shown but does not hold up "you are all set"; a ``coming`` step is
    a feature not built yet: shown as coming, never as done or as missing."""

    key: str
    title: str | Promise
    description: str | Promise
    url_name: str
    order: int = 100
    done: Callable[..., bool] | None = None
    note: Callable[..., str | Promise | None] | None = None
    link_label: str | Promise = ""
    optional: bool = False
    coming: bool = False
    # A form on the step itself (the "web card only" choice): a template to include.
    action_template: str = ""


@dataclass(frozen=True)
class HomePanel:
    """A block on the dashboard home (the owner's numbers), added by another app
    with ``register_home_panel()`` from ``AppConfig.ready`` so that merchants
    never imports it. ``context(request, merchant)`` returns the template's
    context; it is called only for people whose role is in ``roles``."""

    key: str
    template: str
    roles: frozenset[str]
    context: Callable[..., dict]
    order: int = 100


HOME_PANELS: list[HomePanel] = []


def register_home_panel(panel: HomePanel) -> None:
    if all(existing.key != panel.key for existing in HOME_PANELS):
        HOME_PANELS.append(panel)


@dataclass(frozen=True)
class RenderedPanel:
    key: str
    template: str
    context: dict


def home_panels_for(request, merchant) -> list[RenderedPanel]:
    return [
        RenderedPanel(key=panel.key, template=panel.template, context=panel.context(request, merchant))
        for panel in sorted(HOME_PANELS, key=lambda p: p.order)
        if role_allows(request, panel.roles)
    ]


NAV_ITEMS: list[NavItem] = [
    NavItem("dashboard", _("Home"), CAN_USE_TILL, order=0, exact=True),
    NavItem("design", _("Card design"), CAN_MANAGE_PROGRAM, order=22),
    NavItem("enroll_qr", _("QR & poster"), CAN_MANAGE_PROGRAM, order=24),
    NavItem("till", _("Till"), CAN_USE_TILL, order=30),
    # Shown to whoever may open a settings page; its roles are worked out from SETTINGS_PAGES.
    NavItem(SETTINGS_URL_NAME, _("Settings"), frozenset(), order=90),
]

SETTINGS_PAGES: list[SettingsPage] = []


CHECKLIST_STEPS: list[ChecklistStep] = []


def register_checklist_step(step: ChecklistStep) -> None:
    if all(existing.key != step.key for existing in CHECKLIST_STEPS):
        CHECKLIST_STEPS.append(step)


@dataclass(frozen=True)
class ChecklistRow:
    step: ChecklistStep
    url: str | None
    done: bool
    note: str | Promise | None


@dataclass(frozen=True)
class Checklist:
    rows: list[ChecklistRow]

    @property
    def complete(self) -> bool:
        return all(row.done for row in self.rows if not (row.step.optional or row.step.coming))

    @property
    def remaining(self) -> int:
        return sum(1 for row in self.rows if not (row.done or row.step.optional or row.step.coming))


def checklist_for(merchant) -> Checklist:
    rows = []
    for step in sorted(CHECKLIST_STEPS, key=lambda s: s.order):
        done = False if step.coming or step.done is None else bool(step.done(merchant))
        note = step.note(merchant) if step.note else None
        url = reverse(step.url_name) if step.url_name else None
        rows.append(ChecklistRow(step=step, url=url, done=done, note=note))
    return Checklist(rows=rows)


def register(item: NavItem) -> None:
    if all(existing.url_name != item.url_name for existing in NAV_ITEMS):
        NAV_ITEMS.append(item)


def register_settings_page(page: SettingsPage) -> None:
    if all(existing.url_name != page.url_name for existing in SETTINGS_PAGES):
        SETTINGS_PAGES.append(page)


def settings_pages_for(request) -> list[SettingsPage]:
    """The settings pages the person may open in the request's merchant, in order."""
    return [page for page in sorted(SETTINGS_PAGES, key=lambda p: p.order) if role_allows(request, page.roles)]


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
    """The entries the person may see in the request's merchant, in order, marking the current one."""
    match = getattr(request, "resolver_match", None)
    route_name = match.url_name if match is not None else None
    path = request.path
    entries: list[tuple[str, NavItem]] = []
    best: tuple[int, int] | None = None  # (how specific the match is, index in entries)
    for item in sorted(NAV_ITEMS, key=lambda i: i.order):
        section = item.section
        if item.url_name == SETTINGS_URL_NAME:
            pages = settings_pages_for(request)
            if not pages:
                continue
            section = section + tuple(page.url_name for page in pages)
        elif not role_allows(request, item.roles):
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
        SettingsPage(
            "safeguards",
            _("Personal data and approvals"),
            _("How long inactive customers' data is kept, and which balance corrections need a second person."),
            CAN_MANAGE_PROFILE,
            order=40,
            icon="gear",
            summary=_summary("safeguards_summary"),
        ),
        SettingsPage(
            "audit_log",
            _("Audit log"),
            _("Who changed what and when: keys, staff, rules, balances, and the platform's support."),
            CAN_SEE_AUDIT_LOG,
            order=90,
            icon="list",
        ),
    ]
)


def _selector(name: str, **kwargs) -> Callable[..., bool]:
    def read(merchant):
        from . import selectors

        return getattr(selectors, name)(merchant=merchant, **kwargs)

    return read


CHECKLIST_STEPS.extend(
    [
        ChecklistStep(
            "location",
            _("Add a location"),
            _("Each shop, café or salon where customers earn and spend points."),
            "location_list",
            order=10,
            done=lambda merchant: _selector("onboarding_status")(merchant).has_location,
            link_label=_("Locations"),
        ),
        ChecklistStep(
            "cashier",
            _("Invite your first cashier"),
            _("Cashiers use the till; marketers run the program and campaigns."),
            "staff_list",
            order=60,
            done=_selector("has_invited_cashier"),
            link_label=_("Staff"),
        ),
        ChecklistStep(
            "api_key",
            _("Connect your POS system (optional)"),
            _("Only if your POS should add points itself: an API key per location. The till page works without it."),
            "api_key_list",
            order=70,
            done=lambda merchant: _selector("onboarding_status")(merchant).has_api_key,
            link_label=_("API keys"),
            optional=True,
        ),
        # The campaigns app adds its own step ("Send your first campaign", order 80).
    ]
)
