"""The audit log's one writer (issue 13, house style §15).

``record(...)`` adds an :class:`~merchants.models.AuditEvent` in the caller's
transaction, so that the event and the change it describes commit or roll back
together. Who acted and from which address come from the arguments, else from
the request being served (``AuditContextMiddleware`` notes them at the edge, so
that services never read the request); a Celery task or a management command
has neither and is recorded as the system.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from .models import AuditEvent, Merchant, User
from .ratelimit import login_client_ip


@dataclass(frozen=True)
class AuditContext:
    actor: User | None
    ip_address: str | None
    source: str


_context: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar("audit_context", default=None)

# Never copied into the log: passwords, key and token hashes, encrypted secrets.
_SECRET_FIELD = re.compile(r"password|hash|secret|token|encrypted|private|p12|ciphertext", re.IGNORECASE)


@contextmanager
def acting(*, actor: User | None, ip_address: str | None = None, source: str = "") -> Iterator[None]:
    """Name who is acting for the ``record`` calls inside (the middleware does this per request)."""
    token = _context.set(AuditContext(actor=actor, ip_address=ip_address, source=source))
    try:
        yield
    finally:
        _context.reset(token)


def request_source(request) -> str:
    return "admin" if request.path.startswith("/admin/") else "api" if request.path.startswith("/api/") else "web"


class AuditContextMiddleware:
    """Notes the logged-in person and the client's address (proxy-aware) for ``record``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
        with acting(actor=actor, ip_address=login_client_ip(request), source=request_source(request)):
            return self.get_response(request)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON (Decimals and dates as strings, the way DjangoJSONEncoder writes them)."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The row's own fields (foreign keys as ids), without secrets, as plain JSON."""
    values = {}
    for field in obj._meta.concrete_fields:
        if _SECRET_FIELD.search(field.name):
            continue
        value = getattr(obj, field.attname)
        if isinstance(value, bytes | memoryview):
            continue
        if isinstance(field, models.FileField):
            value = str(value or "")
        values[field.attname] = value
    return jsonable(values)


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[dict | None, dict | None]:
    """Only the keys whose values differ (all of them when one side is missing)."""
    if before is None or after is None:
        return before, after
    keys = [key for key in after.keys() | before.keys() if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in sorted(keys)}, {key: after.get(key) for key in sorted(keys)}


def _merchant_id(merchant: Merchant | int | None, target: models.Model | None) -> int | None:
    if merchant is not None:
        return merchant if isinstance(merchant, int) else merchant.pk
    if isinstance(target, Merchant):
        return target.pk
    return getattr(target, "merchant_id", None) if target is not None else None


def record(
    *,
    action: str,
    merchant: Merchant | int | None = None,
    actor: User | None = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    ip_address: str | None = None,
) -> AuditEvent:
    """Add one event. ``merchant`` defaults to the target's merchant; ``actor`` and
    ``ip_address`` to those of the request being served."""
    context = _context.get()
    if actor is None and context is not None:
        actor = context.actor
    if ip_address is None and context is not None:
        ip_address = context.ip_address
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or target.pk
        target_label = target_label or str(target)
    return AuditEvent.objects.create(
        merchant_id=_merchant_id(merchant, target),
        actor=actor if actor is not None and actor.pk else None,
        actor_label=(actor.email if actor is not None else "")[:254],
        ip_address=ip_address,
        source=context.source if context is not None else "system",
        action=action,
        target_type=target_type,
        target_id=str(target_id or "")[:64],
        target_label=target_label[:300],
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
        reason=reason or "",
    )


# --- erasure: personal data out of earlier events ------------------------------------------------

REDACTED = "[redacted]"
# Keys of ``before``/``after`` that hold a person's data (a customer's snapshot, a contact change).
PERSONAL_KEYS = ("name", "phone", "email", "birthday")
# PostgreSQL's append-only trigger lets an UPDATE through only while this transaction-local setting
# is on, and then only one that replaces PERSONAL_KEYS values with REDACTED and a label with "#<id>"
# (merchants/migrations/0010_audit_redaction.py).
REDACTION_SETTING = "merchants.audit_redaction"


def _redacted(values: Any) -> Any:
    if not isinstance(values, dict):
        return values
    return {
        key: REDACTED if key in PERSONAL_KEYS and value not in (None, "") else value for key, value in values.items()
    }


def _allow_redaction(on: bool) -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [REDACTION_SETTING, "on" if on else "off"])


def redact_personal_data(
    *,
    merchant: Merchant,
    targets: dict[str, list[str]],
    relabel: frozenset[str] = frozenset(),
    subject_label: str = "",
    actor: User | None = None,
    reason: str = "",
) -> int:
    """On erasure: blank the personal values (PERSONAL_KEYS) in the earlier events about
    ``targets`` (``{"loyalty.customer": ["42"], "loyalty.card": ["7", "8"]}``), and give the
    events on a type in ``relabel`` the label "#<id>" (a customer's label is their name and
    phone). The only change the database allows to the log; recorded as an event itself.
    Must run inside the erasure's transaction. Returns the number of events redacted."""
    from django.db import transaction
    from django.db.models import Q

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("redact_personal_data runs inside the erasure's transaction")
    query = Q(pk__in=[])
    for target_type, ids in targets.items():
        query |= Q(target_type=target_type, target_id__in=[str(i) for i in ids])
    redacted = 0
    _allow_redaction(True)
    try:
        for event in AuditEvent.objects.filter(query).order_by("pk").select_for_update():
            before, after = _redacted(event.before), _redacted(event.after)
            label = f"#{event.target_id}" if event.target_type in relabel else event.target_label
            if (before, after, label) != (event.before, event.after, event.target_label):
                AuditEvent.objects.filter(pk=event.pk).update(before=before, after=after, target_label=label)
                redacted += 1
    finally:
        _allow_redaction(False)
    if redacted:
        target_type, ids = next(iter(targets.items()))
        record(
            action="audit.redacted",
            merchant=merchant,
            actor=actor,
            target_type=target_type,
            target_id=ids[0] if ids else "",
            target_label=subject_label,
            after={"events": redacted, "fields": list(PERSONAL_KEYS)},
            reason=reason,
        )
    return redacted
