"""Support console for the loyalty app.

Balances are never edited in a form: "Adjust balance" and "Block card" are
separate views (like Django's password change) with a required reason, calling
the same ledger service as the API, and logged with ``log_change``. The ledger
and everything derived from it are read-only.
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty.exceptions import InvalidProgram, LoyaltyError
from loyalty.models import (
    Card,
    CardEvent,
    ConsentRecord,
    Customer,
    LedgerEntry,
    Lot,
    Program,
    ProgramVersion,
    Purchase,
    Refund,
    Tier,
    TierChange,
)
from loyalty.phones import normalize_phone
from loyalty.services import ledger
from loyalty.services.programs import save_program
from loyalty.services.rules import RULE_FIELDS


class CappedCountPaginator(Paginator):
    """Counting a huge table is slow: count at most CAP rows (the page links
    then say "10 000+" in effect), the way healthchecks pages its ping log."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return len(self.object_list.values("pk")[: self.CAP + 1])


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PhoneSearchMixin:
    """Search also by a phone number typed in any common spelling."""

    phone_lookup = "phone"

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            e164 = normalize_phone(term, region="RU")
            if e164:
                results |= queryset.filter(**{self.phone_lookup: e164})
        return results, may_have_duplicates


# --- program ---------------------------------------------------------------------------------------------


class TierInline(admin.TabularInline):
    model = Tier
    fields = ("name", "threshold", "earn_rate", "discount_percent")
    extra = 0


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    """Saving goes through ``save_program``: one new version per save."""

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
class TierAdmin(ReadOnlyAdmin):
    """Tiers are edited on their program (so that the edit becomes a version)."""

    list_display = ("name", "program", "threshold", "earn_rate", "discount_percent")
    list_filter = ("merchant",)
    list_select_related = ("program__merchant",)


# --- customers and cards ------------------------------------------------------------------------


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


class AdjustBalanceForm(forms.Form):
    points = forms.IntegerField(
        label=_("Points"), help_text=_("Positive to add, negative to take away."), min_value=-(10**9), max_value=10**9
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Enter a non-zero number of points."))
        return points


class BlockCardForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


@admin.register(Card)
class CardAdmin(PhoneSearchMixin, admin.ModelAdmin):
    phone_lookup = "customer__phone"
    list_display = (
        "number",
        "customer",
        "merchant",
        "status",
        "tier",
        "balance",
        "pending_points",
        "debt",
        "stamps",
        "rewards_available",
    )
    list_filter = ("merchant", "status")
    search_fields = ("=number", "=barcode", "=customer__phone", "customer__name", "customer__email")
    list_select_related = ("merchant", "customer", "tier")
    show_full_result_count = False
    change_form_template = "admin/loyalty/card/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        return [
            path(
                "<int:id>/adjust/",
                self.admin_site.admin_view(self.adjust_balance_view),
                name="loyalty_card_adjust",
            ),
            path(
                "<int:id>/block/",
                self.admin_site.admin_view(self.block_card_view),
                name="loyalty_card_block",
            ),
        ] + super().get_urls()

    def _card_for(self, request, id) -> Card:
        card = get_object_or_404(Card.objects.select_related("merchant", "customer"), pk=id)
        if not self.has_change_permission(request, card):
            raise PermissionDenied
        return card

    def save_model(self, request, obj, form, change):
        # Every field is read-only: saving the form must never write stale
        # cached counters back over the ledger service's.
        return None

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _render(self, request, card, form, template, title):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "card": card,
            "opts": self.model._meta,
            "original": card,
            "has_view_permission": True,
        }
        return TemplateResponse(request, template, context)

    def adjust_balance_view(self, request, id):
        card = self._card_for(request, id)
        if request.method == "POST":
            form = AdjustBalanceForm(request.POST)
            if form.is_valid():
                try:
                    entry = ledger.adjust(
                        merchant=card.merchant,
                        card=card,
                        points=form.cleaned_data["points"],
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                        idempotency_key=f"admin:{form.cleaned_data['idempotency_key']}",
                    )
                except LoyaltyError as exc:
                    form.add_error("points" if exc.field in (None, "points", "redeem_points") else None, exc.message)
                else:
                    message = gettext("Adjusted balance by %(points)+d: %(reason)s") % {
                        "points": entry.points,
                        "reason": entry.reason,
                    }
                    if not entry.replayed:  # a double submit is not a second change
                        self.log_change(request, card, message)
                    self.message_user(request, message, messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:loyalty_card_change", args=[card.pk]))
        else:
            form = AdjustBalanceForm(initial={"idempotency_key": uuid.uuid4().hex})
        return self._render(
            request, card, form, "admin/loyalty/card/adjust_balance.html", gettext("Adjust balance of %s") % card
        )

    def block_card_view(self, request, id):
        card = self._card_for(request, id)
        blocking = not card.is_blocked
        if request.method == "POST":
            form = BlockCardForm(request.POST)
            if form.is_valid():
                try:
                    ledger.set_card_blocked(
                        merchant=card.merchant,
                        card=card,
                        blocked=blocking,
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                    )
                except LoyaltyError as exc:
                    form.add_error("reason", exc.message)
                else:
                    message = (gettext("Blocked: %s") if blocking else gettext("Unblocked: %s")) % form.cleaned_data[
                        "reason"
                    ]
                    self.log_change(request, card, message)
                    self.message_user(request, message, messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:loyalty_card_change", args=[card.pk]))
        else:
            form = BlockCardForm()
        title = (gettext("Block card %s") if blocking else gettext("Unblock card %s")) % card
        response = self._render(request, card, form, "admin/loyalty/card/block_card.html", title)
        response.context_data["blocking"] = blocking
        return response


@admin.register(CardEvent)
class CardEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "card", "kind", "reason", "actor")
    list_filter = ("merchant", "kind")
    list_select_related = ("card", "actor")
    search_fields = ("=card__number",)


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "card", "from_tier_name", "to_tier_name", "reason", "spend")
    list_filter = ("merchant", "reason")
    list_select_related = ("card",)
    search_fields = ("=card__number",)


# --- purchases and the ledger ----------------------------------------------------------------------


@admin.register(Purchase)
class PurchaseAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    phone_lookup = "card__customer__phone"
    list_display = (
        "created_at",
        "receipt_id",
        "card",
        "merchant",
        "bill_amount",
        "points_redeemed",
        "amount_paid",
        "points_earned",
        "refunded_amount",
    )
    list_filter = ("merchant",)
    search_fields = ("=receipt_id", "=card__number", "=card__customer__phone", "=idempotency_key")
    list_select_related = ("card", "merchant")
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "purchase", "amount", "points_reversed", "points_restored")
    list_filter = ("merchant",)
    search_fields = ("=purchase__receipt_id", "=card__number", "=idempotency_key")
    list_select_related = ("purchase",)
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(Lot)
class LotAdmin(ReadOnlyAdmin):
    list_display = ("pk", "card", "kind", "points", "remaining", "created_at", "activated_at", "expires_at")
    list_filter = ("merchant", "kind")
    search_fields = ("=card__number",)
    list_select_related = ("card",)
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    phone_lookup = "card__customer__phone"
    list_display = (
        "created_at",
        "kind",
        "points",
        "stamps",
        "rewards",
        "card_link",
        "purchase",
        "who",
        "program_version",
        "reason",
    )
    list_filter = ("merchant", "kind")
    search_fields = ("=card__number", "=card__customer__phone", "=idempotency_key", "=purchase__receipt_id")
    list_select_related = ("card", "purchase", "actor", "api_key", "program_version", "merchant")
    paginator = CappedCountPaginator
    show_full_result_count = False
    date_hierarchy = None

    @admin.display(description=_("card"))
    def card_link(self, obj):
        url = reverse("admin:loyalty_card_change", args=[obj.card_id])
        return format_html('<a href="{}">{}</a>', url, obj.card.number)

    @admin.display(description=_("by"))
    def who(self, obj):
        if obj.actor_id:
            return obj.actor.email
        if obj.api_key_id:
            return str(obj.api_key)
        return "—"


# --- wallets (Apple / Google passes) -------------------------------------------------------------
# Support sees, per card, which wallets it is in, the registered devices, the
# pushes and their results, and when a device last fetched the pass. Secrets
# (certificates, keys) are never shown; tokens are not editable.

from loyalty.models import (  # noqa: E402  (kept with the section it serves)
    AppleDevice,
    AppleRegistration,
    CardDesign,
    Delivery,
    DeviceLog,
    WalletCredentials,
    WalletPass,
)
from loyalty.services import passes as wallet_passes  # noqa: E402


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
        from django.db.models import Count

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
            count += wallet_passes.mark_cards_changed(merchant=merchant_id, card_ids=card_ids)
        self.message_user(request, gettext("%(n)d passes queued for an update.") % {"n": count}, messages.SUCCESS)


@admin.register(AppleDevice)
class AppleDeviceAdmin(ReadOnlyAdmin):
    list_display = ("device_library_identifier", "registration_count", "created_at", "updated_at")
    search_fields = ("=device_library_identifier", "=push_token")
    inlines = [AppleRegistrationInline]

    def get_queryset(self, request):
        from django.db.models import Count

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


@admin.register(CardDesign)
class CardDesignAdmin(ReadOnlyAdmin):
    list_display = ("merchant", "__str__", "published_at", "program_name", "barcode_format")
    list_filter = ("merchant",)
    list_select_related = ("merchant",)
