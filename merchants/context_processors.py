from .navigation import nav_for


def merchant(request):
    """``merchant`` (set once by MerchantTimezoneMiddleware), the dashboard's
    ``nav_items`` for the logged-in staff member and ``nav_current``, the active one."""
    current = getattr(request, "merchant", None)
    items = nav_for(request) if current is not None else []
    return {
        "merchant": current,
        "nav_items": items,
        "nav_current": next((item for item in items if item.active), None),
    }
