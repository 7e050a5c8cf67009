"""The design a card shows when its merchant never published one: the
model's defaults, the merchant's name, its locations on the back and on the
lock screen. The designer starts a first draft from the same (through
``contract``), so publishing it unchanged changes nothing on the cards."""

from __future__ import annotations

from django.db.models import QuerySet

from loyalty.models import CardDesign
from merchants.models import Location

MAX_PASS_LOCATIONS = 10


def default_design(*, merchant) -> CardDesign:
    """What a merchant who never published a design gets (unsaved): the
    model's defaults, the merchant's name as the title, and its active
    locations as the contacts on the back, and every geocoded one on the lock
    screen (``default_locations``). A new draft starts from the same (the
    designer offers those locations ticked), so publishing it unchanged
    changes nothing."""
    return CardDesign(merchant=merchant, program_name=merchant.name[:40], contacts=default_contacts(merchant=merchant))


def default_locations(*, merchant) -> list[Location]:
    """The lock-screen locations of the default design: every geocoded active location (at most 10)."""
    return list(lock_screen_locations(merchant=merchant)[:MAX_PASS_LOCATIONS])


def default_contacts(*, merchant) -> str:
    """One line per active location: its name and address."""
    locations = Location.objects.for_merchant(merchant).filter(is_active=True)[:MAX_PASS_LOCATIONS]
    return "\n".join(f"{loc.name}: {loc.address}" if loc.address else loc.name for loc in locations)


def lock_screen_locations(*, merchant) -> QuerySet[Location]:
    """Locations a pass can name for the lock screen: active ones with coordinates."""
    return Location.objects.for_merchant(merchant).filter(
        is_active=True, latitude__isnull=False, longitude__isnull=False
    )
