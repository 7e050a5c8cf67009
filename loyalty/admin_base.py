"""Pieces the loyalty admin modules share: read-only admins, a capped paginator
for huge tables, and search by a phone number typed any way."""

from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

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
