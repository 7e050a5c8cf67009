"""Dashboard pages for the wallets: the owner's wallet settings (Apple pass
certificate, Google issuer account) and a card's wallet status."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import DetailView

from loyalty.models import Card
from loyalty.wallet import credentials as wallet_credentials
from loyalty.wallet import passes
from loyalty.wallet.certificates import CertificateError
from merchants.permissions import CAN_MANAGE_WALLET, CAN_SEE_CARD_WALLETS, MerchantStaffRequiredMixin

MAX_CREDENTIAL_FILE_BYTES = 64 * 1024


def _read_upload(upload) -> bytes:
    if upload.size > MAX_CREDENTIAL_FILE_BYTES:
        raise forms.ValidationError(_("The file is too large for a certificate or key (at most 64 KB)."))
    return upload.read()


class AppleCertificateForm(forms.Form):
    certificate = forms.FileField(
        label=gettext_lazy("Certificate"),
        help_text=gettext_lazy("A .p12 file exported from Keychain, or the certificate as PEM (.pem, .cer)."),
    )
    key = forms.FileField(
        label=gettext_lazy("Private key (PEM)"),
        required=False,
        help_text=gettext_lazy("Only for a PEM certificate whose key is in a separate file."),
    )
    password = forms.CharField(
        label=gettext_lazy("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("The password of the .p12 file or of the encrypted key; leave empty if there is none."),
    )

    def clean_certificate(self) -> bytes:
        return _read_upload(self.cleaned_data["certificate"])

    def clean_key(self) -> bytes | None:
        upload = self.cleaned_data.get("key")
        return _read_upload(upload) if upload else None


class GoogleCredentialsForm(forms.Form):
    issuer_id = forms.CharField(
        label=gettext_lazy("Issuer id"),
        max_length=32,
        help_text=gettext_lazy("The number shown in the Google Pay & Wallet console."),
    )
    key = forms.FileField(
        label=gettext_lazy("Service-account key (JSON)"),
        required=False,
        help_text=gettext_lazy("Leave empty to keep the key already uploaded."),
    )

    def clean_key(self) -> bytes | None:
        upload = self.cleaned_data.get("key")
        return _read_upload(upload) if upload else None


class WalletSettingsView(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_MANAGE_WALLET
    template_name = "loyalty/wallet_settings.html"

    def render(self, request, *, apple_form=None, google_form=None, status=200):
        merchant = self.merchant
        creds = wallet_credentials.credentials_of(merchant)
        own_apple = creds is not None and bool(creds.apple_certificate)
        own_google = creds is not None and bool(creds.google_service_account)
        platform_cert = None if own_apple else wallet_credentials.platform_apple_certificate()
        waiting, total = passes.sync_progress(merchant=merchant)
        context = {
            "availability": passes.wallets_available(merchant=merchant),
            "creds": creds,
            "own_apple": own_apple,
            "own_google": own_google,
            "platform_cert": platform_cert,
            "platform_google": not own_google and wallet_credentials.google_account_for(merchant) is not None,
            "apple_form": apple_form or AppleCertificateForm(),
            "google_form": google_form
            or GoogleCredentialsForm(initial={"issuer_id": creds.google_issuer_id if creds else ""}),
            "sync_waiting": waiting,
            "sync_total": total,
        }
        return TemplateResponse(request, self.template_name, context, status=status)

    def get(self, request):
        return self.render(request)


class AppleCertificateUploadView(WalletSettingsView):
    def get(self, request):
        return redirect("wallet_settings")

    def post(self, request):
        form = AppleCertificateForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                creds = wallet_credentials.upload_apple_certificate(
                    merchant=self.merchant,
                    data=form.cleaned_data["certificate"],
                    key_data=form.cleaned_data["key"],
                    password=form.cleaned_data["password"],
                )
            except CertificateError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    _("Certificate saved: %(id)s, valid until %(date)s.")
                    % {"id": creds.apple_pass_type_identifier, "date": creds.apple_expires_at.date().isoformat()},
                )
                return redirect("wallet_settings")
        return self.render(request, apple_form=form, status=400)


class AppleCertificateRemoveView(WalletSettingsView):
    def get(self, request):
        return redirect("wallet_settings")

    def post(self, request):
        wallet_credentials.remove_apple_certificate(merchant=self.merchant)
        messages.success(request, _("The Apple certificate was removed."))
        return redirect("wallet_settings")


class GoogleCredentialsView(WalletSettingsView):
    def get(self, request):
        return redirect("wallet_settings")

    def post(self, request):
        form = GoogleCredentialsForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                wallet_credentials.upload_google_credentials(
                    merchant=self.merchant, issuer_id=form.cleaned_data["issuer_id"], key_data=form.cleaned_data["key"]
                )
            except wallet_credentials.GoogleKeyError as exc:
                form.add_error(exc.field, exc.message)
            else:
                messages.success(request, _("Google Wallet settings saved."))
                return redirect("wallet_settings")
        return self.render(request, google_form=form, status=400)


class GoogleCredentialsRemoveView(WalletSettingsView):
    def get(self, request):
        return redirect("wallet_settings")

    def post(self, request):
        wallet_credentials.remove_google_credentials(merchant=self.merchant)
        messages.success(request, _("The Google Wallet account was removed."))
        return redirect("wallet_settings")


class CardDetailView(MerchantStaffRequiredMixin, DetailView):
    allowed_roles = CAN_SEE_CARD_WALLETS
    model = Card
    template_name = "loyalty/card_detail.html"
    context_object_name = "card"

    def get_queryset(self):
        return Card.objects.for_merchant(self.merchant).select_related("customer", "tier")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["wallet"] = passes.wallet_status_for(card=self.object)
        context["availability"] = passes.wallets_available(merchant=self.merchant)
        return context
