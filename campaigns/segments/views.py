"""The segment pages (owner and marketer): the list, the builder with its live
count, delete, and the RFM grid. Views parse input, call one service or
selector and render; every query starts from ``self.merchant``."""

from __future__ import annotations

import copy
import json

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from analytics.exports import CUSTOMER_HEADERS, stream_csv
from campaigns.exceptions import SegmentDefinitionError
from campaigns.models import RfmGroup, Segment
from campaigns.segments import services
from campaigns.segments.conditions import schema_for
from campaigns.segments.predicted import PRESETS
from campaigns.segments.rfm import recompute_rfm, rfm_overview
from campaigns.segments.selectors import segment_size, segments_for
from loyalty.display import phone_text
from loyalty.json_body import BodyMalformed, BodyTooLarge, request_json
from merchants.permissions import CAN_SEE_CAMPAIGNS, MerchantStaffRequiredMixin


def customers_text(count: int) -> str:
    return ngettext("%(count)s customer", "%(count)s customers", count) % {
        "count": number_format(count, force_grouping=True)
    }


class SegmentListView(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_SEE_CAMPAIGNS

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = []
        for segment in segments_for(merchant=self.merchant):
            try:
                size = customers_text(
                    segment_size(merchant=self.merchant, definition=segment.definition, sample_size=0).count
                )
            except SegmentDefinitionError:
                # A tier or location it names was deleted since: the builder says which.
                size = _("needs fixing")
            rows.append({"segment": segment, "size": size})
        return TemplateResponse(request, "campaigns/segment_list.html", {"rows": rows})


def _rfm_prefill(request: HttpRequest) -> tuple[str, dict]:
    """A new segment opened from the RFM page (one grid cell or one group) or
    from a ready-made preset (``?preset=``)."""
    preset = PRESETS.get(request.GET.get("preset", ""))
    if preset is not None:
        label, _explanation, definition = preset
        return str(label), copy.deepcopy(definition)
    group = request.GET.get("group", "")
    if group in RfmGroup.values:
        label = str(RfmGroup(group).label)
        return label, {
            "match": "all",
            "groups": [{"match": "all", "conditions": [{"field": "rfm_group", "op": "in", "value": [group]}]}],
        }
    r, f = request.GET.get("r", ""), request.GET.get("f", "")
    if r in "12345" and f in "12345" and r and f and len(r) == 1 and len(f) == 1:
        return _("Recency %(r)s, frequency %(f)s") % {"r": r, "f": f}, {
            "match": "all",
            "groups": [
                {
                    "match": "all",
                    "conditions": [
                        {"field": "rfm_score", "score": "r", "op": "eq", "value": int(r)},
                        {"field": "rfm_score", "score": "f", "op": "eq", "value": int(f)},
                    ],
                }
            ],
        }
    return "", {"match": "all", "groups": [{"match": "all", "conditions": []}]}


class SegmentFormMixin(MerchantStaffRequiredMixin):
    allowed_roles = CAN_SEE_CAMPAIGNS
    template_name = "campaigns/segment_form.html"

    def render(
        self, request: HttpRequest, *, segment: Segment | None, name: str, definition, errors=()
    ) -> HttpResponse:
        context = {
            "segment": segment,
            "name": name,
            "definition": definition,
            "schema": schema_for(self.merchant),
            "errors": list(errors),
            "count_url": reverse("segment_count"),
            "presets": [
                {"key": key, "label": label, "explanation": explanation}
                for key, (label, explanation, _definition) in PRESETS.items()
            ]
            if segment is None
            else [],
        }
        return TemplateResponse(request, self.template_name, context, status=400 if errors else 200)

    @staticmethod
    def posted_definition(request: HttpRequest):
        try:
            return json.loads(request.POST.get("definition") or "{}")
        except ValueError:
            return None


class SegmentCreateView(SegmentFormMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        name, definition = _rfm_prefill(request)
        return self.render(request, segment=None, name=name, definition=definition)

    def post(self, request: HttpRequest) -> HttpResponse:
        name, definition = request.POST.get("name", ""), self.posted_definition(request)
        try:
            segment = services.segment_create(
                merchant=self.merchant, name=name, definition=definition, actor=request.user
            )
        except SegmentDefinitionError as exc:
            return self.render(request, segment=None, name=name, definition=definition or {}, errors=exc.errors)
        messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
        return redirect("segment_list")


class SegmentEditView(SegmentFormMixin, View):
    model = Segment

    def get_segment(self) -> Segment:
        return get_object_or_404(Segment.objects.for_merchant(self.merchant), pk=self.kwargs["pk"])

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        segment = self.get_segment()
        return self.render(request, segment=segment, name=segment.name, definition=segment.definition)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        segment = self.get_segment()
        name, definition = request.POST.get("name", ""), self.posted_definition(request)
        try:
            services.segment_update(segment=segment, name=name, definition=definition, actor=request.user)
        except SegmentDefinitionError as exc:
            return self.render(request, segment=segment, name=name, definition=definition or {}, errors=exc.errors)
        messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
        return redirect("segment_list")


class SegmentDeleteView(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_SEE_CAMPAIGNS
    model = Segment

    def get_segment(self) -> Segment:
        return get_object_or_404(Segment.objects.for_merchant(self.merchant), pk=self.kwargs["pk"])

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return TemplateResponse(request, "campaigns/segment_delete.html", {"segment": self.get_segment()})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        segment = self.get_segment()
        name = segment.name
        services.segment_delete(segment=segment, actor=request.user)
        messages.success(request, _("Segment “%(name)s” deleted.") % {"name": name})
        return redirect("segment_list")


class SegmentExportView(MerchantStaffRequiredMixin, View):
    """The segment's customers as they match now, streamed as CSV (the columns of
    the customer export). Owners and marketers; recorded in the audit log."""

    allowed_roles = CAN_SEE_CAMPAIGNS
    model = Segment

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        segment = get_object_or_404(Segment.objects.for_merchant(self.merchant), pk=pk)
        try:
            rows = services.segment_export(segment=segment, actor=request.user)
        except SegmentDefinitionError as exc:
            for error in exc.errors:
                messages.error(request, error)
            return redirect("segment_edit", pk=segment.pk)
        day = timezone.localdate(timezone.now(), self.merchant.tzinfo).isoformat()
        return stream_csv(f"segment-{segment.pk}-{day}.csv", CUSTOMER_HEADERS, rows)


class SegmentCountView(MerchantStaffRequiredMixin, View):
    """The builder's live count: POST {"definition": …} → the size and a sample."""

    allowed_roles = CAN_SEE_CAMPAIGNS

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            body = request_json(request)
        except (BodyTooLarge, BodyMalformed):
            return JsonResponse({"errors": [_("The conditions could not be read.")]}, status=400)
        definition = body.get("definition") if isinstance(body, dict) else None
        try:
            size = segment_size(merchant=self.merchant, definition=definition)
        except SegmentDefinitionError as exc:
            return JsonResponse({"errors": [str(e) for e in exc.errors]}, status=400)
        return JsonResponse(
            {
                "count": size.count,
                "count_text": customers_text(size.count),
                "sample": [
                    {
                        "name": c.name or _("No name"),
                        "phone": phone_text(c.phone),
                        "url": reverse("card_detail", args=[c.card_id]) if c.card_id else "",
                    }
                    for c in size.sample
                ],
                "errors": [],
            }
        )


class RfmView(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_SEE_CAMPAIGNS

    def get(self, request: HttpRequest) -> HttpResponse:
        overview = rfm_overview(merchant=self.merchant)
        peak = max((cell.count for row in overview.grid for cell in row), default=0)
        return TemplateResponse(request, "campaigns/rfm.html", {"overview": overview, "peak": peak})


class RfmRecomputeView(MerchantStaffRequiredMixin, View):
    """Recompute now (the nightly task does the same): one SQL statement."""

    allowed_roles = CAN_SEE_CAMPAIGNS

    def post(self, request: HttpRequest) -> HttpResponse:
        scored = recompute_rfm(merchant=self.merchant)
        messages.success(request, _("RFM scores recomputed: %(text)s.") % {"text": customers_text(scored)})
        return redirect("rfm_grid")
