"""The card designer (owner and marketer): edit the draft beside a live Apple
and Google preview, save it, publish it, and follow the cards updating."""

from __future__ import annotations

import re

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from loyalty.design import selectors, services
from loyalty.design.artwork import stamp_strip_png
from loyalty.design.barcodes import barcode_svg
from loyalty.design.forms import DesignForm
from loyalty.exceptions import LoyaltyError
from loyalty.models import BarcodeFormat
from loyalty.wallet import images
from loyalty.wallet.contract import sync_progress
from merchants.permissions import CAN_MANAGE_PROGRAM, MerchantStaffRequiredMixin

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class DesignView(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_MANAGE_PROGRAM
    template_name = "loyalty/design.html"

    def _render(self, request, form, draft, status=200):
        sample = selectors.preview_sample(merchant=self.merchant)
        waiting, total = sync_progress(merchant=self.merchant)
        context = {
            "form": form,
            "draft": draft,
            "sample": sample,
            "published": selectors.published_design(merchant=self.merchant),
            "versions": selectors.published_versions(merchant=self.merchant, limit=5),
            "barcodes": {
                fmt: barcode_svg(sample.barcode_payload, fmt, title=_("Sample barcode")) for fmt in BarcodeFormat.values
            },
            "has_locations": form.fields["locations"].queryset.exists(),
            "sync": {"waiting": waiting, "total": total, "updated": total - waiting},
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        draft = services.draft_for(merchant=self.merchant, actor=request.user)
        return self._render(request, DesignForm(instance=draft, merchant=self.merchant), draft)

    def post(self, request):
        draft = services.draft_for(merchant=self.merchant, actor=request.user)
        form = DesignForm(request.POST, request.FILES, instance=draft, merchant=self.merchant)
        if not form.is_valid():
            # Re-read the draft: the form has already copied the valid fields onto its instance.
            fresh = services.draft_for(merchant=self.merchant)
            return self._render(request, form, fresh, status=400)
        services.save_draft(
            merchant=self.merchant,
            design=form.save(commit=False),
            locations=form.cleaned_data["locations"],
            actor=request.user,
        )
        if request.POST.get("action") != "publish":
            messages.success(request, _("Draft saved. Customers still see the published version until you publish."))
            return redirect("design")
        try:
            version = services.publish(merchant=self.merchant, actor=request.user)
        except LoyaltyError as exc:
            messages.error(request, exc.message)
            return redirect("design")
        messages.success(
            request,
            _("Version %(n)d is published. Cards already in customers' wallets are updating now.")
            % {"n": version.version},
        )
        return redirect("design")


class DesignProgressView(MerchantStaffRequiredMixin, View):
    """How many installed cards still wait for the latest update (polled by the designer)."""

    allowed_roles = CAN_MANAGE_PROGRAM

    def get(self, request):
        waiting, total = sync_progress(merchant=self.merchant)
        response = JsonResponse({"waiting": waiting, "total": total, "updated": total - waiting})
        response["Cache-Control"] = "no-store"
        return response


class DesignStampStripView(MerchantStaffRequiredMixin, View):
    """The stamp strip drawn as the wallet pass will draw it, for the preview's colours."""

    allowed_roles = CAN_MANAGE_PROGRAM

    def get(self, request):
        background, foreground = request.GET.get("bg", ""), request.GET.get("fg", "")
        if not (HEX_COLOUR.match(background) and HEX_COLOUR.match(foreground)):
            return HttpResponseBadRequest(_("Colours must be #rrggbb."))
        try:
            total = int(request.GET.get("total", "6"))
            filled = int(request.GET.get("filled", "0"))
        except ValueError:
            return HttpResponseBadRequest(_("Stamp counts must be whole numbers."))
        if not (1 <= total <= images.MAX_STAMPS and 0 <= filled <= total):
            return HttpResponseBadRequest(_("Stamp counts are out of range."))
        png = stamp_strip_png(filled=filled, total=total, background=background, foreground=foreground)
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, max-age=86400"
        return response


class DesignImageView(MerchantStaffRequiredMixin, View):
    """An image of the merchant's draft (the preview shows it before it is published)."""

    allowed_roles = CAN_MANAGE_PROGRAM
    kind = "logo"

    def get(self, request):
        draft = services.draft_for(merchant=self.merchant)
        field = getattr(draft, self.kind)
        if not field:
            raise Http404
        try:
            handle = field.open("rb")
        except OSError:
            raise Http404
        response = FileResponse(handle, content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response
