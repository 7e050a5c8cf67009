"""The home panel's trend arrow: the size of a change, shown with the page's own number format
(a falling "13,8 %" in Russian, like a rising one), the sign being the arrow."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def magnitude(value: Decimal | None) -> Decimal | None:
    return None if value is None else abs(value)
