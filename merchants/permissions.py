"""Who may do what in the merchant dashboard. Roles are cumulative only where
listed: a cashier sees the till, a marketer the program and campaigns, an owner
everything including staff and API keys."""

from django.contrib.auth.mixins import AccessMixin
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from .models import Role

CAN_MANAGE_STAFF = frozenset({Role.OWNER})
CAN_MANAGE_API_KEYS = frozenset({Role.OWNER})
CAN_MANAGE_LOCATIONS = frozenset({Role.OWNER})
CAN_MANAGE_PROGRAM = frozenset({Role.OWNER, Role.MARKETER})
CAN_SEE_CAMPAIGNS = frozenset({Role.OWNER, Role.MARKETER})
CAN_SEE_ANALYTICS = frozenset({Role.OWNER, Role.MARKETER})
CAN_USE_TILL = frozenset({Role.OWNER, Role.MARKETER, Role.CASHIER})
CAN_SEE_CUSTOMERS = CAN_SEE_ANALYTICS
CAN_MANAGE_WALLET = frozenset({Role.OWNER})
CAN_MANAGE_PROFILE = frozenset({Role.OWNER})
CAN_SEE_CARD_WALLETS = CAN_MANAGE_PROGRAM
CAN_SEE_AUDIT_LOG = frozenset({Role.OWNER})
# A customer's data-subject request (export): the owner answers it.
CAN_EXPORT_CUSTOMER_DATA = frozenset({Role.OWNER})


def forbidden(request, message: str) -> TemplateResponse:
    """A 403 page that says why, inside the dashboard's layout."""
    merchant = getattr(request, "merchant", None)
    context = {"reason": message, "in_dashboard": merchant is not None and merchant.is_active}
    return TemplateResponse(request, "merchants/forbidden.html", context, status=403)


class MerchantStaffRequiredMixin(AccessMixin):
    """A logged-in, active staff member of a merchant, with one of ``allowed_roles``
    in the merchant chosen for this request (the role is per membership).
    Sets ``self.merchant``; everything the view reads starts from it."""

    allowed_roles: frozenset[str] = CAN_USE_TILL

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if request.merchant is None:
            return forbidden(request, _("This page is for the staff of a business."))
        if not request.merchant.is_active:
            return forbidden(request, _("This business account is suspended. Please contact support."))
        if request.membership.role not in self.allowed_roles:
            return forbidden(request, _("Your role does not give access to this page."))
        self.merchant = request.merchant
        return super().dispatch(request, *args, **kwargs)


def public_route(view):
    """Mark a view as public (no merchant login: sign-up, invitation links,
    password reset, customer-facing pages). The tenancy test skips public routes
    and checks every other route with URL arguments."""
    view.public_route = True
    return view


def role_allows(request, roles: frozenset[str]) -> bool:
    """Whether the person's role in the request's merchant is one of ``roles``."""
    # ``request`` may be DRF's (the POS API's docs page), which passes attribute reads on
    # to Django's request; a request that never went through the middleware has no membership.
    membership = getattr(request, "membership", None)
    return bool(membership is not None and membership.role in roles)


def current_role(request) -> str:
    membership = getattr(request, "membership", None)
    return membership.role if membership is not None else ""
