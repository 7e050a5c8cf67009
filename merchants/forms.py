"""Forms for the merchant dashboard and the public onboarding pages. Forms
validate; the services in ``merchants.services`` write."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import slugs, two_factor
from .choices import (
    country_choices,
    country_codes,
    currency_choices,
    currency_codes,
    time_zone_choices,
    time_zone_names,
)
from .exceptions import MerchantError
from .models import Invitation, Location, Merchant, Role, User

ROLE_DESCRIPTIONS = {
    Role.OWNER: _("Owner — everything, including staff, locations and API keys"),
    Role.MARKETER: _("Marketer — loyalty program, campaigns and analytics"),
    Role.CASHIER: _("Cashier — the till only"),
}


def apply_service_error(form: forms.Form, exc: MerchantError | ValidationError, field_map: dict | None = None) -> None:
    """Show an error raised by a service next to the field it concerns."""
    field_map = field_map if field_map is not None else getattr(form, "service_field_map", {})
    if isinstance(exc, MerchantError):
        field = field_map.get(exc.field, exc.field)
        form.add_error(field if field in form.fields else None, exc.message)
        return
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            field = field_map.get(name, name)
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class TimeZoneField(forms.ChoiceField):
    """A select of IANA time zones. Any name zoneinfo knows is accepted (also the
    aliases the list leaves out); anything else is a clear error."""

    default_error_messages = {
        "invalid_choice": _("Unknown time zone: %(value)s. Choose one from the list."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("choices", time_zone_choices)
        super().__init__(**kwargs)

    def valid_value(self, value: str) -> bool:
        return value in time_zone_names()


class CodeChoiceField(forms.ChoiceField):
    """A select of ISO codes whose names follow the active language."""

    def __init__(self, *, codes, **kwargs):
        self._codes = codes
        super().__init__(**kwargs)

    def to_python(self, value):
        return super().to_python(value).strip().upper()

    def valid_value(self, value: str) -> bool:
        return value in self._codes()


class CoordinateField(forms.DecimalField):
    """Latitude or longitude in degrees. Accepts a decimal comma (as Russian
    keyboards type it) and keeps six decimal places (about 10 cm)."""

    PLACES = Decimal("0.000001")

    def __init__(self, *, limit: int, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", -limit)
        kwargs.setdefault("max_value", limit)
        super().__init__(**kwargs)
        self.widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().replace(",", ".").replace("°", "")
        number = super().to_python(value)
        if number is None:
            return None
        return number.quantize(self.PLACES, rounding=ROUND_HALF_UP)


def password_help_text() -> str:
    """One short line instead of Django's four sentences, with the configured minimum."""
    min_length = next(
        (
            getattr(validator, "min_length", None)
            for validator in password_validation.get_default_password_validators()
            if isinstance(validator, password_validation.MinimumLengthValidator)
        ),
        8,
    )
    return _("At least %(count)d characters; not a common password, not only digits, not like your name or e-mail.") % {
        "count": min_length
    }


class PasswordPairMixin:
    """``password1`` + ``password2``: weak passwords are refused by Django's
    validators with their own message, next to the first field."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password1"].help_text = password_help_text()

    def _password_user(self) -> User:
        return User(email=self.cleaned_data.get("email", ""), full_name=self.cleaned_data.get("full_name", ""))

    def clean(self):
        cleaned = super().clean()
        password1 = cleaned.get("password1")
        password2 = cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords don't match."))
        elif password1:
            try:
                password_validation.validate_password(password1, self._password_user())
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


def _password_field(label):
    return forms.CharField(label=label, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


class SignUpForm(PasswordPairMixin, forms.Form):
    business_name = forms.CharField(
        label=_("Business name"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "organization"})
    )
    country = CodeChoiceField(label=_("Country"), codes=country_codes, choices=country_choices, initial="RU")
    currency = CodeChoiceField(label=_("Currency"), codes=currency_codes, choices=currency_choices, initial="RUB")
    time_zone = TimeZoneField(label=_("Time zone"), initial="Europe/Moscow")
    full_name = forms.CharField(
        label=_("Your name"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label=_("E-mail"),
        help_text=_("You will log in with it."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password1 = _password_field(_("Password"))
    password2 = _password_field(_("Password again"))

    def clean_business_name(self) -> str:
        return self.cleaned_data["business_name"].strip()

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(
                _("An account with this e-mail already exists. Log in, or reset the password."), code="duplicate"
            )
        return email

    # Keys of the service's validation errors mapped to this form's fields.
    service_field_map = {"name": "business_name"}


class BusinessProfileForm(forms.Form):
    """The owner's business profile: name, public address, country, currency, time zone."""

    name = forms.CharField(
        label=_("Business name"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "organization"})
    )
    slug = forms.CharField(
        label=_("Public address"),
        max_length=slugs.MAX_LENGTH + 20,
        help_text=_(
            "Latin lowercase letters, digits and hyphens. Your QR codes and join links use it; "
            "links with the old address keep working."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}),
    )
    country = CodeChoiceField(label=_("Country"), codes=country_codes, choices=country_choices)
    currency = CodeChoiceField(label=_("Currency"), codes=currency_codes, choices=currency_choices)
    time_zone = TimeZoneField(
        label=_("Time zone"), help_text=_("Days, birthdays and expiry dates of points follow this time zone.")
    )

    def __init__(self, *args, merchant: Merchant, currency_locked: bool = False, **kwargs):
        kwargs["initial"] = kwargs.get("initial") or (
            {
                "name": merchant.name,
                "slug": merchant.slug,
                "country": merchant.country,
                "currency": merchant.currency,
                "time_zone": merchant.time_zone,
            }
        )
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        if currency_locked:
            self.fields["currency"].help_text = _("Fixed: your customers already have purchases in this currency.")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError(_("Enter the business name."), code="required")
        return name

    def clean_slug(self) -> str:
        return slugs.validate(self.cleaned_data["slug"], merchant=self.merchant)


class SafeguardsForm(forms.Form):
    """The owner's safeguards (issue 13): how long an inactive customer's personal data is kept,
    and the size of a balance correction that needs a second person's approval. Empty: off."""

    MAX_RETENTION_YEARS = 100
    MAX_APPROVAL_THRESHOLD = 10_000_000

    customer_retention_years = forms.IntegerField(
        label=_("Anonymise customers inactive for (years)"),
        required=False,
        help_text=_(
            "A customer with no purchase or other activity for this long loses their name, phone, e-mail and "
            "birthday; their points history stays. You get a report by e-mail. Empty: keep until deleted on request."
        ),
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 1, "max": MAX_RETENTION_YEARS}),
    )
    adjustment_approval_threshold = forms.IntegerField(
        label=_("Corrections above this many points need a second person"),
        required=False,
        help_text=_(
            "A balance correction by support of more points than this waits until another person approves it. "
            "Empty: no second approval."
        ),
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 1, "max": MAX_APPROVAL_THRESHOLD}),
    )

    def __init__(self, *args, merchant: Merchant, **kwargs):
        kwargs["initial"] = kwargs.get("initial") or {
            "customer_retention_years": merchant.customer_retention_years,
            "adjustment_approval_threshold": merchant.adjustment_approval_threshold,
        }
        super().__init__(*args, **kwargs)
        self.fields["customer_retention_years"].error_messages["invalid"] = _(
            "Enter a whole number of years, or leave the field empty."
        )
        self.fields["adjustment_approval_threshold"].error_messages["invalid"] = _(
            "Enter a whole number of points, or leave the field empty."
        )

    def clean_customer_retention_years(self) -> int | None:
        years = self.cleaned_data["customer_retention_years"]
        if years is not None and not 1 <= years <= self.MAX_RETENTION_YEARS:
            raise ValidationError(
                _("Enter from 1 to %(max)s years, or leave the field empty to keep data until deleted on request."),
                params={"max": self.MAX_RETENTION_YEARS},
                code="out_of_range",
            )
        return years

    def clean_adjustment_approval_threshold(self) -> int | None:
        points = self.cleaned_data["adjustment_approval_threshold"]
        if points is not None and not 1 <= points <= self.MAX_APPROVAL_THRESHOLD:
            raise ValidationError(
                _("Enter from 1 to %(max)s points, or leave the field empty to need no second approval."),
                params={"max": f"{self.MAX_APPROVAL_THRESHOLD:,}".replace(",", "\u00a0")},
                code="out_of_range",
            )
        return points


class SecondFactorMixin(forms.Form):
    """The second step of a log-in with two-factor authentication on: after the password,
    the code from the authenticator app or a recovery code. Users without 2FA skip it.
    The device that accepted the code rides on ``user.otp_device``; django-otp marks the
    session verified when the user is logged in."""

    otp_token = forms.CharField(
        label=_("Code from the authenticator app"),
        required=False,
        help_text=_("Only if two-factor authentication is on. A recovery code works too."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "maxlength": 16}),
    )

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()  # type: ignore[attr-defined]
        if user is not None and two_factor.has_any_device(user):
            token = self.cleaned_data.get("otp_token")
            if not two_factor.normalise(token):
                raise ValidationError(
                    _("Two-factor authentication is on: enter the code from your authenticator app."),
                    code="otp_required",
                )
            # django-otp's throttling: after wrong codes the next is not checked until the wait ends,
            # even if it is the right one. Say so, and for how long, rather than "wrong code".
            if (until := two_factor.locked_until(user)) is None:
                device = two_factor.verify(user, token)
                if device is not None:
                    user.otp_device = device
                    return cleaned
                until = two_factor.locked_until(user)
                if until is None or two_factor.failures(user) < two_factor.SAY_LOCKED_AFTER:
                    raise ValidationError(_("The code is wrong or has expired. Try the next one."), code="otp_invalid")
            raise ValidationError(
                _(
                    "Too many wrong codes in a row. For safety the next code will be checked in %(wait)s; "
                    "until then even the right one is refused."
                ),
                params={"wait": two_factor.wait_text(until)},
                code="otp_locked",
            )
        return cleaned


class EmailAuthenticationForm(SecondFactorMixin, AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class AdminOTPAuthenticationForm(SecondFactorMixin, AdminAuthenticationForm):
    """Admin's log-in: the password, then the code for staff who have set up 2FA (staff
    who have not are sent to set it up before any admin page opens)."""


class TwoFactorConfirmForm(forms.Form):
    token = forms.CharField(
        label=_("Code from the app"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class LocationForm(forms.ModelForm):
    latitude = CoordinateField(label=_("Latitude"), limit=90, help_text=_("From −90 to 90, e.g. 55.7558"))
    longitude = CoordinateField(label=_("Longitude"), limit=180, help_text=_("From −180 to 180, e.g. 37.6173"))
    time_zone = TimeZoneField(label=_("Time zone"), required=False)

    class Meta:
        model = Location
        fields = ["name", "address", "latitude", "longitude", "time_zone"]

    def __init__(self, *args, merchant: Merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.merchant = merchant
        same = _("Same as the business (%(tz)s)") % {"tz": merchant.time_zone}
        self.fields["time_zone"].choices = [("", same), *time_zone_choices()]
        self.fields["time_zone"].help_text = _("Only if this location is in another time zone.")
        self.fields["address"].widget.attrs["autocomplete"] = "street-address"

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean(self):
        cleaned = super().clean()
        latitude, longitude = cleaned.get("latitude"), cleaned.get("longitude")
        # Only judge the pair when both fields parsed; otherwise their own errors show.
        if "latitude" in cleaned and "longitude" in cleaned and (latitude is None) != (longitude is None):
            missing = "longitude" if longitude is None else "latitude"
            self.add_error(missing, _("Enter both latitude and longitude, or leave both empty."))
        return cleaned


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(
        label=_("Role"),
        choices=[(role, ROLE_DESCRIPTIONS[role]) for role in (Role.CASHIER, Role.MARKETER, Role.OWNER)],
        initial=Role.CASHIER,
        widget=forms.RadioSelect,
    )
    # The owner's answer when the address already has an open invitation
    # (the page asks; the buttons carry the answer).
    on_pending = forms.ChoiceField(
        choices=[("resend", "resend"), ("replace", "replace")], required=False, widget=forms.HiddenInput
    )

    def clean_email(self) -> str:
        # Whether the address has a login (elsewhere) is never said to the inviter; the
        # service refuses only someone already in this merchant's team.
        return self.cleaned_data["email"].strip().lower()


class InvitationAcceptForm(PasswordPairMixin, forms.Form):
    full_name = forms.CharField(
        label=_("Your name"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password1 = _password_field(_("Password"))
    password2 = _password_field(_("Password again"))

    def __init__(self, *args, invitation: Invitation, **kwargs):
        super().__init__(*args, **kwargs)
        self.invitation = invitation

    def _password_user(self) -> User:
        return User(email=self.invitation.email, full_name=self.cleaned_data.get("full_name", ""))


class InvitationLoginForm(forms.Form):
    """An invited address that already has a login joins with its password."""

    password = forms.CharField(
        label=_("Your password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args, invitation: Invitation, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.invitation = invitation
        self.request = request
        self.user: User | None = None

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            # Through the authentication backends (and their signals), as the login page does.
            self.user = authenticate(self.request, username=self.invitation.email, password=password)
            if self.user is None:
                raise ValidationError(_("Wrong password. Try again, or reset it from the login page."))
        return cleaned


class ApiKeyForm(forms.Form):
    location = forms.ModelChoiceField(
        label=_("Location"), queryset=Location.objects.none(), empty_label=None, to_field_name="pk"
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("Something that tells the tills apart, e.g. “Till 1” or “iiko at the bar”."),
    )

    def __init__(self, *args, merchant: Merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = Location.objects.for_merchant(merchant).filter(is_active=True)
        self.fields["location"].error_messages["invalid_choice"] = _("Choose one of your active locations.")

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()


class StaffRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
