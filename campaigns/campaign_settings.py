"""The merchant's campaign settings (frequency cap, service-message exemption, quiet hours,
defaults for new campaigns, sender): changed by the owner or a marketer, audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from merchants import audit

from .models import CampaignSettings

FIELDS = (
    "cap_messages",
    "cap_days",
    "exempt_transactional",
    "quiet_start",
    "quiet_end",
    "default_holdout_percent",
    "default_attribution_days",
    "sender_name",
    "owner_email",
)


def settings_for(*, merchant) -> CampaignSettings:
    """The merchant's settings (a merchant or its id), made with the defaults on first use."""
    merchant_id = merchant if isinstance(merchant, int) else merchant.pk
    found, _ = CampaignSettings.objects.get_or_create(merchant_id=merchant_id)
    return found


def update_settings(*, merchant, actor, values: dict[str, Any]) -> CampaignSettings:
    """Save the validated ``values`` and record who changed what (only the fields that changed)."""
    with transaction.atomic():
        settings_for(merchant=merchant)
        current = CampaignSettings.objects.select_for_update().get(merchant=merchant)
        before = {name: getattr(current, name) for name in FIELDS}
        for name in FIELDS:
            if name in values:
                setattr(current, name, values[name])
        current.save()
        after = {name: getattr(current, name) for name in FIELDS}
        changed = [name for name in FIELDS if before[name] != after[name]]
        if changed:
            audit.record(
                action="campaigns.settings_changed",
                merchant=merchant,
                actor=actor,
                target=current,
                before={name: _plain(before[name]) for name in changed},
                after={name: _plain(after[name]) for name in changed},
            )
        return current


def _plain(value: Any) -> Any:
    return value.strftime("%H:%M") if hasattr(value, "strftime") else value
