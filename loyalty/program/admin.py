"""Support console: programs, their versions and tiers (saved through the program service)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty.admin_base import CurrencyInputsForm, MoneyFieldsMixin, ReadOnlyAdmin, money_column
from loyalty.exceptions import InvalidProgram
from loyalty.models import (
    Program,
    ProgramVersion,
    Tier,
)
from loyalty.program.rules import RULE_FIELDS
from loyalty.program.services import save_program


class TierAdminForm(CurrencyInputsForm):
    money_inputs = ("threshold",)

    class Meta:
        model = Tier
        fields = ("name", "threshold", "earn_rate", "discount_percent")


class ProgramAdminForm(CurrencyInputsForm):
    money_inputs = ("point_value", "stamp_min_bill", "min_bill_to_earn")

    class Meta:
        model = Program
        fields = "__all__"


class TierInline(admin.TabularInline):
    model = Tier
    form = TierAdminForm
    fields = ("name", "threshold", "earn_rate", "discount_percent")
    extra = 0


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    """Saving goes through ``save_program``: one new version per save."""

    form = ProgramAdminForm
    list_display = ("merchant", "mechanic", "current_version", "updated_at")
    list_filter = ("mechanic",)
    search_fields = ("merchant__name", "merchant__slug")
    list_select_related = ("merchant", "current_version")
    readonly_fields = ("merchant", "current_version", "updated_at")
    inlines = [TierInline]

    def has_add_permission(self, request) -> bool:
        return False  # programs are created with their merchant (program_for)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        # Nothing is written here; save_related sends program and tiers to the
        # service together so that they become one version.
        self._changes = {name: form.cleaned_data[name] for name in form.changed_data if name in RULE_FIELDS}
        if "name" in form.changed_data:
            self._changes["name"] = form.cleaned_data["name"]

    def save_related(self, request, form, formsets, change):
        changes = dict(getattr(self, "_changes", {}))
        for formset in formsets:
            # The formsets are not saved themselves (the service saves the
            # tiers); the change message still expects these.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            if formset.model is not Tier or not formset.has_changed():
                continue
            tiers = []
            for tier_form in formset.forms:
                data = getattr(tier_form, "cleaned_data", None)
                if not data or data.get("DELETE"):
                    continue
                spec = {name: data.get(name) for name in ("name", "threshold", "earn_rate", "discount_percent")}
                if data.get("id") is not None:
                    spec["id"] = data["id"].pk
                tiers.append(spec)
            changes["tiers"] = tiers
        if not changes:
            return
        try:
            version = save_program(merchant=form.instance.merchant, actor=request.user, **changes)
        except InvalidProgram as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
            self.message_user(request, gettext("Nothing was saved: %s") % details, messages.ERROR)
            return
        self.message_user(request, gettext("Saved as version %d.") % version.number, messages.SUCCESS)


@admin.register(ProgramVersion)
class ProgramVersionAdmin(ReadOnlyAdmin):
    list_display = ("program", "number", "created_at", "created_by")
    list_filter = ("merchant",)
    list_select_related = ("program__merchant", "created_by")
    search_fields = ("program__merchant__name",)
    fields = ("merchant", "program", "number", "created_at", "created_by", "rules")


@admin.register(Tier)
class TierAdmin(MoneyFieldsMixin, ReadOnlyAdmin):
    """Tiers are edited on their program (so that the edit becomes a version)."""

    money_fields = {"threshold": "threshold_money"}
    list_display = ("name", "program", "threshold_money", "earn_rate", "discount_percent")
    list_filter = ("merchant",)
    list_select_related = ("program__merchant",)
    threshold_money = money_column("threshold", lambda tier: tier.program.merchant, label=_("spend threshold"))
