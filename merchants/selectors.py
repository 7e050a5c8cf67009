"""Reads for the merchant dashboard. Everything starts from one merchant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import (
    AUDIT_ACTIONS,
    ApiKey,
    AuditEvent,
    Invitation,
    Location,
    Membership,
    Merchant,
    MerchantSlugAlias,
    OnboardingMark,
    Role,
    User,
)


def location_list(*, merchant: Merchant) -> QuerySet[Location]:
    return Location.objects.for_merchant(merchant).order_by("-is_active", "name", "pk")


def memberships_for(*, user: User) -> list[Membership]:
    """The merchants ``user`` works for now (active memberships), by merchant name."""
    return list(
        Membership.objects.filter(user=user, is_active=True)
        .select_related("merchant")
        .order_by("merchant__name", "merchant_id")
    )


def staff_list(*, merchant: Merchant) -> QuerySet[Membership]:
    """The merchant's team: one membership per person (``member.email``, ``member.role``…)."""
    return Membership.objects.for_merchant(merchant).select_related("user").order_by("-is_active", "user__email")


def staff_member(*, merchant: Merchant, pk: int) -> Membership:
    """The membership of the user ``pk`` in ``merchant``. Raises Membership.DoesNotExist
    for another merchant's staff, as for a missing one."""
    return Membership.objects.for_merchant(merchant).select_related("user").get(user_id=pk)


def pending_invitations(*, merchant: Merchant, now: datetime | None = None) -> QuerySet[Invitation]:
    now = now or timezone.now()
    return (
        Invitation.objects.for_merchant(merchant)
        .filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)
        .select_related("invited_by")
        .order_by("-created_at")
    )


def api_key_list(*, merchant: Merchant) -> QuerySet[ApiKey]:
    keys = ApiKey.objects.for_merchant(merchant).select_related("location__merchant")
    # Active keys (no revocation time) first.
    return keys.order_by(F("revoked_at").desc(nulls_first=True), "-created_at")


@dataclass(frozen=True)
class OnboardingStatus:
    has_location: bool
    has_staff: bool
    has_api_key: bool

    @property
    def complete(self) -> bool:
        return self.has_location and self.has_staff and self.has_api_key


def onboarding_status(*, merchant: Merchant) -> OnboardingStatus:
    return OnboardingStatus(
        has_location=Location.objects.for_merchant(merchant).filter(is_active=True).exists(),
        has_staff=has_invited_cashier(merchant=merchant),
        has_api_key=ApiKey.objects.for_merchant(merchant).filter(revoked_at__isnull=True).exists(),
    )


def has_invited_cashier(*, merchant: Merchant) -> bool:
    """A cashier works here, or one was invited (and the invitation not revoked)."""
    return (
        Membership.objects.for_merchant(merchant).filter(role=Role.CASHIER).exists()
        or Invitation.objects.for_merchant(merchant).filter(role=Role.CASHIER, revoked_at__isnull=True).exists()
    )


def onboarding_mark_at(*, merchant: Merchant, key: str) -> datetime | None:
    return OnboardingMark.objects.for_merchant(merchant).filter(key=key).values_list("recorded_at", flat=True).first()


# One status line per card on the settings hub (one small count each).


def locations_summary(*, merchant: Merchant) -> str:
    active = Location.objects.for_merchant(merchant).filter(is_active=True).count()
    if not active:
        return _("No locations yet")
    return ngettext("%(count)d active location", "%(count)d active locations", active) % {"count": active}


def staff_summary(*, merchant: Merchant, now: datetime | None = None) -> str:
    people = Membership.objects.for_merchant(merchant).filter(is_active=True).count()
    text = ngettext("%(count)d person", "%(count)d people", people) % {"count": people}
    invited = pending_invitations(merchant=merchant, now=now).count()
    if invited:
        text += " · " + ngettext("%(count)d invitation pending", "%(count)d invitations pending", invited) % {
            "count": invited
        }
    return text


def api_keys_summary(*, merchant: Merchant) -> str:
    active = ApiKey.objects.for_merchant(merchant).filter(revoked_at__isnull=True).count()
    if not active:
        return _("No keys yet")
    return ngettext("%(count)d active key", "%(count)d active keys", active) % {"count": active}


def profile_summary(*, merchant) -> str:
    """The settings hub's status line: the public address and the currency."""
    return f"/join/{merchant.slug}/ · {merchant.currency} · {merchant.time_zone}"


def safeguards_summary(*, merchant) -> str:
    """The settings hub's status line: "Данные: 3 года · подтверждение свыше 5000 баллов"."""
    from django.utils.translation import gettext, ngettext

    years = merchant.customer_retention_years
    threshold = merchant.adjustment_approval_threshold
    retention = (
        ngettext("data kept %(n)s year after the last visit", "data kept %(n)s years after the last visit", years)
        % {"n": years}
        if years
        else gettext("data kept until deleted on request")
    )
    approval = (
        ngettext("approval above %(n)s point", "approval above %(n)s points", threshold) % {"n": threshold}
        if threshold
        else gettext("no second approval")
    )
    return f"{retention} · {approval}"


def old_slugs(*, merchant) -> list[str]:
    """The addresses the merchant used before (they redirect to the current one), newest first."""
    return list(
        MerchantSlugAlias.objects.for_merchant(merchant).order_by("-created_at", "-pk").values_list("slug", flat=True)
    )


def merchant_for_old_slug(slug: str):
    """The active merchant that used to have ``slug``, or None."""
    alias = MerchantSlugAlias.objects.select_related("merchant").filter(slug=slug, merchant__is_active=True).first()
    return alias.merchant if alias is not None else None


def audit_events(*, merchant: Merchant, action: str = "") -> QuerySet[AuditEvent]:
    """The merchant's audit events, newest first; ``action`` narrows to one kind."""
    events = AuditEvent.objects.for_merchant(merchant).order_by("-created_at", "-pk")
    if action:
        events = events.filter(action=action)
    return events


def audit_actions(*, merchant: Merchant) -> list[tuple[str, str]]:
    """The kinds of event the merchant has, as (code, label) for a filter."""
    codes = AuditEvent.objects.for_merchant(merchant).values_list("action", flat=True).distinct()
    return sorted(((code, str(AUDIT_ACTIONS.get(code, code))) for code in codes), key=lambda pair: pair[1])


def merchant_countries() -> list[str]:
    """The countries merchants are in (support reads a phone typed without its country code in each)."""
    return sorted(set(Merchant.objects.values_list("country", flat=True))) or ["RU"]
