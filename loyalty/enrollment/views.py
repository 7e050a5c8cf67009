"""Public customer pages: the enrolment form a QR code opens, the page after
it, the web card, and the merchant's logo for them. No login; the merchant
comes from the URL (its slug) and a card only from its unguessable web token."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from loyalty.design.artwork import stamp_strip_png
from loyalty.design.barcodes import barcode_svg
from loyalty.display import free_visit_text
from loyalty.enrollment import ratelimit, selectors, services
from loyalty.enrollment.forms import EnrolForm
from loyalty.exceptions import AlreadyEnrolled, LoyaltyError
from loyalty.models import Customer
from loyalty.phones import normalize_phone
from loyalty.wallet import images
from loyalty.wallet.contract import wallet_pass_for, wallets_available
from merchants import selectors as merchant_selectors
from merchants.models import Location, Merchant
from merchants.permissions import public_route

SEND_CARD_SALT = "loyalty.enrollment.send-card"
SEND_CARD_MAX_AGE = 30 * 60


def _merchant(slug: str) -> Merchant:
    return get_object_or_404(Merchant, slug=slug, is_active=True)


def _location(merchant: Merchant, location_id: int | None) -> Location | None:
    if location_id is None:
        return None
    return get_object_or_404(Location.objects.for_merchant(merchant), pk=location_id)


def _private(response: HttpResponse) -> HttpResponse:
    """Pages that carry a card: never cached, never indexed, and the token in
    the URL never leaks to another site through Referer."""
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _page_context(merchant: Merchant, *, brand: selectors.Brand | None = None, **extra) -> dict:
    return {"merchant": merchant, "brand": brand or selectors.brand_for(merchant=merchant), **extra}


def _too_many(request, merchant: Merchant) -> HttpResponse:
    response = render(request, "enrollment/too_many.html", _page_context(merchant), status=429)
    response["Retry-After"] = str(ratelimit.ENROLL_PER_DEVICE.seconds)
    return ratelimit.remember_device(request, response)


@method_decorator(never_cache, name="dispatch")
class EnrolView(View):
    """/join/<slug>/ and /join/<slug>/<location id>/: the form behind the QR code (never cached: it carries
    the visitor's CSRF token)."""

    template_name = "enrollment/join.html"

    def dispatch(self, request, *args, **kwargs):
        # A printed QR code with the merchant's old address: on to the current one, for good.
        slug = kwargs["slug"]
        if request.method in ("GET", "HEAD") and not Merchant.objects.filter(slug=slug, is_active=True).exists():
            moved = merchant_selectors.merchant_for_old_slug(slug)
            if moved is not None:
                location_id = kwargs.get("location_id")
                url = (
                    reverse("enroll", args=[moved.slug])
                    if location_id is None
                    else reverse("enroll_location", args=[moved.slug, location_id])
                )
                query = request.META.get("QUERY_STRING", "")
                return HttpResponsePermanentRedirect(f"{url}?{query}" if query else url)
        return super().dispatch(request, *args, **kwargs)

    def _render(self, request, merchant, location, form, *, status=200, bad_ref=False):
        context = _page_context(
            merchant,
            location=location,
            form=form,
            consent=form.consent,
            offer=selectors.offer_for(merchant=merchant),
            wallets=wallets_available(merchant=merchant),
            bad_ref=bad_ref,
            referred=bool(form["ref"].value()) and not bad_ref,
        )
        return render(request, self.template_name, context, status=status)

    def get(self, request, slug, location_id=None):
        merchant = _merchant(slug)
        location = _location(merchant, location_id)
        consent = selectors.current_consent(merchant=merchant)
        code = request.GET.get("ref", "").strip().upper()[:16]
        valid = bool(code) and Customer.objects.for_merchant(merchant).filter(referral_code=code).exists()
        form = EnrolForm(merchant=merchant, consent=consent, initial={"ref": code if valid else ""})
        response = self._render(request, merchant, location, form, bad_ref=bool(code) and not valid)
        return ratelimit.remember_device(request, response)

    def post(self, request, slug, location_id=None):
        return ratelimit.remember_device(request, self._post(request, slug, location_id))

    def _post(self, request, slug, location_id=None):
        merchant = _merchant(slug)
        location = _location(merchant, location_id)
        consent = selectors.current_consent(merchant=merchant)
        form = EnrolForm(request.POST, merchant=merchant, consent=consent)
        if not form.is_valid():
            # A typo is not an attempt: only valid forms count towards the limits.
            return self._render(request, merchant, location, form, status=400)
        if not ratelimit.enrollment_allowed(request, merchant=merchant):
            return _too_many(request, merchant)
        data = form.cleaned_data
        try:
            card = services.enroll_from_qr(
                merchant=merchant,
                location=location,
                name=data["name"],
                phone=data["phone"],
                email=data["email"],
                birthday=data["birthday"],
                marketing_consent=data["marketing_consent"],
                referral_code=data["ref"],
                consent=consent,
            )
        except AlreadyEnrolled:
            phone = normalize_phone(data["phone"], region=merchant.country) or ""
            token = signing.dumps({"m": merchant.pk, "p": phone}, salt=SEND_CARD_SALT)
            return render(request, "enrollment/already.html", _page_context(merchant, token=token, location=location))
        except LoyaltyError as exc:
            form.add_error(
                exc.field if exc.field in form.fields else ("ref" if exc.field == "referral_code" else None),
                exc.message,
            )
            return self._render(request, merchant, location, form, status=400)
        return redirect("webcard_welcome", web_token=wallet_pass_for(card=card).web_token)


class SendCardView(View):
    """Send an already registered phone's card link to the e-mail on file.
    The answer is the same whether or not there is one."""

    def post(self, request, slug):
        return ratelimit.remember_device(request, self._post(request, slug))

    def _post(self, request, slug):
        merchant = _merchant(slug)
        if not ratelimit.enrollment_allowed(request, merchant=merchant):
            return _too_many(request, merchant)
        try:
            payload = signing.loads(request.POST.get("token", ""), salt=SEND_CARD_SALT, max_age=SEND_CARD_MAX_AGE)
        except signing.BadSignature:
            return render(request, "enrollment/send_card_expired.html", _page_context(merchant), status=400)
        if payload.get("m") != merchant.pk:
            raise Http404
        services.send_card_link(merchant=merchant, phone_e164=payload.get("p", ""))
        return render(request, "enrollment/send_card_done.html", _page_context(merchant))


def _wallet_buttons(request, merchant, web_token: str) -> list[dict]:
    """The wallet buttons this device should see, the fitting one first."""
    availability = wallets_available(merchant=merchant)
    buttons = []
    for kind, on, url_name in (
        ("apple", availability.apple, "wallet_apple_pass"),
        ("google", availability.google, "wallet_google_save"),
    ):
        if not on:
            continue
        try:
            buttons.append({"kind": kind, "url": reverse(url_name, args=[web_token])})
        except NoReverseMatch:
            continue
    agent = request.META.get("HTTP_USER_AGENT", "")
    if "Android" in agent:
        buttons.sort(key=lambda b: b["kind"] != "google")
    else:
        buttons.sort(key=lambda b: b["kind"] != "apple")
    return buttons


def _card_context(request, wallet_pass) -> dict:
    card, merchant = wallet_pass.card, wallet_pass.merchant
    offer = selectors.offer_for(merchant=merchant)
    brand = selectors.brand_for(merchant=merchant)
    stamps_total = max(1, min(offer.rules.stamps_per_reward, images.MAX_STAMPS)) if offer.rules.uses_stamps else 0
    return _page_context(
        merchant,
        brand=brand,
        design=brand.design,
        card=card,
        customer=card.customer,
        offer=offer,
        stamps=offer.rules.uses_stamps,
        stamps_total=stamps_total,
        stamps_filled=min(card.stamps, stamps_total) if stamps_total else 0,
        stamp_rule=free_visit_text(offer.rules.stamps_per_reward) if offer.rules.uses_stamps else "",
        web_token=wallet_pass.web_token,
        barcode=barcode_svg(card.barcode, brand.design.barcode_format, title=card.number),
        card_number=" ".join(card.number[i : i + 4] for i in range(0, len(card.number), 4)),
        wallet_buttons=_wallet_buttons(request, merchant, wallet_pass.web_token),
        referral_code=card.customer.referral_code,
        referral_url=f"{settings.PUBLIC_BASE_URL}{reverse('enroll', args=[merchant.slug])}?ref="
        f"{card.customer.referral_code}",
        referrer_points=offer.rules.referral_referrer_bonus if offer.rules.uses_points else 0,
    )


@method_decorator(never_cache, name="dispatch")
class WelcomeView(View):
    """Right after enrolling: add the card to a wallet, or keep the web card."""

    def get(self, request, web_token):
        wallet_pass = selectors.web_card(web_token=web_token)
        if wallet_pass is None:
            raise Http404
        return _private(render(request, "enrollment/welcome.html", _card_context(request, wallet_pass)))


@method_decorator(never_cache, name="dispatch")
class WebCardView(View):
    """The web card: barcode, balance, tier and recent history, read live."""

    def get(self, request, web_token):
        wallet_pass = selectors.web_card(web_token=web_token)
        if wallet_pass is None:
            raise Http404
        context = _card_context(request, wallet_pass)
        context["history"] = selectors.history_lines(merchant=wallet_pass.merchant, card=wallet_pass.card)
        return _private(render(request, "enrollment/card.html", context))


class WebCardStampsView(View):
    """The card's stamp strip, drawn like the wallet pass's."""

    def get(self, request, web_token):
        wallet_pass = selectors.web_card(web_token=web_token)
        if wallet_pass is None:
            raise Http404
        offer = selectors.offer_for(merchant=wallet_pass.merchant)
        if not offer.rules.uses_stamps:
            raise Http404
        design = selectors.brand_for(merchant=wallet_pass.merchant).design
        total = max(1, min(offer.rules.stamps_per_reward, images.MAX_STAMPS))
        png = stamp_strip_png(
            filled=min(wallet_pass.card.stamps, total),
            total=total,
            background=design.background_color,
            foreground=design.foreground_color,
        )
        return _private(HttpResponse(png, content_type="image/png"))


class MerchantImageView(View):
    """The logo or strip picture of the merchant's published design, for the
    customer pages (they are on every installed pass anyway)."""

    kind = "logo"

    def get(self, request, slug):
        merchant = _merchant(slug)
        design = selectors.brand_for(merchant=merchant).design
        field = getattr(design, self.kind)
        if not field:
            raise Http404
        try:
            with field.open("rb") as handle:
                data = handle.read()
        except OSError:
            raise Http404
        response = HttpResponse(data, content_type="image/png")
        response["Cache-Control"] = "public, max-age=300"
        return response


enrol = public_route(EnrolView.as_view())
send_card = public_route(SendCardView.as_view())
welcome = public_route(WelcomeView.as_view())
web_card = public_route(WebCardView.as_view())
web_card_stamps = public_route(WebCardStampsView.as_view())
merchant_logo = public_route(MerchantImageView.as_view(kind="logo"))
merchant_strip = public_route(MerchantImageView.as_view(kind="strip"))
