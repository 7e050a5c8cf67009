"""Support console: campaigns, segments and their deliveries.

Campaigns and segments can be looked at and corrected (every change is audited by
``merchants.admin_audit``); a recurring campaign's schedule is its beat entry, editable under
Periodic tasks. Deliveries are the record of what was sent: read-only. Times are shown in the
merchant's time zone beside the stored UTC."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from loyalty.admin_base import CappedCountPaginator, ReadOnlyAdmin
from merchants.templatetags.merchant_format import local_time

from .models import Campaign, CampaignSettings, Delivery, Segment


def _local(field: str, label):
    @admin.display(description=label, ordering=field)
    def column(model_admin, obj) -> str:
        return local_time(getattr(obj, field), obj.merchant)

    return column


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "merchant", "kind", "trigger", "status", "created_local")
    list_filter = ("kind", "status", "trigger", "merchant")
    list_select_related = ("merchant", "segment")
    search_fields = ("name", "merchant__name")
    autocomplete_fields = ("segment",)
    readonly_fields = ("merchant", "periodic_task", "created_by", "created_at", "updated_at", "status")
    created_local = _local("created_at", _("created (merchant's time)"))

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("merchant")


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "merchant", "updated_local")
    list_filter = ("merchant",)
    list_select_related = ("merchant",)
    search_fields = ("name", "merchant__name")
    readonly_fields = ("merchant", "created_by", "created_at", "updated_at")
    updated_local = _local("updated_at", _("changed (merchant's time)"))


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_local",
        "campaign",
        "customer",
        "channel",
        "status",
        "reason",
        "sent_local",
        "opened_local",
    )
    list_filter = ("channel", "status", "merchant")
    list_select_related = ("merchant", "campaign", "customer")
    search_fields = ("=customer__phone", "campaign__name", "=provider_id")
    paginator = CappedCountPaginator
    show_full_result_count = False
    created_local = _local("created_at", _("created (merchant's time)"))
    sent_local = _local("sent_at", _("sent (merchant's time)"))
    opened_local = _local("opened_at", _("opened (merchant's time)"))


@admin.register(CampaignSettings)
class CampaignSettingsAdmin(admin.ModelAdmin):
    list_display = ("merchant", "cap_messages", "cap_days", "quiet_start", "quiet_end")
    list_select_related = ("merchant",)
    search_fields = ("merchant__name",)
    readonly_fields = ("merchant",)

    def has_add_permission(self, request) -> bool:
        # Created with the merchant's first campaign page; one per merchant.
        return False
