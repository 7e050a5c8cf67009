"""Pieces the loyalty admin modules share: read-only admins, a capped paginator
for huge tables, and search by a phone number typed any way."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from loyalty.money import amount_for_input, fits_currency, minor_unit, precision_message
from loyalty.phones import normalize_phone
from merchants.selectors import merchant_countries
from merchants.templatetags.merchant_format import money


class CappedCountPaginator(Paginator):
    """Counting a huge table is slow: count at most CAP rows (the page links
    then say "10 000+" in effect), the way healthchecks pages its ping log."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return len(self.object_list.values("pk")[: self.CAP + 1])


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class MoneyFieldsMixin:
    """On the (read-only) detail page, show money columns through their ``money_column``s:
    ``money_fields = {"bill_amount": "bill_amount_money"}``. Django would print the column's
    three decimals ("1250.000") whatever the currency."""

    money_fields: dict[str, str] = {}

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)  # type: ignore[misc]
        return [self.money_fields.get(name, name) for name in fields]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *self.money_fields.values()]  # type: ignore[misc]


class CurrencyInputsForm(forms.ModelForm):
    """An admin form whose money inputs follow the merchant's currency: "10000" yen or
    "10000.00" roubles rather than the column's "10000.000", a step of one minor unit, and
    an amount with more decimals than the currency has refused in the currency's words.
    Subclasses name the inputs in ``money_inputs``; ``currency()`` says whose currency."""

    money_inputs: tuple[str, ...] = ()

    def currency(self) -> str | None:
        merchant_id = getattr(self.instance, "merchant_id", None)
        return self.instance.merchant.currency if merchant_id else None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        currency = self.currency()
        if currency is None:
            return
        step = str(Decimal(1).scaleb(-minor_unit(currency)))
        for name in self.money_inputs:
            if name not in self.fields:
                continue
            self.fields[name].widget.attrs["step"] = step
            value = self.initial.get(name)
            if value is not None:
                self.initial[name] = amount_for_input(value, currency)

    def clean(self):
        cleaned = super().clean()
        currency = self.currency()
        if currency is not None:
            for name in self.money_inputs:
                value = cleaned.get(name)
                if value is not None and not fits_currency(value, currency):
                    self.add_error(name, precision_message(currency))
        return cleaned


class PhoneSearchMixin:
    """Search also by a phone number typed in any common spelling."""

    phone_lookup = "phone"

    def phone_regions(self) -> list[str]:
        """Countries a number typed without its country code is read in: every merchant's country."""
        return merchant_countries()

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            numbers = {normalize_phone(term, region=region) for region in self.phone_regions()} - {None}
            if numbers:
                results |= queryset.filter(**{f"{self.phone_lookup}__in": sorted(numbers)})
        return results, may_have_duplicates


def money_column(field: str, currency_of, *, label, ordering: str | None = None):
    """A list column (a ModelAdmin attribute) showing ``field`` in its currency ("¥1,250", "1 250,50 ₽", "KWD 1.250"):
    the columns keep three decimals, which the admin would otherwise print as they are."""

    @admin.display(description=label, ordering=ordering or field)
    def column(model_admin, obj) -> str:
        return money(getattr(obj, field), currency_of(obj))

    column.__name__ = f"{field}_money"
    return column
