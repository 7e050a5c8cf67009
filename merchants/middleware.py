import zoneinfo

from django.utils import timezone


class MerchantTimezoneMiddleware:
    """Resolve the merchant of a logged-in staff member once, at the edge, and
    show times in the merchant's time zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        merchant = None
        if user is not None and user.is_authenticated and user.merchant_id:
            merchant = user.merchant
        request.merchant = merchant
        if merchant is not None:
            timezone.activate(zoneinfo.ZoneInfo(merchant.time_zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
