"""Who may do what in the merchant dashboard. Roles are cumulative only where
listed: a cashier sees the till, a marketer the program and campaigns, an owner
everything including staff and API keys."""

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied

from .models import Role

CAN_MANAGE_STAFF = frozenset({Role.OWNER})
CAN_MANAGE_API_KEYS = frozenset({Role.OWNER})
CAN_MANAGE_LOCATIONS = frozenset({Role.OWNER})
CAN_MANAGE_PROGRAM = frozenset({Role.OWNER, Role.MARKETER})
CAN_SEE_CAMPAIGNS = frozenset({Role.OWNER, Role.MARKETER})
CAN_SEE_ANALYTICS = frozenset({Role.OWNER, Role.MARKETER})
CAN_USE_TILL = frozenset({Role.OWNER, Role.MARKETER, Role.CASHIER})


class MerchantStaffRequiredMixin(AccessMixin):
    """A logged-in, active staff member of a merchant, with one of ``allowed_roles``.
    Sets ``self.merchant``; everything the view reads starts from it."""

    allowed_roles: frozenset[str] = CAN_USE_TILL

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if request.merchant is None:
            raise PermissionDenied("Only merchant staff can use the dashboard.")
        if request.user.role not in self.allowed_roles:
            raise PermissionDenied("Your role does not allow this page.")
        self.merchant = request.merchant
        return super().dispatch(request, *args, **kwargs)


def role_allows(user, roles: frozenset[str]) -> bool:
    return bool(user.is_authenticated and user.merchant_id and user.role in roles)
