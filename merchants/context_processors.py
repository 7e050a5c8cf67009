from . import demo_status
from .navigation import nav_for


def merchant(request):
    """``merchant`` (set once by MerchantTimezoneMiddleware), the dashboard's
    ``nav_items`` for the logged-in staff member and ``nav_current``, the active one;
    ``demo_loading`` while ``make run`` is still loading this merchant's demo data."""
    current = getattr(request, "merchant", None)
    items = nav_for(request) if current is not None else []
    return {
        "merchant": current,
        "nav_items": items,
        "nav_current": next((item for item in items if item.active), None),
        "demo_loading": demo_status.loading_for(current) if current is not None else None,
    }
