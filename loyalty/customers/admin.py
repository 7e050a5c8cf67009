"""Support console: customers, their consent records and cards, and the one
customer page (issue 13) where support sees everything about a customer, in the
merchant's time zone, and acts through the product's own services, each action
with a required reason and an audit record."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty import ledger
from loyalty.admin_base import PhoneSearchMixin
from loyalty.customers import privacy, support
from loyalty.enrollment.services import send_card_link, web_card_url
from loyalty.exceptions import LoyaltyError
from loyalty.models import (
    Card,
    ConsentRecord,
    Customer,
    LedgerEntry,
    Lot,
    Purchase,
    Refund,
    WalletPass,
)
from merchants import audit
from merchants.platform_roles import is_support_lead

LEDGER_PAGE_SIZE = 25


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


class CorrectContactForm(forms.Form):
    phone = forms.CharField(
        label=_("Phone"), max_length=40, help_text=_("Typed any way; read in the merchant's country.")
    )
    email = forms.EmailField(label=_("E-mail"), required=False)
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)


class AnonymiseForm(ReasonForm):
    confirm = forms.BooleanField(
        label=_("I understand that the name, phone, e-mail and birthday are erased for good"), required=True
    )


class MergeForm(ReasonForm):
    duplicate = forms.IntegerField(
        label=_("Customer number of the duplicate"),
        min_value=1,
        help_text=_("Its cards' balances, lots and stamps move to this customer; the duplicate is then closed."),
    )


@admin.register(Customer)
class CustomerAdmin(PhoneSearchMixin, admin.ModelAdmin):
    list_display = ("phone", "name", "email", "merchant", "source", "marketing_consent", "created_at", "support_page")
    list_filter = ("merchant", "source", "marketing_consent")
    search_fields = ("=phone", "name", "email", "=cards__number", "=cards__barcode", "=referral_code")
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

    @admin.display(description=_("customer page"))
    def support_page(self, obj: Customer):
        return format_html('<a href="{}">{}</a>', reverse("admin:loyalty_customer_support", args=[obj.pk]), _("open"))

    # --- the one customer page ------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:id>/support/", view(self.customer_page_view), name="loyalty_customer_support"),
            path("<int:id>/contact/", view(self.correct_contact_view), name="loyalty_customer_contact"),
            path("<int:id>/send-link/", view(self.send_link_view), name="loyalty_customer_send_link"),
            path("<int:id>/export.<str:fmt>", view(self.export_view), name="loyalty_customer_export"),
            path("card/<int:id>/reissue/", view(self.reissue_pass_view), name="loyalty_card_reissue"),
            path("<int:id>/anonymise/", view(self.anonymise_view), name="loyalty_customer_anonymise"),
            path("<int:id>/merge/", view(self.merge_view), name="loyalty_customer_merge"),
            path("<int:id>/withdraw-consent/", view(self.withdraw_consent_view), name="loyalty_customer_withdraw"),
        ] + super().get_urls()

    def _customer(self, request, id, *, change: bool) -> Customer:
        customer = get_object_or_404(Customer.objects.select_related("merchant"), pk=id)
        check = self.has_change_permission if change else self.has_view_permission
        if not check(request, customer):
            raise PermissionDenied
        return customer

    def _context(self, request, customer: Customer, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "customer": customer,
            "merchant": customer.merchant,
            "original": customer,
            "can_change": self.has_change_permission(request, customer),
            "is_lead": is_support_lead(request.user),
            **extra,
        }

    def customer_page_view(self, request, id):
        customer = self._customer(request, id, change=False)
        cards = list(customer.cards.select_related("tier").order_by("pk"))
        ledger = Paginator(
            LedgerEntry.objects.filter(card__customer=customer)
            .select_related("card", "actor", "api_key", "purchase")
            .order_by("-created_at", "-pk"),
            LEDGER_PAGE_SIZE,
        ).get_page(request.GET.get("page"))
        context = self._context(
            request,
            customer,
            title=gettext("Customer %(phone)s") % {"phone": customer.phone},
            cards=cards,
            lots=Lot.objects.filter(card__customer=customer, remaining__gt=0).order_by("expires_at", "pk"),
            ledger=ledger,
            purchases=Purchase.objects.filter(card__customer=customer).order_by("-created_at", "-pk")[:20],
            refunds=Refund.objects.filter(card__customer=customer)
            .select_related("purchase")
            .order_by("-created_at")[:20],
            passes=WalletPass.objects.filter(card__customer=customer).prefetch_related("registrations__device"),
            consents=customer.consents.select_related("actor").order_by("-created_at", "-pk"),
            audit_events=support.audit_trail(customer)[:50],
            contact_form=CorrectContactForm(initial={"phone": customer.phone, "email": customer.email}),
            link_form=ReasonForm(),
        )
        return TemplateResponse(request, "admin/loyalty/customer/support.html", context)

    def correct_contact_view(self, request, id):
        customer = self._customer(request, id, change=True)
        form = CorrectContactForm(request.POST or None, initial={"phone": customer.phone, "email": customer.email})
        if request.method == "POST" and form.is_valid():
            try:
                support.correct_contact(
                    merchant=customer.merchant,
                    customer=customer,
                    phone=form.cleaned_data["phone"],
                    email=form.cleaned_data["email"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except LoyaltyError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                self.message_user(request, gettext("Contact details corrected."), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:loyalty_customer_support", args=[customer.pk]))
        context = self._context(request, customer, title=gettext("Correct phone or e-mail"), form=form)
        return TemplateResponse(request, "admin/loyalty/customer/contact.html", context)

    def export_view(self, request, id, fmt: str):
        """The customer's data as a JSON or CSV download; recorded in the audit log."""
        customer = self._customer(request, id, change=True)
        if fmt not in ("json", "csv"):
            raise Http404
        data = support.export_customer(customer)
        audit.record(action="customer.exported", actor=request.user, target=customer, after={"format": fmt})
        if fmt == "json":
            response = HttpResponse(
                json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
            )
        else:
            response = HttpResponse(support.export_customer_csv(data), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="customer-{customer.pk}.{fmt}"'
        add_never_cache_headers(response)
        return response

    def withdraw_consent_view(self, request, id):
        """Staff record the customer's withdrawal of marketing consent (asked by phone, letter...): from now
        on the customer gets no marketing. The reason goes to the audit log."""
        customer = self._customer(request, id, change=True)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:loyalty_customer_support", args=[customer.pk]))
        form = ReasonForm(request.POST)
        if not form.is_valid():
            self.message_user(request, gettext("Say why consent is withdrawn."), messages.ERROR)
        else:
            support.withdraw_consent(
                merchant=customer.merchant, customer=customer, reason=form.cleaned_data["reason"], actor=request.user
            )
            self.message_user(request, gettext("Marketing consent withdrawn."), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:loyalty_customer_support", args=[customer.pk]))

    def send_link_view(self, request, id):
        customer = self._customer(request, id, change=True)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:loyalty_customer_support", args=[customer.pk]))
        form = ReasonForm(request.POST)
        if not form.is_valid():
            self.message_user(request, gettext("Say why the link is sent again."), messages.ERROR)
        elif send_card_link(merchant=customer.merchant, phone_e164=customer.phone):
            audit.record(
                action="customer.card_link_sent",
                actor=request.user,
                target=customer,
                after={"email": customer.email},
                reason=form.cleaned_data["reason"],
            )
            self.message_user(
                request,
                gettext("The card link was e-mailed to %(email)s.") % {"email": customer.email},
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                gettext(
                    "No e-mail was sent: the customer has no e-mail address, or a link was sent in the last minutes."
                ),
                messages.WARNING,
            )
        return HttpResponseRedirect(reverse("admin:loyalty_customer_support", args=[customer.pk]))

    # --- a card's pass ------------------------------------------------------------------------

    def _card(self, request, id) -> Card:
        card = get_object_or_404(Card.objects.select_related("merchant", "customer"), pk=id)
        if not self.has_change_permission(request, card.customer):
            raise PermissionDenied
        return card

    def reissue_pass_view(self, request, id):
        """A new pass (serial, token, web link) for a lost or compromised one; the
        customer gets the new link by e-mail when they have one."""
        card = self._card(request, id)
        if request.method == "POST":
            form = ReasonForm(request.POST)
            if form.is_valid():
                try:
                    support.reissue_pass(
                        merchant=card.merchant, card=card, reason=form.cleaned_data["reason"], actor=request.user
                    )
                except LoyaltyError as exc:
                    form.add_error("reason", exc.message)
                else:
                    message = gettext("Pass reissued: %s") % form.cleaned_data["reason"]
                    self.message_user(request, message, messages.SUCCESS)
                    if card.customer.email and send_card_link(merchant=card.merchant, phone_e164=card.customer.phone):
                        self.message_user(
                            request,
                            gettext("The new card link was e-mailed to %(email)s.") % {"email": card.customer.email},
                            messages.SUCCESS,
                        )
                    else:
                        self.message_user(
                            request,
                            gettext("No e-mail was sent; give the customer the new link: %(link)s")
                            % {"link": web_card_url(card=card)},
                            messages.WARNING,
                        )
                    return HttpResponseRedirect(reverse("admin:loyalty_customer_support", args=[card.customer_id]))
        else:
            form = ReasonForm()
        title = gettext("Reissue the pass of card %s") % card
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "card": card,
            "opts": Card._meta,
            "original": card,
            "reissuing": True,
        }
        return TemplateResponse(request, "admin/loyalty/card/block_card.html", context)

    # --- support lead: erase personal data, merge duplicates ---------------------------------

    def _lead_customer(self, request, id) -> Customer:
        customer = self._customer(request, id, change=True)
        if not is_support_lead(request.user):
            raise PermissionDenied
        return customer

    def _lead_page(self, request, customer, form, *, title, explanation, submit_label):
        context = self._context(
            request, customer, title=title, form=form, explanation=explanation, submit_label=submit_label
        )
        return TemplateResponse(request, "admin/loyalty/customer/lead_action.html", context)

    def anonymise_view(self, request, id):
        """Delete on request (152-FZ, GDPR): the personal fields are erased, the ledger stays."""
        customer = self._lead_customer(request, id)
        form = AnonymiseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                privacy.anonymise_customer(
                    merchant=customer.merchant,
                    customer=customer,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except LoyaltyError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, gettext("The customer's personal data is erased."), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:loyalty_customer_support", args=[customer.pk]))
        return self._lead_page(
            request,
            customer,
            form,
            title=gettext("Delete personal data"),
            explanation=gettext(
                "Name, phone, e-mail, birthday, marketing consent and messenger bindings are erased; "
                "cards and their points history stay."
            ),
            submit_label=gettext("Erase"),
        )

    def merge_view(self, request, id):
        """Two customers who are the same person: the duplicate's cards are merged into this customer's card."""
        customer = self._lead_customer(request, id)
        form = MergeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            duplicate = (
                Customer.objects.for_merchant(customer.merchant).filter(pk=form.cleaned_data["duplicate"]).first()
            )
            if duplicate is None:
                form.add_error("duplicate", gettext("This business has no customer with this number."))
            else:
                try:
                    ledger.merge_customers(
                        merchant=customer.merchant,
                        keep=customer,
                        duplicate=duplicate,
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                    )
                except LoyaltyError as exc:
                    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                else:
                    self.message_user(request, gettext("Customers merged."), messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:loyalty_customer_support", args=[customer.pk]))
        return self._lead_page(
            request,
            customer,
            form,
            title=gettext("Merge a duplicate into this customer"),
            explanation=gettext(
                "Points, lots and stamps move by new ledger entries; the duplicate's history stays as it was."
            ),
            submit_label=gettext("Merge"),
        )
