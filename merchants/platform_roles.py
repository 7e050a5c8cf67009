"""Platform staff roles as Django groups, with least privilege (issue 13).

- Support agent: sees everything merchants and customers have (read-only), and
  works on cards and customers through the support console's own views (adjust
  a balance, block a card, correct a name or e-mail): change on cards and
  customers only; deletes nothing.
- Support lead: an agent who may also change merchants, locations, invitations,
  API keys, programs and tiers, and unlock a locked-out login (delete an axes
  access attempt).
- Platform admin: every permission, people and groups included, without being a
  superuser (so the groups stay the one place that says what staff may do).

``sync_platform_groups`` makes the groups hold exactly these permissions; it runs
after every ``migrate`` (post_migrate, so a fresh database and a test database
have them) and from ``manage.py setup_platform_roles``.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

SUPPORT_AGENT = "Support agent"
SUPPORT_LEAD = "Support lead"
PLATFORM_ADMIN = "Platform admin"

# The apps whose rows support reads.
SUPPORT_APPS = ("merchants", "loyalty", "campaigns", "analytics")

AGENT_CHANGES = ("loyalty.card", "loyalty.customer")
LEAD_CHANGES = (
    *AGENT_CHANGES,
    "merchants.merchant",
    "merchants.location",
    "merchants.invitation",
    "merchants.apikey",
    "loyalty.program",
    "loyalty.tier",
)
LEAD_EXTRA = ("axes.view_accessattempt", "axes.delete_accessattempt", "axes.view_accesslog")


def _codenames(action: str, labels: tuple[str, ...]) -> Q:
    query = Q(pk__in=[])
    for label in labels:
        app_label, model = label.split(".")
        query |= Q(content_type__app_label=app_label, codename=f"{action}_{model}")
    return query


def _named(perms: tuple[str, ...]) -> Q:
    query = Q(pk__in=[])
    for perm in perms:
        app_label, codename = perm.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    return query


def group_permissions() -> dict[str, Q]:
    view_all = Q(content_type__app_label__in=SUPPORT_APPS, codename__startswith="view_")
    return {
        SUPPORT_AGENT: view_all | _codenames("change", AGENT_CHANGES),
        SUPPORT_LEAD: view_all | _codenames("change", LEAD_CHANGES) | _named(LEAD_EXTRA),
        PLATFORM_ADMIN: Q(),
    }


def sync_platform_groups(using: str = "default") -> dict[str, int]:
    """Create the three groups and give each exactly its permissions; the number each holds."""
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    counts = {}
    for name, query in group_permissions().items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        permissions = list(Permission.objects.using(using).filter(query))
        group.permissions.set(permissions)
        counts[name] = len(permissions)
    return counts


def sync_after_migrate(sender, using: str = "default", **kwargs) -> None:
    sync_platform_groups(using=using)


def is_support_lead(user) -> bool:
    """Support lead's own powers (approvals, merges, erasure): a support lead, a
    platform admin or a superuser."""
    if not (user.is_authenticated and user.is_staff and user.is_active):
        return False
    return user.is_superuser or user.groups.filter(name__in=(SUPPORT_LEAD, PLATFORM_ADMIN)).exists()
