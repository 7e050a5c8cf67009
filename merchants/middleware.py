import zoneinfo

from django.utils import timezone

from .selectors import memberships_for

# The merchant a person with several (an agency marketer, say) chose last, by id.
SESSION_MERCHANT_KEY = "merchants.current_merchant_id"


class MerchantTimezoneMiddleware:
    """Resolve the merchant of a logged-in staff member once, at the edge, and
    show times in the merchant's time zone.

    A person may work for several merchants: ``request.memberships`` lists their
    active memberships, and ``request.membership`` is the one chosen in the session
    (the header's switcher), or the first. The choice is checked on every request,
    so a membership that was removed or deactivated stops giving access at once."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        memberships = []
        if user is not None and user.is_authenticated:
            memberships = memberships_for(user=user)
        membership = None
        if memberships:
            chosen = request.session.get(SESSION_MERCHANT_KEY)
            membership = next((m for m in memberships if m.merchant_id == chosen), memberships[0])
        request.memberships = memberships
        request.membership = membership
        merchant = membership.merchant if membership is not None else None
        request.merchant = merchant
        if merchant is not None:
            timezone.activate(zoneinfo.ZoneInfo(merchant.time_zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class StaffTwoFactorMiddleware:
    """Platform staff reach admin only with a second factor (issue 13): a staff member
    logged in without one is sent to set up an authenticator (or, having one, to log in
    again with its code) before any admin page but admin's log-in and log-out opens."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.shortcuts import redirect
        from django.urls import reverse

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            admin_root = reverse("admin:index")
            allowed = (reverse("admin:login"), reverse("admin:logout"))
            if request.path.startswith(admin_root) and request.path not in allowed and not user.is_verified():
                from . import two_factor

                if two_factor.is_enabled(user):
                    # Has an authenticator but this session did not use it: log in again with the code.
                    from django.contrib.auth import logout
                    from django.contrib.auth.views import redirect_to_login

                    logout(request)
                    return redirect_to_login(request.get_full_path(), reverse("admin:login"))
                return redirect(f"{reverse('two_factor')}?next={request.path}")
        return self.get_response(request)
