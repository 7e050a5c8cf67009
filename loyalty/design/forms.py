"""The card designer's form: colours, images, fields, barcode, lock screen."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.design.selectors import MAX_PASS_LOCATIONS, default_locations, lock_screen_locations, published_design
from loyalty.design.services import COPIED_FIELDS, normalized_image
from loyalty.models import BarcodeFormat, CardDesign
from loyalty.wallet import images

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
IMAGE_ACCEPT = "image/png,image/jpeg"


class ColourField(forms.CharField):
    """``#rrggbb``, typed or picked (the page pairs the text box with a colour picker)."""

    def __init__(self, **kwargs):
        # No max_length: a colour too long gets the colour message below, not
        # "Ensure this value has at most 7 characters (it has 9)".
        super().__init__(**kwargs)
        self.widget.attrs.update(
            {"class": "colour-text", "spellcheck": "false", "autocomplete": "off", "inputmode": "text"}
        )

    def clean(self, value):
        value = super().clean(value)
        value = (value or "").strip()
        if re.fullmatch(r"[0-9a-fA-F]{6}", value):
            value = "#" + value  # typed without the #
        if not HEX_COLOUR.match(value):
            raise forms.ValidationError(
                _("Enter a colour as # and six hex digits, for example #3B2A20."), code="invalid_colour"
            )
        return value.lower()


class DesignForm(forms.ModelForm):
    background_color = ColourField(label=gettext_lazy("Background"))
    foreground_color = ColourField(label=gettext_lazy("Text"))
    label_color = ColourField(label=gettext_lazy("Labels"))
    # FileFields rather than ImageFields: images.open_upload decides (PNG or JPEG, size, dimensions)
    # and explains its refusals better than Django's generic "upload a valid image".
    logo = forms.FileField(
        label=gettext_lazy("Logo"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
        help_text=gettext_lazy("Top left of the card. A wide PNG with a transparent background looks best."),
    )
    icon = forms.FileField(
        label=gettext_lazy("Icon"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
        help_text=gettext_lazy("Square; shown in notifications. Without one, the first letter of your name is used."),
    )
    strip = forms.FileField(
        label=gettext_lazy("Strip image"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
        help_text=gettext_lazy("The wide picture across the card, about 3:1 (1125×369 px is ideal)."),
    )
    terms = forms.CharField(
        label=gettext_lazy("Terms of the program"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    contacts = forms.CharField(
        label=gettext_lazy("Contacts"), required=False, max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )
    website = forms.URLField(
        label=gettext_lazy("Website"),
        required=False,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    locations = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Lock-screen locations"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = CardDesign
        # What a published version copies from the draft, plus the lock-screen
        # locations (a many-to-many the publish service copies separately).
        fields = [*COPIED_FIELDS, "locations"]
        widgets = {
            "barcode_format": forms.RadioSelect,
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
        }
        labels = {
            "program_name": gettext_lazy("Card title"),
            "show_balance": gettext_lazy("Balance or stamps"),
            "show_tier": gettext_lazy("Tier"),
            "show_name": gettext_lazy("Customer's name"),
            "phone": gettext_lazy("Phone"),
            "barcode_format": gettext_lazy("Barcode"),
            "relevant_text": gettext_lazy("Lock-screen text"),
            "change_message": gettext_lazy("Message when the balance changes"),
        }
        help_texts = {
            "program_name": gettext_lazy(
                "Shown beside the logo when there is no logo, and as the program name in Google Wallet "
                "(about 20 characters fit)."
            ),
            "relevant_text": gettext_lazy("Shown near the chosen locations, e.g. «Вы рядом — заходите на кофе!»"),
            "change_message": gettext_lazy(
                "Appears on the customer's lock screen when the balance changes. %@ is replaced by the new balance. "
                "Leave it empty for the standard message in the customer's language."
            ),
        }

    def __init__(self, *args, merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        self.fields["locations"].queryset = lock_screen_locations(merchant=merchant)
        self.fields["locations"].help_text = _(
            "The card appears on the lock screen near these places (at most %(n)d). "
            "Only locations with coordinates are listed."
        ) % {"n": MAX_PASS_LOCATIONS}
        self.fields["barcode_format"].choices = [
            (BarcodeFormat.QR, _("QR code — reads with any scanner or phone camera")),
            (BarcodeFormat.PDF417, _("PDF417 — for scanners that read 2D codes")),
            (BarcodeFormat.CODE128, _("Code 128 — for older line scanners")),
        ]
        self.fields["program_name"].required = False
        if not self.is_bound and self._is_first_draft():
            # The locations customers already see without a design (selectors.default_design).
            self.initial["locations"] = [loc.pk for loc in default_locations(merchant=merchant)]

    def _is_first_draft(self) -> bool:
        draft = self.instance
        return (
            draft.pk is not None
            and draft.published_at is None
            and draft.updated_at == draft.created_at  # never saved by the merchant
            and published_design(merchant=self.merchant) is None
        )

    def _clean_image(self, name: str):
        upload = self.cleaned_data.get(name)
        if not upload:
            return upload  # None: unchanged; False: "clear" was ticked
        if upload.size > images.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The image is too large (%(size)s MB); the limit is %(limit)s MB.")
                % {"size": f"{upload.size / 1048576:.1f}", "limit": f"{images.MAX_UPLOAD_BYTES / 1048576:g}"},
                code="too_large",
            )
        try:
            return normalized_image(upload.read(), kind=name)
        except images.ImageError as exc:
            raise forms.ValidationError(exc.message, code="invalid_image")

    def clean_logo(self):
        return self._clean_image("logo")

    def clean_icon(self):
        return self._clean_image("icon")

    def clean_strip(self):
        return self._clean_image("strip")

    def clean_locations(self):
        chosen = self.cleaned_data.get("locations")
        if chosen is not None and len(chosen) > MAX_PASS_LOCATIONS:
            raise forms.ValidationError(
                _("Choose at most %(n)d locations: Apple Wallet keeps the card on the lock screen near 10 places.")
                % {"n": MAX_PASS_LOCATIONS},
                code="too_many_locations",
            )
        return chosen

    def clean_change_message(self):
        message = (self.cleaned_data.get("change_message") or "").strip()
        if not message:
            return ""  # the standard message, in each customer's language
        if message.count("%@") != 1:
            raise forms.ValidationError(
                _("Put %@ once where the new balance goes, for example «Баланс: %@»."), code="no_placeholder"
            )
        return message

    def clean_program_name(self):
        return (self.cleaned_data.get("program_name") or "").strip() or self.merchant.name[:40]
