"""Every change made in admin goes to the audit log (issue 13), with the values
before and after: ``AuditedAdminMixin`` hooks ModelAdmin's ``log_addition``,
``log_change`` and ``log_deletions`` (Django's own LogEntry is still written).

``audit_every_admin`` gives the mixin to every ModelAdmin registered on the
site, ours and third-party ones (groups, periodic tasks) alike, so that an admin
added later is audited without anyone remembering to; it runs once, from
``MerchantsConfig.ready`` (after admin's autodiscovery)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.models import LogEntry

from . import audit

_BEFORE = "_audit_before"


def _key(obj) -> tuple[str, str]:
    return obj._meta.label_lower, str(obj.pk)


def _message(entry, fallback) -> str:
    if isinstance(entry, LogEntry):
        return entry.get_change_message()
    return fallback if isinstance(fallback, str) else ""


class AuditedAdminMixin:
    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # The change form edits this very instance: remember it as it was.
            getattr(request, _BEFORE, None) or setattr(request, _BEFORE, {})
            getattr(request, _BEFORE)[_key(obj)] = audit.snapshot(obj)
        return obj

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        audit.record(
            action="admin.added", actor=request.user, target=obj, after=audit.snapshot(obj), reason=_message(entry, "")
        )
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        before = getattr(request, _BEFORE, {}).get(_key(obj))
        before, after = audit.changes(before, audit.snapshot(obj))
        audit.record(
            action="admin.changed",
            actor=request.user,
            target=obj,
            before=before,
            after=after,
            reason=_message(entry, message),
        )
        return entry

    def log_deletions(self, request, queryset):
        objects = list(queryset)
        entries = super().log_deletions(request, objects)
        for obj in objects:
            audit.record(action="admin.deleted", actor=request.user, target=obj, before=audit.snapshot(obj))
        return entries


def audit_every_admin(site: admin.AdminSite) -> None:
    for model_admin in site._registry.values():
        cls = type(model_admin)
        if not issubclass(cls, AuditedAdminMixin):
            model_admin.__class__ = type(cls.__name__, (AuditedAdminMixin, cls), {"__module__": cls.__module__})
