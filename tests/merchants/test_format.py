from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from merchants.models import Location, Merchant


def render(source: str, **context) -> str:
    return Template("{% load merchant_format %}" + source).render(Context(context))


@pytest.fixture
def shop():
    return Merchant(name="Shop", currency="RUB", time_zone="Asia/Yekaterinburg")


def test_money_in_merchant_currency_follows_the_language(shop):
    with translation.override("ru"):
        assert render("{{ a|money:m }}", a=Decimal("1250.5"), m=shop) == "1\xa0250,50\xa0₽"
    with translation.override("en"):
        assert render("{{ a|money:m }}", a=Decimal("1250.5"), m=shop) == "RUB\xa01,250.50"
        assert render('{{ a|money:"EUR" }}', a=Decimal("3")) == "€3.00"


def test_money_without_currency_and_empty_values(shop):
    with translation.override("ru"):
        assert render("{{ a|money }}", a=Decimal("12.5")) == "12,5"
        assert render("{{ a|money:m }}", a=None, m=shop) == "—"


def test_local_time_uses_the_merchant_or_location_zone(shop):
    moment = datetime(2026, 11, 24, 9, 5, tzinfo=UTC)
    with translation.override("ru"):
        assert render("{{ t|local_time:m }}", t=moment, m=shop) == "24.11.2026 14:05"
        own = Location(merchant=shop, time_zone="Asia/Vladivostok")
        assert render("{{ t|local_time:l }}", t=moment, l=own) == "24.11.2026 19:05"
        inherits = Location(merchant=shop, time_zone="")
        assert render("{{ t|local_time:l }}", t=moment, l=inherits) == "24.11.2026 14:05"
        assert render('{{ t|local_date:"America/Los_Angeles" }}', t=moment) == "24.11.2026"
        assert render('{{ t|local_date:"Pacific/Kiritimati" }}', t=datetime(2026, 11, 24, 12, tzinfo=UTC)) == (
            "25.11.2026"
        )


def test_local_time_defaults_to_the_active_zone():
    moment = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    with translation.override("ru"), timezone.override("Europe/Moscow"):
        assert render("{{ t|local_time }}", t=moment) == "01.01.2026 03:00"
        assert render("{{ t|local_time }}", t=None) == "—"
