"""The dashboard's "QR & poster" page (owner and marketer): the public enrolment
URL of the merchant and of each location, their QR codes as SVG and PNG
downloads, a printable A4 poster for each, and the consent wording."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views import View

from loyalty.enrollment import selectors, services
from loyalty.enrollment.forms import ConsentTextForm
from loyalty.wallet.contract import wallets_available
from loyalty.wallet.qr import qr_png, qr_svg
from merchants import services as merchant_services
from merchants.models import Location
from merchants.permissions import CAN_MANAGE_PROGRAM, MerchantStaffRequiredMixin


def enrollment_url(merchant, location: Location | None = None) -> str:
    if location is None:
        path = reverse("enroll", args=[merchant.slug])
    else:
        path = reverse("enroll_location", args=[merchant.slug, location.pk])
    return settings.PUBLIC_BASE_URL + path


class _Scoped(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_MANAGE_PROGRAM

    def location(self, location_id: int | None) -> Location | None:
        if location_id is None:
            return None
        return get_object_or_404(Location.objects.for_merchant(self.merchant), pk=location_id)


class QrPageView(_Scoped):
    template_name = "enrollment/qr.html"

    def _render(self, request, consent_form, status=200):
        locations = Location.objects.for_merchant(self.merchant).filter(is_active=True)
        targets = [{"location": None, "url": enrollment_url(self.merchant)}] + [
            {"location": location, "url": enrollment_url(self.merchant, location)} for location in locations
        ]
        for target in targets:
            target["qr"] = mark_safe(qr_svg(target["url"], scale=4, border=2).decode())
        context = {
            "targets": targets,
            "consent": selectors.current_consent(merchant=self.merchant),
            "consent_form": consent_form,
            "offer": selectors.offer_for(merchant=self.merchant),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        consent = selectors.current_consent(merchant=self.merchant)
        form = ConsentTextForm(
            initial={
                "personal_data_text": consent.personal_data_text,
                "marketing_text": consent.marketing_text,
                "policy_url": consent.policy_url,
            }
        )
        return self._render(request, form)

    def post(self, request):
        form = ConsentTextForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        text = services.save_consent_text(merchant=self.merchant, actor=request.user, **form.cleaned_data)
        messages.success(
            request,
            _("Consent wording saved as version %(version)s. New customers see it from now on; "
              "each customer keeps the version they agreed to.") % {"version": text.label},
        )  # fmt: skip
        return redirect("enroll_qr")


def _filename(merchant, location: Location | None, extension: str) -> str:
    base = slugify(merchant.slug) or "join"
    if location is not None:
        base += f"-{location.pk}"
    return f"qr-{base}.{extension}"


class QrSvgView(_Scoped):
    def get(self, request, location_id: int | None = None):
        location = self.location(location_id)
        # The getting-started checklist: the owner has the poster or the code in hand.
        merchant_services.onboarding_mark(merchant=self.merchant, key="poster")
        svg = qr_svg(enrollment_url(self.merchant, location), scale=10, border=4)
        response = HttpResponse(b'<?xml version="1.0" encoding="utf-8"?>\n' + svg, content_type="image/svg+xml")
        response["Content-Disposition"] = f'attachment; filename="{_filename(self.merchant, location, "svg")}"'
        return response


class QrPngView(_Scoped):
    def get(self, request, location_id: int | None = None):
        location = self.location(location_id)
        # The getting-started checklist: the owner has the poster or the code in hand.
        merchant_services.onboarding_mark(merchant=self.merchant, key="poster")
        # 20 px per module: a version 3-4 code comes out about 700-800 px, sharp on an A4 print.
        png = qr_png(enrollment_url(self.merchant, location), scale=20, border=4)
        response = HttpResponse(png, content_type="image/png")
        response["Content-Disposition"] = f'attachment; filename="{_filename(self.merchant, location, "png")}"'
        return response


class PosterView(_Scoped):
    """A print-ready A4 poster: logo, a big QR code, the offer and three steps."""

    def get(self, request, location_id: int | None = None):
        location = self.location(location_id)
        url = enrollment_url(self.merchant, location)
        # The getting-started checklist: the owner has the poster or the code in hand.
        merchant_services.onboarding_mark(merchant=self.merchant, key="poster")
        context = {
            "location": location,
            "url": url,
            "short_url": url.split("://", 1)[-1],
            "qr": mark_safe(qr_svg(url, scale=10, border=0).decode()),
            "brand": selectors.brand_for(merchant=self.merchant),
            "offer": selectors.offer_for(merchant=self.merchant),
            "wallets": wallets_available(merchant=self.merchant),
        }
        return render(request, "enrollment/poster.html", context)
