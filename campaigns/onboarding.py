"""The campaigns' step of the getting-started checklist on the dashboard home."""

from __future__ import annotations

from django.db.models import Q

from .models import Campaign, Kind, SendStatus, Status


def has_first_campaign(*, merchant) -> bool:
    """Done when the merchant has sent a campaign (a one-off or a recurring run finished) or has
    an automation switched on."""
    return (
        Campaign.objects.for_merchant(merchant)
        .filter(
            Q(status=Status.DONE) | Q(kind=Kind.AUTOMATION, status=Status.ACTIVE) | Q(sends__status=SendStatus.DONE)
        )
        .exists()
    )
