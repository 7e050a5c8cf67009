"""Django admin as the platform's support console. Merchant staff never get in
(they are not ``is_staff``; a database constraint and the user form keep it so).
Secrets never appear: not the API key, not the invitation token, only prefixes."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .choices import country_choices, country_codes, currency_choices, currency_codes
from .forms import CodeChoiceField, TimeZoneField
from .models import ApiKey, AuditEvent, Invitation, Location, Membership, Merchant, Role, User


class MerchantAdminForm(forms.ModelForm):
    country = CodeChoiceField(label=_("Country"), codes=country_codes, choices=country_choices)
    currency = CodeChoiceField(label=_("Currency"), codes=currency_codes, choices=currency_choices)
    time_zone = TimeZoneField(label=_("Time zone"))

    class Meta:
        model = Merchant
        fields = [
            "name",
            "slug",
            "country",
            "currency",
            "time_zone",
            "is_active",
            "adjustment_approval_threshold",
            "customer_retention_years",
        ]


class LocationInline(admin.TabularInline):
    model = Location
    fields = ("name", "address", "latitude", "longitude", "time_zone", "is_active")
    extra = 0
    show_change_link = True


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    form = MerchantAdminForm
    list_display = ("name", "slug", "country", "currency", "time_zone", "is_active", "created_at")
    list_filter = ("is_active", "country", "currency")
    search_fields = ("name", "slug")
    readonly_fields = ("created_at",)
    inlines = [LocationInline]
    date_hierarchy = "created_at"


class PlatformStaffRuleMixin:
    """A user is either merchant staff (team memberships) or platform staff, not both."""

    def _team_merchant(self, cleaned):
        """A merchant this user is (or is being made) staff of, if any."""
        if cleaned.get("merchant") is not None:
            return cleaned["merchant"]
        if self.instance.pk:
            membership = self.instance.memberships.select_related("merchant").first()
            return membership.merchant if membership else None
        return None

    def clean(self):
        cleaned = super().clean()
        merchant = self._team_merchant(cleaned)
        role = cleaned.get("role")
        if merchant is not None:
            if cleaned.get("is_staff"):
                self.add_error(
                    "is_staff",
                    _("Staff of a merchant cannot be platform staff. Clear the merchant first, or untick this."),
                )
            if cleaned.get("is_superuser"):
                self.add_error("is_superuser", _("Staff of a merchant cannot be superusers."))
            if "role" in self.fields and cleaned.get("merchant") is not None and not role:
                self.add_error("role", _("Staff of a merchant need a role."))
        elif role:
            self.add_error("merchant", _("Choose the merchant this role is for, or clear the role."))
        return cleaned

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        others = User.objects.filter(email__iexact=email)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise ValidationError(_("A user with this e-mail already exists."), code="unique")
        return email


class UserAdminChangeForm(PlatformStaffRuleMixin, UserChangeForm):
    class Meta:
        model = User
        fields = [
            *("email", "password", "full_name"),
            *("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
        ]


class UserAdminCreationForm(PlatformStaffRuleMixin, AdminUserCreationForm):
    # The first team membership, made with the user (more in the change page's table).
    merchant = forms.ModelChoiceField(label=_("Merchant"), queryset=Merchant.objects.all(), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=[("", "---------"), *Role.choices], required=False)

    class Meta:
        model = User
        fields = ("email", "full_name", "is_staff")


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("merchant", "role", "is_active", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("merchant",)
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("full_name",)}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    *("email", "full_name", "merchant", "role", "is_staff"),
                    *("usable_password", "password1", "password2"),
                ),
            },
        ),
    )
    list_display = ("email", "full_name", "teams", "is_active", "is_staff", "last_login")
    list_filter = ("memberships__role", "is_staff", "is_superuser", "is_active")
    search_fields = ("email", "full_name", "memberships__merchant__name", "memberships__merchant__slug")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__merchant")

    @admin.display(description=_("merchants"))
    def teams(self, obj: User) -> str:
        return ", ".join(f"{m.merchant.name} ({m.get_role_display()})" for m in obj.memberships.all())

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        merchant = form.cleaned_data.get("merchant") if not change else None
        if merchant is not None:
            Membership.objects.get_or_create(
                user=form.instance, merchant=merchant, defaults={"role": form.cleaned_data["role"]}
            )


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "merchant", "address", "time_zone", "is_active", "created_at")
    list_filter = ("is_active", "merchant__country")
    search_fields = ("name", "address", "merchant__name", "merchant__slug")
    list_select_related = ("merchant",)
    autocomplete_fields = ("merchant",)
    readonly_fields = ("created_at",)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    # The token exists only in the e-mail; its hash is of no use to support.
    fields = ("merchant", "email", "role", "invited_by", "created_at", "expires_at", "accepted_at", "revoked_at")
    readonly_fields = fields
    list_display = ("email", "merchant", "role", "status", "created_at", "expires_at")
    list_filter = ("role",)
    search_fields = ("email", "merchant__name", "merchant__slug")
    list_select_related = ("merchant",)
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        # Invitations are made in the merchant dashboard, where the link is shown once.
        return False

    @admin.display(description=_("status"))
    def status(self, obj: Invitation) -> str:
        if obj.accepted_at:
            return _("accepted")
        if obj.revoked_at:
            return _("revoked")
        if obj.expires_at <= timezone.now():
            return _("expired")
        return _("pending")

    @admin.action(description=_("Revoke the selected invitations"), permissions=["change"])
    def revoke(self, request, queryset) -> None:
        count = 0
        for invitation in queryset.filter(accepted_at__isnull=True, revoked_at__isnull=True).select_related("merchant"):
            services.invitation_revoke(merchant=invitation.merchant, invitation=invitation)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d invitation revoked.", "%(count)d invitations revoked.", count) % {"count": count},
        )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    # Never the key or its hash: the prefix is enough to identify a key.
    fields = ("name", "merchant", "location", "prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("merchant", "location", "prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    list_display = ("name", "prefix", "merchant", "location", "created_at", "last_used_at", "revoked")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("prefix", "name", "merchant__name", "merchant__slug", "location__name")
    list_select_related = ("merchant", "location")
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        # Keys are created in the merchant dashboard, the only place the secret is shown.
        return False

    @admin.display(description=_("revoked"), boolean=True)
    def revoked(self, obj: ApiKey) -> bool:
        return obj.revoked_at is not None

    @admin.action(description=_("Revoke the selected API keys"), permissions=["change"])
    def revoke(self, request, queryset) -> None:
        now = timezone.now()
        count = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(api_key=api_key, now=now, actor=request.user)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d API key revoked.", "%(count)d API keys revoked.", count) % {"count": count},
        )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log: read-only for everyone (the database refuses changes anyway)."""

    list_display = ("created_at", "action", "merchant", "actor_label", "ip_address", "source", "target_label", "reason")
    list_filter = ("action", "source", "merchant", "target_type")
    search_fields = ("=actor_label", "target_label", "=target_id", "=ip_address", "reason", "merchant__name")
    list_select_related = ("merchant",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        *("created_at", "merchant", "actor", "actor_label", "ip_address", "source", "action"),
        *("target_type", "target_id", "target_label", "reason", "changes"),
    )
    readonly_fields = fields

    @admin.display(description=_("values before and after"))
    def changes(self, obj: AuditEvent):
        before, after = obj.before or {}, obj.after or {}
        keys = sorted(before.keys() | after.keys())
        if not keys:
            return "—"
        head = format_html("<tr><th></th><th>{}</th><th>{}</th></tr>", _("before"), _("after"))
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            ((key, before.get(key, "—"), after.get(key, "—")) for key in keys),
        )
        return format_html("<table>{}{}</table>", head, rows)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
