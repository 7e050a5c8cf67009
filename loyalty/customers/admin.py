"""Support console: customers, their consent records and cards."""

from __future__ import annotations

from django.contrib import admin

from loyalty.admin_base import PhoneSearchMixin
from loyalty.models import (
    Card,
    ConsentRecord,
    Customer,
)


class ConsentInline(admin.TabularInline):
    model = ConsentRecord
    fields = ("created_at", "granted", "channel", "text_version", "actor", "api_key")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class CardInline(admin.TabularInline):
    model = Card
    fields = ("number", "status", "tier", "balance", "stamps", "rewards_available")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(PhoneSearchMixin, admin.ModelAdmin):
    list_display = ("phone", "name", "email", "merchant", "source", "marketing_consent", "created_at")
    list_filter = ("merchant", "source", "marketing_consent")
    search_fields = ("=phone", "name", "email", "=cards__number", "=referral_code")
    list_select_related = ("merchant",)
    readonly_fields = (
        "merchant",
        "phone",
        "source",
        "joined_location",
        "referral_code",
        "referred_by",
        "referral_completed_at",
        "marketing_consent",
        "created_at",
    )
    fields = ("merchant", "phone", "name", "email", "birthday") + readonly_fields[2:]
    inlines = [CardInline, ConsentInline]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False  # customers enrol through the service (welcome bonus, card, consent)

    def save_model(self, request, obj, form, change):
        # Write only what support changed (never the cached consent flag).
        obj.email = (obj.email or "").strip().lower()
        obj.name = (obj.name or "").strip()
        obj.save(update_fields=[name for name in form.changed_data if name in ("name", "email", "birthday")])

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
