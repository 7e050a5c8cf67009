"""Support console: wallet passes.

Support sees, per card, which wallets it is in, the registered devices, the
pushes and their results, and when a device last fetched the pass. Secrets
(certificates, keys) are never shown; tokens are not editable.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty.admin_base import CappedCountPaginator, ReadOnlyAdmin
from loyalty.models import (
    AppleDevice,
    AppleRegistration,
    Delivery,
    DeviceLog,
    WalletCredentials,
    WalletPass,
)
from loyalty.wallet import contract as wallet


class AppleRegistrationInline(admin.TabularInline):
    model = AppleRegistration
    extra = 0
    can_delete = True
    fields = ("device", "created_at", "updated_at")
    readonly_fields = fields
    verbose_name = _("registered device")
    verbose_name_plural = _("registered devices")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    fields = ("created_at", "channel", "status", "notified", "device", "detail")
    readonly_fields = fields
    ordering = ("-created_at", "-pk")
    max_num = 0
    verbose_name_plural = _("recent wallet updates")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        # Only the latest ones: a card may collect thousands over the years.
        recent = list(queryset.order_by("-created_at", "-pk").values_list("pk", flat=True)[:20])
        return queryset.filter(pk__in=recent)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WalletPass)
class WalletPassAdmin(admin.ModelAdmin):
    list_display = (
        "card_link",
        "merchant",
        "apple_devices",
        "in_google",
        "last_fetched_at",
        "last_push",
        "needs_sync_since",
        "updated_at",
    )
    list_filter = ("merchant",)
    search_fields = ("=card__number", "=card__customer__phone", "=serial_number", "=google_object_id")
    list_select_related = ("card", "merchant")
    readonly_fields = (
        "merchant",
        "card",
        "serial_number",
        "pass_type_identifier",
        "design",
        "updated_at",
        "update_tag",
        "needs_sync_since",
        "last_synced_at",
        "last_fetched_at",
        "google_object_id",
        "google_class_id",
        "google_inserted_at",
        "google_saved_at",
        "message_header",
        "message_body",
        "message_notify",
        "message_at",
        "created_at",
    )
    # The authentication and web tokens are secrets of the customer's pass.
    exclude = ("authentication_token", "web_token", "message_key", "google_message_key")
    inlines = [AppleRegistrationInline, DeliveryInline]
    actions = ["resend_update"]
    paginator = CappedCountPaginator
    show_full_result_count = False

    def get_queryset(self, request):

        return super().get_queryset(request).annotate(device_count=Count("registrations"))

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description=_("card"))
    def card_link(self, obj):
        url = reverse("admin:loyalty_card_change", args=[obj.card_id])
        return format_html('<a href="{}">{}</a>', url, obj.card.number)

    @admin.display(description=_("Apple devices"), ordering="device_count")
    def apple_devices(self, obj) -> int:
        return obj.device_count

    @admin.display(description=_("in Google Wallet"), boolean=True)
    def in_google(self, obj) -> bool:
        return obj.google_inserted_at is not None

    @admin.display(description=_("last push"))
    def last_push(self, obj) -> str:
        last = obj.deliveries.filter(channel=Delivery.Channel.APPLE).order_by("-created_at", "-pk").first()
        if last is None:
            return "—"
        return f"{last.created_at:%Y-%m-%d %H:%M} · {last.get_status_display()}"

    @admin.action(description=_("Send the card's update to its wallets again"), permissions=["change"])
    def resend_update(self, request, queryset):
        count = 0
        for merchant_id in queryset.values_list("merchant_id", flat=True).distinct():
            card_ids = list(queryset.filter(merchant_id=merchant_id).values_list("card_id", flat=True))
            count += wallet.cards_changed(merchant=merchant_id, card_ids=card_ids)
        self.message_user(request, gettext("%(n)d passes queued for an update.") % {"n": count}, messages.SUCCESS)


@admin.register(AppleDevice)
class AppleDeviceAdmin(ReadOnlyAdmin):
    list_display = ("device_library_identifier", "registration_count", "created_at", "updated_at")
    search_fields = ("=device_library_identifier", "=push_token")
    inlines = [AppleRegistrationInline]

    def get_queryset(self, request):

        return super().get_queryset(request).annotate(registration_count=Count("registrations"))

    @admin.display(description=_("registrations"), ordering="registration_count")
    def registration_count(self, obj) -> int:
        return obj.registration_count

    def has_delete_permission(self, request, obj=None) -> bool:
        # Removing a device stops its pushes; the device re-registers when it next asks.
        return request.user.is_superuser


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "merchant", "pass_card", "channel", "status", "notified", "detail")
    list_filter = ("channel", "status", "notified", "merchant")
    search_fields = ("=wallet_pass__card__number", "=wallet_pass__serial_number")
    list_select_related = ("merchant", "wallet_pass__card")
    paginator = CappedCountPaginator
    show_full_result_count = False

    @admin.display(description=_("card"))
    def pass_card(self, obj) -> str:
        return obj.wallet_pass.card.number


@admin.register(DeviceLog)
class DeviceLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "message")
    search_fields = ("message",)
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(WalletCredentials)
class WalletCredentialsAdmin(ReadOnlyAdmin):
    list_display = (
        "merchant",
        "apple_pass_type_identifier",
        "apple_team_identifier",
        "apple_expires_at",
        "google_issuer_id",
        "google_service_account_email",
    )
    search_fields = ("merchant__name", "apple_pass_type_identifier", "google_issuer_id")
    list_select_related = ("merchant",)
    # The encrypted certificate and key are not shown, not even encrypted.
    fields = (
        "merchant",
        "apple_pass_type_identifier",
        "apple_team_identifier",
        "apple_expires_at",
        "apple_uploaded_at",
        "apple_expiry_warned",
        "google_issuer_id",
        "google_service_account_email",
        "updated_at",
    )
