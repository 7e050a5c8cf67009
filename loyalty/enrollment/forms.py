"""Forms of the public enrolment page and of the merchant's consent wording."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.enrollment.selectors import ConsentWording
from loyalty.models import Customer
from loyalty.phones import normalize_phone


class EnrolForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Your name"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "given-name", "autocapitalize": "words"}),
    )
    phone = forms.CharField(
        label=gettext_lazy("Phone number"),
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    birthday = forms.DateField(
        label=gettext_lazy("Birthday"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        error_messages={"invalid": gettext_lazy("Enter the date as day, month and year, for example 24.11.1990.")},
    )
    email = forms.EmailField(
        label=gettext_lazy("E-mail"),
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
        error_messages={"invalid": gettext_lazy("Enter an e-mail address like anna@example.com.")},
    )
    personal_data_consent = forms.BooleanField(
        required=True,
        error_messages={"required": gettext_lazy("Without this consent we cannot issue a card.")},
    )
    marketing_consent = forms.BooleanField(required=False)
    ref = forms.CharField(required=False, max_length=16, widget=forms.HiddenInput)

    def __init__(self, *args, merchant, consent: ConsentWording, **kwargs):
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        self.consent = consent
        self.fields["personal_data_consent"].label = consent.personal_data_text
        self.fields["marketing_consent"].label = consent.marketing_text
        self.fields["phone"].widget.attrs["placeholder"] = "+7 900 000-00-00" if merchant.country == "RU" else ""
        self.fields["name"].error_messages["required"] = _("Tell us your name: it goes on the card.")
        self.fields["phone"].error_messages["required"] = _(
            "Enter your phone number: the cashier finds your card by it."
        )

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError(_("Tell us your name: it goes on the card."), code="required")
        return name

    def clean_phone(self):
        phone = self.cleaned_data["phone"]
        if normalize_phone(phone, region=self.merchant.country) is None:
            raise forms.ValidationError(
                _("This doesn't look like a phone number. Enter it with the area code, for example +7 916 123-45-67."),
                code="invalid_phone",
            )
        return phone

    def clean_birthday(self):
        birthday = self.cleaned_data.get("birthday")
        if birthday is None:
            return None
        today = timezone.localtime(timezone.now(), self.merchant.tzinfo).date()
        if birthday > today:
            raise forms.ValidationError(_("A birthday can't be in the future."), code="invalid_birthday")
        if birthday.year < 1900:
            raise forms.ValidationError(_("Check the year of your birthday."), code="invalid_birthday")
        return birthday

    def clean_ref(self):
        code = (self.cleaned_data.get("ref") or "").strip().upper()
        if code and not Customer.objects.for_merchant(self.merchant).filter(referral_code=code).exists():
            raise forms.ValidationError(_("This invitation link is not valid."), code="referral_code_not_found")
        return code


class ConsentTextForm(forms.Form):
    personal_data_text = forms.CharField(
        label=gettext_lazy("Consent to the processing of personal data (required to join)"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    marketing_text = forms.CharField(
        label=gettext_lazy("Consent to receive offers (optional for the customer)"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    policy_url = forms.URLField(
        label=gettext_lazy("Privacy policy link"),
        required=False,
        assume_scheme="https",
        help_text=gettext_lazy("Shown under the consent checkboxes."),
    )
