"""Support console: cards and the ledger.

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
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty import ledger
from loyalty.admin_base import CappedCountPaginator, MoneyFieldsMixin, PhoneSearchMixin, ReadOnlyAdmin, money_column
from loyalty.exceptions import LoyaltyError
from loyalty.ledger import approvals
from loyalty.models import (
    Card,
    CardEvent,
    LedgerEntry,
    Lot,
    PendingAdjustment,
    Purchase,
    Refund,
    TierChange,
)
from merchants.platform_roles import is_support_lead


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
    # In the merchant's currency, with its decimals (the column keeps three).
    lifetime_spend_money = money_column("lifetime_spend", lambda card: card.merchant, label=_("lifetime spend"))

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return ["lifetime_spend_money" if name == "lifetime_spend" else name for name in fields]

    def get_readonly_fields(self, request, obj=None):
        return [*(f.name for f in self.model._meta.fields), "lifetime_spend_money"]

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
            if form.is_valid() and approvals.needs_approval(merchant=card.merchant, points=form.cleaned_data["points"]):
                try:
                    pending = approvals.request_adjustment(
                        merchant=card.merchant,
                        card=card,
                        points=form.cleaned_data["points"],
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                    )
                except LoyaltyError as exc:
                    form.add_error(None, exc.message)
                else:
                    self.message_user(
                        request,
                        gettext(
                            "%(points)+d points is above this business's limit of %(limit)d: "
                            "the adjustment waits for a support lead's approval."
                        )
                        % {"points": pending.points, "limit": card.merchant.adjustment_approval_threshold},
                        messages.WARNING,
                    )
                    return HttpResponseRedirect(reverse("admin:loyalty_pendingadjustment_change", args=[pending.pk]))
            elif form.is_valid():
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
class TierChangeAdmin(MoneyFieldsMixin, ReadOnlyAdmin):
    money_fields = {"spend": "spend_money"}
    list_display = ("created_at", "card", "from_tier_name", "to_tier_name", "reason", "spend_money")
    list_filter = ("merchant", "reason")
    list_select_related = ("card", "merchant")
    spend_money = money_column("spend", lambda change: change.merchant, label=_("spend in window"))
    search_fields = ("=card__number",)


# --- purchases and the ledger ----------------------------------------------------------------------


@admin.register(Purchase)
class PurchaseAdmin(MoneyFieldsMixin, PhoneSearchMixin, ReadOnlyAdmin):
    phone_lookup = "card__customer__phone"
    list_display = (
        "created_at",
        "receipt_id",
        "card",
        "merchant",
        "bill_amount_money",
        "points_redeemed",
        "amount_paid_money",
        "points_earned",
        "refunded_amount_money",
    )
    # In the purchase's currency, with its decimals (the columns keep three).
    bill_amount_money = money_column("bill_amount", lambda p: p.currency, label=_("bill"))
    amount_paid_money = money_column("amount_paid", lambda p: p.currency, label=_("paid in money"))
    refunded_amount_money = money_column("refunded_amount", lambda p: p.currency, label=_("refunded"))
    discount_amount_money = money_column("discount_amount", lambda p: p.currency, label=_("discount"))
    points_amount_money = money_column("points_amount", lambda p: p.currency, label=_("paid with points"))
    money_fields = {
        name: f"{name}_money"
        for name in ("bill_amount", "discount_amount", "points_amount", "amount_paid", "refunded_amount")
    }
    list_filter = ("merchant",)
    search_fields = ("=receipt_id", "=card__number", "=card__customer__phone", "=idempotency_key")
    list_select_related = ("card", "merchant")
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(Refund)
class RefundAdmin(MoneyFieldsMixin, ReadOnlyAdmin):
    list_display = ("created_at", "purchase", "amount_money", "points_reversed", "points_restored")
    amount_money = money_column("amount", lambda refund: refund.purchase.currency, label=_("amount"))
    money_fields = {"amount": "amount_money"}
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


class DecisionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=1000, required=False
    )


@admin.register(PendingAdjustment)
class PendingAdjustmentAdmin(admin.ModelAdmin):
    """Large adjustments waiting for a second person: a support lead who did not ask
    for it approves (the ledger applies it) or rejects it, with a reason."""

    list_display = ("requested_at", "card", "points", "reason", "requested_by", "status", "decided_by")
    list_filter = ("status", "merchant")
    list_select_related = ("card", "requested_by", "decided_by")
    search_fields = ("=card__number", "=card__customer__phone")
    change_form_template = "admin/loyalty/pendingadjustment/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # decided through approve/reject, never edited

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:id>/decide/", view(self.decide_view), name="loyalty_pendingadjustment_decide"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "decision_form": DecisionForm(),
            "can_decide": obj is not None
            and obj.status == PendingAdjustment.Status.PENDING
            and is_support_lead(request.user)
            and obj.requested_by_id != request.user.pk,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, id):
        pending = get_object_or_404(PendingAdjustment.objects.select_related("merchant"), pk=id)
        if request.method != "POST" or not is_support_lead(request.user):
            raise PermissionDenied
        form = DecisionForm(request.POST)
        form.is_valid()
        reason = form.cleaned_data.get("reason", "")
        try:
            if "approve" in request.POST:
                approvals.approve(merchant=pending.merchant, pending=pending, actor=request.user, reason=reason)
                self.message_user(request, gettext("Approved; the balance is adjusted."), messages.SUCCESS)
            else:
                approvals.reject(merchant=pending.merchant, pending=pending, actor=request.user, reason=reason)
                self.message_user(request, gettext("Rejected."), messages.SUCCESS)
        except LoyaltyError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        return HttpResponseRedirect(reverse("admin:loyalty_pendingadjustment_change", args=[pending.pk]))
