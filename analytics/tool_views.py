"""The owner's tools beside the analytics pages: the ROI calculator, the customer
import (upload, preview and mapping, progress, the row-by-row report) and the
streaming CSV exports of customers, purchases and the ledger."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from analytics import imports, roi
from analytics.exports import CUSTOMER_HEADERS, EXPORT_CHUNK, customer_rows, local_iso, stream_csv
from analytics.forms import MappingForm, RoiForm, UploadForm
from analytics.models import ImportJob, ImportRowError
from analytics.reports import default_period
from analytics.sections import render_sections
from loyalty.exceptions import LoyaltyError
from loyalty.models import Card, LedgerEntry, Purchase
from merchants.currency import quantum
from merchants.permissions import CAN_SEE_ANALYTICS, CAN_SEE_CUSTOMERS, MerchantStaffRequiredMixin


class RoiView(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_SEE_ANALYTICS

    def get(self, request: HttpRequest) -> HttpResponse:
        filled = roi.prefill(merchant=self.merchant)
        if request.GET:
            form = RoiForm(request.GET)
        else:
            form = RoiForm(initial=vars(filled.inputs))
        result = None
        if form.is_bound and form.is_valid():
            result = roi.calculate(roi.RoiInputs(**form.cleaned_data))
        elif not form.is_bound and filled.inputs.average_check > 0:
            result = roi.calculate(filled.inputs)
        last = default_period(merchant=self.merchant)
        context = {
            "form": form,
            "result": result,
            "prefill_month": filled.month,
            "prefill": filled.inputs,
            # What other apps add (campaigns: what the measured campaigns returned, last 12 months).
            "sections": render_sections(
                "roi", merchant=self.merchant, first_month=last.first_month, last_month=last.last_month
            ),
        }
        return TemplateResponse(request, "analytics/roi.html", context)


# --- import ---------------------------------------------------------------------------------------


class ImportListView(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_SEE_CUSTOMERS

    def get(self, request: HttpRequest, form: UploadForm | None = None, error: str = "") -> HttpResponse:
        jobs = ImportJob.objects.for_merchant(self.merchant).defer("content")[:10]
        context = {"form": form or UploadForm(), "jobs": jobs, "error": error, "fields": imports.FIELDS}
        return TemplateResponse(request, "analytics/import.html", context, status=400 if error or form else 200)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = UploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.get(request, form=form)
        upload = form.cleaned_data["file"]
        try:
            job = imports.upload(
                merchant=self.merchant, actor=request.user, filename=upload.name, content=upload.read()
            )
        except LoyaltyError as exc:
            return self.get(request, error=exc.message)
        return redirect("customer_import_detail", pk=job.pk)


class ImportDetailView(MerchantStaffRequiredMixin, View):
    model = ImportJob  # the tenancy test fills <pk> with one of these
    allowed_roles = CAN_SEE_CUSTOMERS

    def job(self, pk: int) -> ImportJob:
        return get_object_or_404(ImportJob.objects.for_merchant(self.merchant), pk=pk)

    def get(self, request: HttpRequest, pk: int, form: MappingForm | None = None, error: str = "") -> HttpResponse:
        job = self.job(pk)
        context: dict = {"job": job, "error": error}
        if job.status == ImportJob.Status.UPLOADED:
            context["form"] = form or MappingForm(
                headers=job.headers,
                initial={name: str(i) for name, i in job.mapping.items()} | {"with_balances": "balance" in job.mapping},
            )
            context["headers"] = job.headers
            context["preview"] = imports.preview_rows(job)
        else:
            row_errors = ImportRowError.objects.for_merchant(self.merchant).filter(job=job)[:200]
            context["row_errors"] = [
                {"row_number": e.row_number, "code": e.code, "value": e.value, "message": imports.row_error_text(e)}
                for e in row_errors
            ]
        return TemplateResponse(request, "analytics/import_detail.html", context, status=400 if error else 200)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.job(pk)
        form = MappingForm(request.POST, headers=job.headers)
        if not form.is_valid():
            return self.get(request, pk, form=form)
        try:
            imports.start(job=job, mapping=form.mapping(), with_balances=form.cleaned_data["with_balances"])
        except LoyaltyError as exc:
            return self.get(request, pk, form=form, error=exc.message)
        return redirect("customer_import_detail", pk=job.pk)


class ImportProgressView(MerchantStaffRequiredMixin, View):
    model = ImportJob  # the tenancy test fills <pk> with one of these
    """Polled by the import page while the task runs."""

    allowed_roles = CAN_SEE_CUSTOMERS

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(ImportJob.objects.for_merchant(self.merchant).defer("content"), pk=pk)
        return JsonResponse(
            {
                "status": job.status,
                "status_label": str(job.get_status_display()),
                "total": job.total_rows,
                "processed": job.processed_rows,
                "percent": job.percent_done,
                "created": job.created_count,
                "existing": job.existing_count,
                "errors": job.error_count,
            }
        )


# --- streaming CSV ----------------------------------------------------------------------------------


def _money(amounts, currency: str) -> list:
    """Amounts in the currency's decimals (123.45 for RUB, not the column's 123.450)."""
    step = quantum(currency)
    return [amount.quantize(step) for amount in amounts]


_iso = local_iso


class ImportErrorsCsvView(MerchantStaffRequiredMixin, View):
    model = ImportJob  # the tenancy test fills <pk> with one of these
    allowed_roles = CAN_SEE_CUSTOMERS

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(ImportJob.objects.for_merchant(self.merchant).defer("content"), pk=pk)
        rows = (
            (e.row_number, e.code, e.value, imports.row_error_text(e))
            for e in ImportRowError.objects.for_merchant(self.merchant)
            .filter(job=job)
            .iterator(chunk_size=EXPORT_CHUNK)
        )
        return stream_csv(f"import-{job.pk}-errors.csv", [_("Row"), _("Error"), _("Value"), _("Message")], rows)


class ExportView(MerchantStaffRequiredMixin, View):
    """Each export walks its table in primary-key order with a server-side cursor
    (``iterator(chunk_size=...)``): memory stays flat whatever the size."""

    allowed_roles = CAN_SEE_CUSTOMERS
    kinds = ("customers", "purchases", "ledger")
    kind = "customers"

    headers = {
        "customers": CUSTOMER_HEADERS,
        "purchases": [
            "created_at", "receipt_id", "card_number", "phone", "location", "bill_amount", "discount_amount",
            "points_amount", "amount_paid", "points_earned", "points_redeemed", "refunded_amount", "currency",
        ],
        "ledger": ["created_at", "card_number", "kind", "points", "stamps", "rewards", "receipt_id", "reason"],
    }  # fmt: skip

    def get(self, request: HttpRequest) -> HttpResponse:
        kind = self.kind
        rows = {"customers": self._customers, "purchases": self._purchases, "ledger": self._ledger}[kind]()
        day = timezone.localdate(timezone.now(), self.merchant.tzinfo).isoformat()
        return stream_csv(f"{kind}-{day}.csv", self.headers[kind], rows)

    @staticmethod
    def _rows(queryset: QuerySet, convert) -> Iterator[list]:
        for row in queryset.iterator(chunk_size=EXPORT_CHUNK):
            yield convert(row)

    def _customers(self) -> Iterator[list]:
        return customer_rows(Card.objects.for_merchant(self.merchant), tz=self.merchant.tzinfo)

    def _purchases(self) -> Iterator[list]:
        tz = self.merchant.tzinfo
        qs = (
            Purchase.objects.for_merchant(self.merchant)
            .order_by("pk")
            .values_list(
                "created_at",
                "receipt_id",
                "card__number",
                "card__customer__phone",
                "location__name",
                "bill_amount",
                "discount_amount",
                "points_amount",
                "amount_paid",
                "points_earned",
                "points_redeemed",
                "refunded_amount",
                "currency",
            )
        )
        return self._rows(
            qs, lambda r: [_iso(r[0], tz), *r[1:5], *_money(r[5:9], r[12]), *r[9:11], *_money(r[11:12], r[12]), r[12]]
        )

    def _ledger(self) -> Iterator[list]:
        tz = self.merchant.tzinfo
        qs = (
            LedgerEntry.objects.for_merchant(self.merchant)
            .order_by("pk")
            .values_list(
                "created_at", "card__number", "kind", "points", "stamps", "rewards", "purchase__receipt_id", "reason"
            )
        )
        return self._rows(qs, lambda r: [_iso(r[0], tz), *r[1:]])
