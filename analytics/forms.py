"""Forms of the ROI calculator and the customer import."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from analytics.imports import FIELDS, MAX_FILE_BYTES


class RoiForm(forms.Form):
    average_check = forms.DecimalField(
        label=_("Average bill"), min_value=Decimal("0.01"), max_digits=12, decimal_places=2
    )
    margin_percent = forms.DecimalField(
        label=_("Margin, %"), min_value=Decimal("0.1"), max_value=Decimal(100), max_digits=5, decimal_places=2
    )
    customers_per_month = forms.IntegerField(label=_("Customers a month"), min_value=0, max_value=10_000_000)
    return_rate_percent = forms.DecimalField(
        label=_("Current return rate, %"), min_value=0, max_value=Decimal(100), max_digits=5, decimal_places=2
    )
    subscription_price = forms.DecimalField(
        label=_("Subscription, a month"), min_value=0, max_digits=12, decimal_places=2
    )
    uplift_points = forms.DecimalField(
        label=_("Expected rise of the return rate, percentage points"),
        min_value=0,
        max_value=Decimal(100),
        max_digits=5,
        decimal_places=2,
    )


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File (.csv or .xlsx)"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(_("The file is larger than 20 MB; split it into parts."))
        return upload


class MappingForm(forms.Form):
    with_balances = forms.BooleanField(
        label=_("Import balances as opening points (one ledger entry per customer)"), required=False
    )

    def __init__(self, *args, headers: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", _("— not in the file —"))] + [(str(i), h or f"#{i + 1}") for i, h in enumerate(headers)]
        for field in FIELDS:
            self.fields[field.name] = forms.ChoiceField(label=field.label, choices=choices, required=field.required)

    def mapping(self) -> dict[str, int]:
        return {
            f.name: int(self.cleaned_data[f.name]) for f in FIELDS if self.cleaned_data.get(f.name) not in (None, "")
        }
