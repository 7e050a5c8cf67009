"""The dashboard's customer list (owner and marketer): search, newest first,
keyset pages; each row opens the card page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views import View

from loyalty.customers import support
from loyalty.customers.selectors import MAX_QUERY_LENGTH, customer_page
from loyalty.display import card_number_text, phone_text, points_text
from loyalty.models import Card, Customer, Mechanic
from loyalty.program.services import current_rules
from merchants import audit
from merchants.permissions import CAN_EXPORT_CUSTOMER_DATA, CAN_SEE_CUSTOMERS, MerchantStaffRequiredMixin


@dataclass(frozen=True)
class Row:
    card_id: int
    name: str
    phone: str
    email: str
    card_number: str
    balance: str
    tier: str
    last_purchase_at: datetime | None
    joined_at: datetime
    blocked: bool


class CustomerListView(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_SEE_CUSTOMERS
    template_name = "loyalty/customers.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        query = request.GET.get("q", "")
        page = customer_page(
            merchant=self.merchant,
            query=query,
            after=request.GET.get("after", "")[:64],
            before=request.GET.get("before", "")[:64],
        )
        if page.bad_cursor:
            messages.info(request, _("That page link is out of date; here are the newest customers."))
        rules = current_rules(merchant=self.merchant)
        search = page.search
        context = {
            "rows": [self.row(card, rules) for card in page.cards],
            "query": search.query,
            "search": search,
            "searched_phone": phone_text(search.value) if search.kind == "phone" else "",
            "newer_url": self.page_url(search.query, before=page.newer) if page.newer else "",
            "older_url": self.page_url(search.query, after=page.older) if page.older else "",
            "is_first": page.is_first,
            "query_max_length": MAX_QUERY_LENGTH,
        }
        return TemplateResponse(request, self.template_name, context)

    @staticmethod
    def page_url(query: str, **cursor: str) -> str:
        params = {"q": query} if query else {}
        return "?" + urlencode({**params, **cursor})

    @staticmethod
    def row(card: Card, rules) -> Row:
        customer = card.customer
        if rules.mechanic == Mechanic.STAMPS:
            balance = _("%(n)s of %(total)s stamps") % {"n": card.stamps, "total": rules.stamps_per_reward}
        elif rules.mechanic in Mechanic.with_points():
            balance = points_text(card.balance)
        else:
            balance = "—"
        return Row(
            card_id=card.pk,
            name=customer.name,
            phone=phone_text(customer.phone),
            email=customer.email,
            card_number=card_number_text(card.number),
            balance=balance,
            tier=card.tier.name if card.tier else "",
            last_purchase_at=card.last_purchase_at,
            joined_at=customer.created_at,
            blocked=card.is_blocked,
        )


class CustomerExportView(MerchantStaffRequiredMixin, View):
    """A customer's data as a JSON or CSV download, for the owner answering a data
    request; the same export as the support console's, recorded in the audit log."""

    allowed_roles = CAN_EXPORT_CUSTOMER_DATA
    model = Customer

    def get(self, request: HttpRequest, pk: int, format: str) -> HttpResponse:
        customer = get_object_or_404(Customer.objects.for_merchant(self.merchant).select_related("merchant"), pk=pk)
        if format not in ("json", "csv"):
            raise Http404
        data = support.export_customer(customer)
        audit.record(action="customer.exported", actor=request.user, target=customer, after={"format": format})
        if format == "json":
            body = json.dumps(data, ensure_ascii=False, indent=2)
            response = HttpResponse(body, content_type="application/json; charset=utf-8")
        else:
            response = HttpResponse(support.export_customer_csv(data), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="customer-{customer.pk}.{format}"'
        add_never_cache_headers(response)
        return response
