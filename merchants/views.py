"""Merchant dashboard and onboarding pages. Thin: forms validate, services write,
selectors read; every object is fetched through ``for_merchant(self.merchant)``
so another merchant's object is a 404, exactly like a missing one."""

from __future__ import annotations

import hashlib
import json
from functools import partial

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import FormView, ListView, TemplateView, UpdateView

from . import secretbox, selectors, services, two_factor
from .choices import country_currencies, country_name, country_time_zones
from .exceptions import InvitationInvalid, InvitationPending, MerchantError
from .forms import (
    ApiKeyForm,
    BusinessProfileForm,
    EmailAuthenticationForm,
    InvitationAcceptForm,
    InvitationForm,
    InvitationLoginForm,
    LocationForm,
    SafeguardsForm,
    SignUpForm,
    StaffRoleForm,
    TwoFactorConfirmForm,
    apply_service_error,
)
from .middleware import SESSION_MERCHANT_KEY
from .models import ApiKey, Invitation, Location, Membership, Role, User
from .navigation import checklist_for, home_panels_for, settings_pages_for
from .permissions import (
    CAN_MANAGE_API_KEYS,
    CAN_MANAGE_LOCATIONS,
    CAN_MANAGE_PROFILE,
    CAN_MANAGE_STAFF,
    CAN_SEE_AUDIT_LOG,
    CAN_USE_TILL,
    MerchantStaffRequiredMixin,
    forbidden,
    public_route,
    role_allows,
)
from .ratelimit import Limit, client_ip, hit
from .tasks import password_reset_email_task

_AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"


# One-time secrets (a new API key, an invitation link) travel from the POST to
# the page after the redirect in the session, encrypted so that the session
# table never holds them in clear, and are removed on first display.


def _stash_once(request, key: str, value: dict) -> None:
    request.session[key] = secretbox.encrypt(json.dumps(value).encode()).decode()


def _pop_once(request, key: str) -> dict | None:
    token = request.session.pop(key, None)
    if not token:
        return None
    try:
        return json.loads(secretbox.decrypt(token.encode()))
    except (InvalidToken, ValueError):
        return None


# Public pages ---------------------------------------------------------------


@public_route
class SignUpView(FormView):
    template_name = "merchants/signup.html"
    form_class = SignUpForm

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and getattr(request, "merchant", None) is not None:
            return redirect("dashboard")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["country_currencies"] = country_currencies()
        context["country_time_zones"] = country_time_zones()
        return context

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            merchant, owner = services.merchant_sign_up(
                business_name=data["business_name"],
                country=data["country"],
                currency=data["currency"],
                time_zone=data["time_zone"],
                email=data["email"],
                password=data["password1"],
                full_name=data["full_name"],
            )
        except (MerchantError, ValidationError) as exc:
            apply_service_error(form, exc)
            return self.form_invalid(form)
        login(self.request, owner, backend=_AUTH_BACKEND)
        messages.success(
            self.request, _("Welcome! Your business account is ready: %(name)s.") % {"name": merchant.name}
        )
        return redirect("dashboard")


@public_route
class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        # Platform support staff have no dashboard; their place is admin.
        user = self.request.user
        if user.is_authenticated and user.is_staff and not user.memberships.exists():
            return reverse("admin:index")
        return super().get_default_redirect_url()


def login_locked_out(request, original_response=None, credentials=None) -> TemplateResponse:
    """django-axes' answer to a login refused during a lockout (dashboard and admin)."""
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    response = TemplateResponse(
        request, "registration/locked_out.html", {"minutes": minutes}, status=settings.AXES_HTTP_RESPONSE_CODE
    )
    return response.render()


PASSWORD_RESET_PER_IP = Limit(*settings.PASSWORD_RESET_LIMIT_PER_IP)
PASSWORD_RESET_PER_ACCOUNT = Limit(*settings.PASSWORD_RESET_LIMIT_PER_ACCOUNT)


@public_route
class PasswordResetView(auth_views.PasswordResetView):
    """Ask for a reset link. The answer never tells whether the e-mail is known:
    the same page, after the same work (count, queue a task), either way; the
    task looks the user up and sends. Limited per address and per typed e-mail."""

    def form_valid(self, form):
        email = form.cleaned_data["email"].strip().lower()
        by_ip = hit(f"password-reset:ip:{client_ip(self.request)}", PASSWORD_RESET_PER_IP)
        by_account = hit(
            f"password-reset:account:{hashlib.sha256(email.encode()).hexdigest()}", PASSWORD_RESET_PER_ACCOUNT
        )
        if not (by_ip and by_account):
            return TemplateResponse(self.request, "registration/password_reset_limited.html", status=429)
        language = translation.get_language()
        transaction.on_commit(partial(password_reset_email_task.delay, email, language))
        return HttpResponseRedirect(self.get_success_url())


@public_route
class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    pass


@public_route
class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    pass


@public_route
class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    pass


@public_route
@method_decorator(never_cache, name="dispatch")
class InvitationAcceptView(View):
    """The invitation link. A new address sets a name and password; an address that
    already has a login (staff of another merchant) joins with that login: at once
    when logged in as it, else with its password. One login, several merchants."""

    template_name = "merchants/invitation_accept.html"

    def _invalid(self, request, exc: InvitationInvalid) -> TemplateResponse:
        return TemplateResponse(request, "merchants/invitation_invalid.html", {"reason": exc.message}, status=410)

    def _render(self, request, invitation, form, *, status: int = 200) -> TemplateResponse:
        context = {"invitation": invitation, "form": form, "mode": self._mode(request, invitation)}
        return TemplateResponse(request, self.template_name, context, status=status)

    @staticmethod
    def _mode(request, invitation) -> str:
        user = request.user
        if user.is_authenticated:
            return "join" if user.email == invitation.email else "other_login"
        return "password" if services.invitation_has_account(invitation) else "new"

    @staticmethod
    def _form(mode: str, invitation, data=None, request=None):
        if mode == "new":
            return InvitationAcceptForm(data, invitation=invitation)
        if mode == "password":
            return InvitationLoginForm(data, invitation=invitation, request=request)
        return None

    def get(self, request, token: str):
        try:
            invitation = services.invitation_for_token(token)
        except InvitationInvalid as exc:
            return self._invalid(request, exc)
        return self._render(request, invitation, self._form(self._mode(request, invitation), invitation))

    def post(self, request, token: str):
        try:
            invitation = services.invitation_for_token(token)
        except InvitationInvalid as exc:
            return self._invalid(request, exc)
        mode = self._mode(request, invitation)
        if mode == "other_login":
            return self._render(request, invitation, None, status=409)
        form = self._form(mode, invitation, request.POST, request)
        if form is not None and not form.is_valid():
            return self._render(request, invitation, form)
        try:
            if mode == "new":
                user = services.invitation_accept(
                    token=token, password=form.cleaned_data["password1"], full_name=form.cleaned_data["full_name"]
                )
            else:
                user = request.user if mode == "join" else form.user
                services.invitation_join(token=token, user=user)
        except InvitationInvalid as exc:
            return self._invalid(request, exc)
        except ValidationError as exc:
            apply_service_error(form, exc)
            return self._render(request, invitation, form)
        if mode != "join":
            login(request, user, backend=_AUTH_BACKEND)
        # Open the dashboard of the business that invited them.
        request.session[SESSION_MERCHANT_KEY] = invitation.merchant_id
        messages.success(request, _("Welcome to the team of %(name)s!") % {"name": invitation.merchant.name})
        return redirect("dashboard")


class MerchantSwitchView(LoginRequiredMixin, View):
    """The header's switcher: work on another business the person belongs to. The
    choice is kept in the session and checked again on every request (middleware)."""

    def post(self, request):
        try:
            merchant_id = int(request.POST.get("merchant", ""))
        except ValueError:
            merchant_id = None
        membership = next((m for m in request.memberships if m.merchant_id == merchant_id), None)
        if membership is None:
            # Not a business of theirs (or no longer): the same answer for both.
            return forbidden(request, _("You are not in the team of this business."))
        request.session[SESSION_MERCHANT_KEY] = membership.merchant_id
        messages.success(request, _("You are now working on %(name)s.") % {"name": membership.merchant.name})
        return redirect("dashboard")


# Dashboard ------------------------------------------------------------------


class DashboardView(MerchantStaffRequiredMixin, TemplateView):
    allowed_roles = CAN_USE_TILL
    template_name = "merchants/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if role_allows(self.request, CAN_MANAGE_STAFF):
            context["onboarding"] = checklist_for(self.merchant)
            context["web_card_only"] = selectors.onboarding_mark_at(merchant=self.merchant, key="web_card_only")
        context["home_panels"] = home_panels_for(self.request, self.merchant)
        context["merchant_country_name"] = country_name(self.merchant.country)
        context["local_now"] = timezone.now()
        return context


class WebCardOnlyView(MerchantStaffRequiredMixin, View):
    """The owner's honest choice on the checklist: customers get the web card
    only, no Apple or Google Wallet (or, with ``choice=wallets``, take it back)."""

    allowed_roles = CAN_MANAGE_STAFF

    def post(self, request):
        on = request.POST.get("choice") != "wallets"
        services.onboarding_mark(merchant=self.merchant, key="web_card_only", on=on)
        if on:
            messages.success(request, _("Customers will get the web card only. You can add wallets at any time."))
        return redirect("dashboard")


class SettingsView(MerchantStaffRequiredMixin, TemplateView):
    """The settings hub: one card per set-up page the person may open
    (merchants.navigation.SETTINGS_PAGES), each with a short status line."""

    allowed_roles = CAN_USE_TILL
    template_name = "merchants/settings.html"

    def get(self, request, *args, **kwargs):
        pages = settings_pages_for(request)
        if not pages:
            return forbidden(request, _("Your role does not give access to this page."))
        cards = [
            {
                "url": reverse(page.url_name),
                "title": page.title,
                "description": page.description,
                "icon": page.icon,
                "summary": page.summary(self.merchant) if page.summary else None,
            }
            for page in pages
        ]
        return self.render_to_response(self.get_context_data(cards=cards))


class MerchantObjectMixin:
    """Fetch ``model`` by ``pk`` within the current merchant, else 404."""

    model: type

    def get_queryset(self):
        return self.model.objects.for_merchant(self.merchant)

    def get_object_for_merchant(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])


# Business profile -----------------------------------------------------------


class BusinessProfileView(MerchantStaffRequiredMixin, FormView):
    allowed_roles = CAN_MANAGE_PROFILE
    template_name = "merchants/profile_form.html"
    form_class = BusinessProfileForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["merchant"] = self.merchant
        kwargs["currency_locked"] = services.currency_locked(self.merchant)
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["join_url"] = self.request.build_absolute_uri(f"/join/{self.merchant.slug}/")
        context["join_prefix"] = self.request.build_absolute_uri("/join/")
        context["old_slugs"] = selectors.old_slugs(merchant=self.merchant)
        return context

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            services.merchant_update_profile(
                merchant=self.merchant,
                name=data["name"],
                slug=data["slug"],
                country=data["country"],
                currency=data["currency"],
                time_zone=data["time_zone"],
            )
        except (MerchantError, ValidationError) as exc:
            apply_service_error(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Business profile saved."))
        return redirect("business_profile")


class SafeguardsView(MerchantStaffRequiredMixin, FormView):
    """The owner's personal-data retention and the approval threshold of balance corrections."""

    allowed_roles = CAN_MANAGE_PROFILE
    template_name = "merchants/safeguards_form.html"
    form_class = SafeguardsForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["merchant"] = self.merchant
        return kwargs

    def form_valid(self, form):
        try:
            services.merchant_update_safeguards(
                merchant=self.merchant,
                customer_retention_years=form.cleaned_data["customer_retention_years"],
                adjustment_approval_threshold=form.cleaned_data["adjustment_approval_threshold"],
                actor=self.request.user,
            )
        except ValidationError as exc:
            apply_service_error(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Saved."))
        return redirect("safeguards")


# Locations ------------------------------------------------------------------


class LocationListView(MerchantStaffRequiredMixin, ListView):
    allowed_roles = CAN_MANAGE_LOCATIONS
    template_name = "merchants/location_list.html"
    context_object_name = "locations"

    def get_queryset(self):
        return selectors.location_list(merchant=self.merchant)


class LocationFormMixin:
    template_name = "merchants/location_form.html"
    form_class = LocationForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["merchant"] = self.merchant
        return kwargs

    def form_valid(self, form):
        try:
            location = services.location_save(location=form.save(commit=False))
        except ValidationError as exc:
            apply_service_error(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, self.success_message % {"name": location.name})
        return redirect("location_list")


class LocationCreateView(MerchantStaffRequiredMixin, LocationFormMixin, FormView):
    allowed_roles = CAN_MANAGE_LOCATIONS

    @property
    def success_message(self) -> str:
        return _("Location “%(name)s” added.")


class LocationUpdateView(MerchantStaffRequiredMixin, MerchantObjectMixin, LocationFormMixin, UpdateView):
    allowed_roles = CAN_MANAGE_LOCATIONS
    model = Location
    context_object_name = "location"

    @property
    def success_message(self) -> str:
        return _("Location “%(name)s” saved.")


class LocationSetActiveView(MerchantStaffRequiredMixin, MerchantObjectMixin, View):
    allowed_roles = CAN_MANAGE_LOCATIONS
    model = Location
    is_active = False

    def post(self, request, pk: int):
        location = self.get_object_for_merchant()
        services.location_set_active(location=location, is_active=self.is_active)
        if self.is_active:
            messages.success(request, _("Location “%(name)s” is active again.") % {"name": location.name})
        else:
            messages.success(
                request,
                _("Location “%(name)s” is deactivated; its API keys stop working until you activate it again.")
                % {"name": location.name},
            )
        return redirect("location_list")


# Staff ----------------------------------------------------------------------

_ISSUED_INVITATION = "merchants.issued_invitation"


class StaffListView(MerchantStaffRequiredMixin, TemplateView):
    allowed_roles = CAN_MANAGE_STAFF
    template_name = "merchants/staff_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["staff"] = selectors.staff_list(merchant=self.merchant)
        context["invitations"] = selectors.pending_invitations(merchant=self.merchant)
        context["issued"] = _pop_once(self.request, _ISSUED_INVITATION)
        context["roles"] = Role.choices
        return context

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        if context["issued"]:
            add_never_cache_headers(response)
        return response


class InvitationCreateView(MerchantStaffRequiredMixin, FormView):
    allowed_roles = CAN_MANAGE_STAFF
    template_name = "merchants/invitation_form.html"
    form_class = InvitationForm

    def form_valid(self, form):
        answer = form.cleaned_data.get("on_pending")
        try:
            if answer == "resend":
                pending = selectors.pending_invitations(merchant=self.merchant).filter(email=form.cleaned_data["email"])
                if not pending:
                    raise MerchantError(_("This invitation is no longer pending."), field="email")
                issued = services.invitation_resend(merchant=self.merchant, invitation=pending[0])
            else:
                issued = services.invitation_create(
                    merchant=self.merchant,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    actor=self.request.user,
                    replace=answer == "replace",
                )
        except InvitationPending as exc:
            # Ask; never replace an open invitation silently.
            context = self.get_context_data(form=form, pending=exc.invitation, question=exc.message)
            context["new_role"] = dict(Role.choices)[form.cleaned_data["role"]]
            return self.render_to_response(context, status=409)
        except MerchantError as exc:
            apply_service_error(form, exc)
            return self.form_invalid(form)
        _issue_invitation(self.request, issued)
        return redirect("staff_list")


def _issue_invitation(request, issued) -> None:
    sent = services.invitation_send_email(issued=issued)
    _stash_once(
        request,
        _ISSUED_INVITATION,
        {"email": issued.invitation.email, "link": settings.PUBLIC_BASE_URL + issued.path, "sent": sent},
    )


class InvitationResendView(MerchantStaffRequiredMixin, MerchantObjectMixin, View):
    """A fresh link for an open invitation, e-mailed again (the old link stops working)."""

    allowed_roles = CAN_MANAGE_STAFF
    model = Invitation

    def post(self, request, pk: int):
        invitation = self.get_object_for_merchant()
        try:
            issued = services.invitation_resend(merchant=self.merchant, invitation=invitation)
        except MerchantError as exc:
            messages.error(request, exc.message)
        else:
            _issue_invitation(request, issued)
        return redirect("staff_list")


class StaffRoleView(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_MANAGE_STAFF
    model = User  # the URL names the person; their membership here is looked up

    def post(self, request, pk: int):
        try:
            member = selectors.staff_member(merchant=self.merchant, pk=pk)
        except Membership.DoesNotExist:
            raise Http404
        form = StaffRoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose a role."))
            return redirect("staff_list")
        try:
            member = services.staff_change_role(
                merchant=self.merchant, user=member.user, role=form.cleaned_data["role"]
            )
        except MerchantError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("%(email)s is now: %(role)s.") % {"email": member.email, "role": member.get_role_display()},
            )
        return redirect("staff_list")


class InvitationRevokeView(MerchantStaffRequiredMixin, MerchantObjectMixin, View):
    allowed_roles = CAN_MANAGE_STAFF
    model = Invitation

    def post(self, request, pk: int):
        invitation = self.get_object_for_merchant()
        try:
            services.invitation_revoke(merchant=self.merchant, invitation=invitation)
        except MerchantError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Invitation for %(email)s revoked.") % {"email": invitation.email})
        return redirect("staff_list")


class StaffSetActiveView(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_MANAGE_STAFF
    model = User  # the URL names the person; their membership here is looked up
    is_active = False

    def post(self, request, pk: int):
        try:
            member = selectors.staff_member(merchant=self.merchant, pk=pk)
        except Membership.DoesNotExist:
            raise Http404
        try:
            if self.is_active:
                services.staff_reactivate(merchant=self.merchant, user=member.user)
            else:
                services.staff_deactivate(merchant=self.merchant, user=member.user, actor=request.user)
        except MerchantError as exc:
            messages.error(request, exc.message)
        else:
            # Only this merchant's access changes: the person may work for other merchants too.
            if self.is_active:
                done = _("%(email)s has access to %(merchant)s again.")
            else:
                done = _("%(email)s no longer has access to %(merchant)s.")
            messages.success(request, done % {"email": member.email, "merchant": self.merchant.name})
        return redirect("staff_list")


# POS API keys -----------------------------------------------------------------

_ISSUED_API_KEY = "merchants.issued_api_key"


class ApiKeyListView(MerchantStaffRequiredMixin, TemplateView):
    allowed_roles = CAN_MANAGE_API_KEYS
    template_name = "merchants/api_key_list.html"

    def get(self, request, *args, **kwargs):
        context = self.get_context_data(**kwargs)
        context["api_keys"] = selectors.api_key_list(merchant=self.merchant)
        context["issued"] = _pop_once(request, _ISSUED_API_KEY)
        response = self.render_to_response(context)
        # The page may carry a secret shown once: never keep it in any cache.
        add_never_cache_headers(response)
        return response


class ApiKeyCreateView(MerchantStaffRequiredMixin, FormView):
    allowed_roles = CAN_MANAGE_API_KEYS
    template_name = "merchants/api_key_form.html"
    form_class = ApiKeyForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["merchant"] = self.merchant
        return kwargs

    def form_valid(self, form):
        try:
            issued = services.api_key_create(
                merchant=self.merchant,
                location=form.cleaned_data["location"],
                name=form.cleaned_data["name"],
                actor=self.request.user,
            )
        except MerchantError as exc:
            apply_service_error(form, exc)
            return self.form_invalid(form)
        _stash_once(self.request, _ISSUED_API_KEY, {"id": issued.api_key.pk, "secret": issued.secret})
        return HttpResponseRedirect(reverse("api_key_list"))


class ApiKeyRevokeView(MerchantStaffRequiredMixin, MerchantObjectMixin, TemplateView):
    allowed_roles = CAN_MANAGE_API_KEYS
    model = ApiKey
    template_name = "merchants/api_key_revoke.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["api_key"] = self.get_object_for_merchant()
        return context

    def post(self, request, pk: int):
        api_key = self.get_object_for_merchant()
        if api_key.revoked_at is not None:
            messages.info(request, _("API key “%(name)s” was already revoked.") % {"name": api_key.name})
        else:
            services.api_key_revoke(api_key=api_key, actor=request.user)
            messages.success(
                request, _("API key “%(name)s” revoked. Tills using it can no longer connect.") % {"name": api_key.name}
            )
        return redirect("api_key_list")


# Audit log ----------------------------------------------------------------------


class AuditLogView(MerchantStaffRequiredMixin, ListView):
    """The owner's view of the audit log: what staff and platform support did in this business."""

    allowed_roles = CAN_SEE_AUDIT_LOG
    template_name = "merchants/audit_log.html"
    context_object_name = "events"
    paginate_by = 50

    def get_queryset(self):
        return selectors.audit_events(merchant=self.merchant, action=self.request.GET.get("action", ""))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["actions"] = selectors.audit_actions(merchant=self.merchant)
        context["action"] = self.request.GET.get("action", "")
        return context


# Two-factor authentication ----------------------------------------------------------


@method_decorator(never_cache, name="dispatch")
class TwoFactorView(LoginRequiredMixin, View):
    """Turn on two-factor authentication: scan the QR code, confirm one code, see the
    recovery codes once. Any logged-in person: optional for merchant staff (offered on the
    settings hub), required for platform staff (admin sends them here)."""

    template_name = "merchants/two_factor.html"

    def render(self, request, **context):
        user = request.user
        enabled = two_factor.is_enabled(user)
        context.setdefault("form", TwoFactorConfirmForm())
        context.update(
            enabled=enabled,
            base_template="dashboard_base.html" if request.merchant is not None else "base.html",
            required=user.is_staff,
            next=self.next_url(request),
            recovery_left=two_factor.recovery_codes_left(user) if enabled else 0,
        )
        if not enabled and "codes" not in context:
            device = two_factor.pending_device(user)
            context.update(qr=two_factor.qr_svg(device), secret=two_factor.secret_base32(device))
        return TemplateResponse(request, self.template_name, context)

    def next_url(self, request) -> str:
        from django.utils.http import url_has_allowed_host_and_scheme

        target = request.POST.get("next") or request.GET.get("next") or ""
        if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
            return target
        return reverse("admin:index") if request.merchant is None and request.user.is_staff else ""

    def get(self, request):
        return self.render(request)

    def post(self, request):
        from django_otp import login as otp_login

        user = request.user
        form = TwoFactorConfirmForm(request.POST)
        action = request.POST.get("action", "enable")
        if not form.is_valid():
            return self.render(request, form=form)
        token = form.cleaned_data["token"]
        if action == "enable" and not two_factor.is_enabled(user):
            device = two_factor.pending_device(user)
            codes = two_factor.confirm(user, device, token)
            if codes is None:
                form.add_error("token", _("The code is wrong or has expired. Try the next one."))
                return self.render(request, form=form)
            device.refresh_from_db()
            otp_login(request, device)
            return self.render(request, codes=codes, just_enabled=True)
        # Replacing the recovery codes or turning 2FA off asks for a current code first.
        device = two_factor.verify(user, token)
        if device is None:
            form.add_error("token", _("The code is wrong or has expired. Try the next one."))
            return self.render(request, form=form)
        if action == "recovery":
            return self.render(request, codes=two_factor.regenerate_recovery_codes(user))
        if action == "disable" and not user.is_staff:
            two_factor.disable(user)
            messages.success(request, _("Two-factor authentication is off."))
            return redirect("two_factor")
        return redirect("two_factor")
