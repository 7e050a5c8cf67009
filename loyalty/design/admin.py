"""Support console: published card designs (read-only)."""

from __future__ import annotations

from django.contrib import admin

from loyalty.admin_base import ReadOnlyAdmin
from loyalty.models import (
    CardDesign,
)


@admin.register(CardDesign)
class CardDesignAdmin(ReadOnlyAdmin):
    list_display = ("merchant", "__str__", "published_at", "program_name", "barcode_format")
    list_filter = ("merchant",)
    list_select_related = ("merchant",)
