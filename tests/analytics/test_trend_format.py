"""The trend arrows read in the page's language: a fall and a rise use the same decimal mark."""

from decimal import Decimal

from django.template.loader import render_to_string
from django.utils import translation


def test_a_fall_and_a_rise_use_the_languages_decimal_mark():
    with translation.override("ru"):
        down = render_to_string("analytics/_trend.html", {"trend": Decimal("-13.8")})
        up = render_to_string("analytics/_trend.html", {"trend": Decimal("8.1")})
    assert "▼&nbsp;13,8%" in down and "13.8" not in down
    assert "▲&nbsp;8,1%" in up
    with translation.override("en"):
        down = render_to_string("analytics/_trend.html", {"trend": Decimal("-13.8")})
    assert "▼&nbsp;13.8%" in down
