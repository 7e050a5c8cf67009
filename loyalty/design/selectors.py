"""Reads for card designs: the published version customers see, and the
sample numbers the designer's preview shows."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from loyalty.display import free_visit_text
from loyalty.models import CardDesign
from loyalty.program.services import current_rules
from loyalty.wallet.contract import (  # noqa: F401  (the designer's draft starts from the same defaults)
    MAX_PASS_LOCATIONS,
    default_contacts,
    default_design,
    default_locations,
    lock_screen_locations,
)
from loyalty.wallet.images import MAX_STAMPS


def published_design(*, merchant) -> CardDesign | None:
    """The latest published version (what installed cards show), or None."""
    return CardDesign.objects.for_merchant(merchant).filter(published_at__isnull=False).order_by("-version").first()


def design_for_customers(*, merchant) -> CardDesign:
    """The published design, or the defaults (unsaved) for a merchant who never published one."""
    return published_design(merchant=merchant) or default_design(merchant=merchant)


def published_versions(*, merchant, limit: int = 10) -> QuerySet[CardDesign]:
    return (
        CardDesign.objects.for_merchant(merchant)
        .filter(published_at__isnull=False)
        .select_related("created_by")
        .order_by("-version")[:limit]
    )


@dataclass(frozen=True)
class PreviewSample:
    """What the preview shows in place of a real customer's card."""

    stamps: bool
    points: int = 350
    tier: str = ""
    name: str = "Анна"
    card_number: str = "2048 1937 5561"
    barcode_payload: str = "LC1-preview-sample-0000"
    stamps_filled: int = 0
    stamps_total: int = 0
    stamp_rule: str = ""
    reward: str = ""


def preview_sample(*, merchant) -> PreviewSample:
    rules = current_rules(merchant=merchant)
    if rules.uses_stamps:
        total = max(1, min(rules.stamps_per_reward, MAX_STAMPS))
        return PreviewSample(
            stamps=True,
            stamps_filled=min(4, total - 1) if total > 1 else 0,
            stamps_total=total,
            stamp_rule=free_visit_text(rules.stamps_per_reward),
            reward=rules.reward_description,
        )
    # The sample card sits on the merchant's second tier (its own name: "Серебро", "Silver", …).
    tiers = rules.tiers
    return PreviewSample(stamps=False, tier=tiers[min(1, len(tiers) - 1)].name if tiers else "")
