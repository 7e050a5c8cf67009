from .navigation import nav_for


def merchant(request):
    """``merchant`` (set once by MerchantTimezoneMiddleware) and the dashboard's
    ``nav_items`` for the logged-in staff member."""
    current = getattr(request, "merchant", None)
    return {
        "merchant": current,
        "nav_items": nav_for(request) if current is not None else [],
    }
