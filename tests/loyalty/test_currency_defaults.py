"""Defaults in the merchant's currency (issue 12): a new merchant's tier thresholds, the value of a
point and the largest usual bill mean in yen, dollars or dinars what the rouble defaults mean in
Moscow; they follow a currency changed before the first purchase; the currency cannot change after
it; and the admin shows and takes the program's money with the currency's own decimals."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from loyalty import ledger
from loyalty.enrollment.services import enroll_customer
from loyalty.models import Program, ProgramVersion, Tier, TierChange
from loyalty.program.limits import program_limits, tier_limits
from loyalty.program.services import default_program_values, default_tiers, program_for, save_program
from merchants import services
from merchants.choices import currency_codes
from merchants.models import Merchant
from tests import factories

pytestmark = pytest.mark.django_db

PROFILE_URL = "/dashboard/profile/"


def sign_up(currency: str, country: str, zone: str) -> Merchant:
    merchant, _owner = services.merchant_sign_up(
        business_name="Café", country=country, currency=currency, time_zone=zone,
        email=f"owner-{currency.lower()}@cafe.test", password="a-long-enough-pass-42",
    )  # fmt: skip
    return merchant


@pytest.mark.parametrize(
    ("currency", "country", "zone", "silver", "gold", "point", "per_unit", "max_bill"),
    [
        ("RUB", "RU", "Europe/Moscow", "10000", "30000", "1", "0.05", "100000"),
        ("USD", "US", "America/New_York", "100", "300", "0.01", "5", "1000"),
        ("EUR", "DE", "Europe/Berlin", "100", "300", "0.01", "5", "1000"),
        ("JPY", "JP", "Asia/Tokyo", "20000", "50000", "1", "0.05", "200000"),
        ("KWD", "KW", "Asia/Kuwait", "30", "100", "0.005", "10", "300"),
        ("KZT", "KZ", "Asia/Almaty", "50000", "200000", "5", "0.01", "500000"),
        ("VND", "VN", "Asia/Ho_Chi_Minh", "3000000", "10000000", "500", "0.0001", "30000000"),
    ],
)
def test_a_new_merchant_starts_with_amounts_of_its_currency(
    currency, country, zone, silver, gold, point, per_unit, max_bill
):
    merchant = sign_up(currency, country, zone)
    assert merchant.till_max_bill == Decimal(max_bill)
    program = program_for(merchant=merchant)
    thresholds = list(Tier.objects.filter(program=program).order_by("threshold").values_list("threshold", flat=True))
    assert thresholds == [Decimal(0), Decimal(silver), Decimal(gold)]
    assert (program.point_value, program.points_per_unit) == (Decimal(point), Decimal(per_unit))
    # The same 5 % under either mechanic: a point's value times the points per unit.
    assert program.point_value * program.points_per_unit == Decimal("0.05")
    rules = program.current_version.rules
    assert [Decimal(t["threshold"]) for t in rules["tiers"]][1:] == [Decimal(silver), Decimal(gold)]


@pytest.mark.parametrize("currency", sorted(currency_codes()))
def test_every_currencys_defaults_are_within_its_own_bounds(currency):
    """Whatever currency a merchant signs up in, the defaults save: every amount fits the currency's
    minor unit and the program's bounds (which grow for currencies of many units, like the dong)."""
    merchant = Merchant(name="Café", slug="cafe", country="US", currency=currency, time_zone="UTC")
    limits = program_limits(currency)
    for name, value in default_program_values(currency).items():
        assert limits[name].problem(value) is None, (name, value)
    thresholds = [spec["threshold"] for spec in default_tiers(merchant=merchant)]
    assert thresholds == sorted(thresholds) and len(set(thresholds)) == 3
    for threshold in thresholds:
        assert tier_limits(currency)["threshold"].problem(threshold) is None, threshold


def profile(merchant, **changes):
    return {
        "name": merchant.name, "slug": merchant.slug, "country": merchant.country, "currency": merchant.currency,
        "time_zone": merchant.time_zone, **changes,
    }  # fmt: skip


def test_defaults_follow_a_currency_changed_before_the_first_purchase(client, owner, merchant):
    program_for(merchant=merchant)  # made in roubles (the owner opened the program page)
    versions = ProgramVersion.objects.filter(merchant=merchant).count()
    client.force_login(owner)
    response = client.post(PROFILE_URL, profile(merchant, currency="USD", country="US"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert (merchant.currency, merchant.till_max_bill) == ("USD", Decimal("1000"))
    program = Program.objects.get(merchant=merchant)
    # 10,000 and 30,000 RUB → 100 and 300 USD; a point of 1 RUB → 0.01 USD, 5 of them per dollar.
    assert (program.point_value, program.points_per_unit) == (Decimal("0.01"), Decimal("5"))
    thresholds = sorted(Tier.objects.filter(merchant=merchant).values_list("threshold", flat=True))
    assert thresholds == [Decimal(0), Decimal(100), Decimal(300)]
    assert ProgramVersion.objects.filter(merchant=merchant).count() == versions + 1
    assert program.current_version.rules["point_value"] == "0.01"
    # The program page now reads in dollars, with cents.
    page = client.get("/dashboard/program/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="point_value" value="0.01"' in page and 'value="300.00"' in page


def test_what_the_owner_set_stays_when_the_currency_changes(client, owner, merchant):
    program_for(merchant=merchant)
    save_program(
        merchant=merchant, actor=owner, point_value=Decimal("2"),
        tiers=[
            {"id": t.pk, "name": t.name, "threshold": Decimal("12000") if t.threshold == 10000 else t.threshold,
             "earn_rate": t.earn_rate, "discount_percent": t.discount_percent}
            for t in Tier.objects.filter(merchant=merchant)
        ],
    )  # fmt: skip
    version = Program.objects.get(merchant=merchant).current_version_id
    client.force_login(owner)
    assert client.post(PROFILE_URL, profile(merchant, currency="KZT", country="KZ")).status_code == 302
    program = Program.objects.get(merchant=merchant)
    # The owner's point value and tiers stay as set (the rate per unit was a default: it moved).
    assert program.point_value == Decimal("2") and program.points_per_unit == Decimal("0.01")
    thresholds = sorted(Tier.objects.filter(merchant=merchant).values_list("threshold", flat=True))
    assert thresholds == [Decimal(0), Decimal(12000), Decimal(30000)]
    assert program.current_version_id != version


def test_an_owners_own_till_limit_stays_when_the_currency_changes(client, owner, merchant):
    merchant.till_max_bill = Decimal("5000")
    merchant.save()
    client.force_login(owner)
    assert client.post(PROFILE_URL, profile(merchant, currency="EUR")).status_code == 302
    merchant.refresh_from_db()
    assert (merchant.currency, merchant.till_max_bill) == ("EUR", Decimal("5000"))


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "The currency can&#x27;t be changed: your customers already have purchases in RUB"),
        ("ru", "Валюту изменить нельзя: у ваших клиентов уже есть покупки в RUB"),
    ],
)
def test_after_the_first_purchase_the_currency_is_refused_with_the_reason(
    client, owner, merchant, location, language, expected
):
    card = enroll_customer(merchant=merchant, phone="+79031234567", name="Анна", location=location, source="qr")
    ledger.purchase(
        merchant=merchant, card=card, location=location, bill_amount=Decimal("300"), receipt_id="R1",
        idempotency_key="p1",
    )  # fmt: skip
    version = Program.objects.get(merchant=merchant).current_version_id
    client.force_login(owner)
    response = client.post(PROFILE_URL, profile(merchant, currency="USD"), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    page = response.content.decode()
    assert expected in page
    merchant.refresh_from_db()
    assert (merchant.currency, merchant.till_max_bill) == ("RUB", Decimal("100000"))
    assert Program.objects.get(merchant=merchant).current_version_id == version


# --- the admin -------------------------------------------------------------------------------------------------


@pytest.fixture
def yen_merchant(db):
    return factories.MerchantFactory(name="Café", currency="JPY", country="JP", time_zone="Asia/Tokyo")


def test_admin_program_page_shows_and_takes_yen(admin_client, yen_merchant):
    program = program_for(merchant=yen_merchant)
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    page = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert not re.search(r'value="\d+\.000"', page), re.findall(r'value="\d+\.000"', page)
    assert 'name="point_value" value="1"' in page and 'value="20000"' in page and 'value="50000"' in page
    assert 'step="1"' in page

    form = admin_client.get(url).context["adminform"].form
    inline = admin_client.get(url).context["inline_admin_formsets"][0].formset
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    data.update({f"tiers-{k}": v for k, v in inline.management_form.initial.items()})
    for i, tier_form in enumerate(inline.forms):
        for name in ("id", "name", "threshold", "earn_rate", "discount_percent"):
            value = tier_form[name].value()
            data[f"tiers-{i}-{name}"] = "" if value is None else value
        data[f"tiers-{i}-program"] = program.pk
    half = {**data, "point_value": "1.5", "tiers-1-threshold": "20000.5"}
    response = admin_client.post(url, half, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("Amounts in JPY are whole numbers") == 2
    program.refresh_from_db()
    assert program.point_value == Decimal("1")
    assert Tier.objects.filter(merchant=yen_merchant, threshold=Decimal("20000")).exists()

    response = admin_client.post(url, {**data, "tiers-1-threshold": "25000"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert Tier.objects.filter(merchant=yen_merchant, threshold=Decimal("25000")).exists()


def test_admin_detail_pages_show_spend_and_thresholds_in_yen(admin_client, yen_merchant):
    location = factories.LocationFactory(merchant=yen_merchant)
    program_for(merchant=yen_merchant)
    card = enroll_customer(merchant=yen_merchant, phone="+81312345678", name="Aiko", location=location, source="qr")
    ledger.purchase(
        merchant=yen_merchant, card=card, location=location, bill_amount=Decimal("21000"), receipt_id="R1",
        idempotency_key="p1",
    )  # fmt: skip
    change = TierChange.objects.get(card=card)
    tier = Tier.objects.get(merchant=yen_merchant, threshold=Decimal("20000"))
    pages = {
        "card": reverse("admin:loyalty_card_change", args=[card.pk]),
        "tier change": reverse("admin:loyalty_tierchange_change", args=[change.pk]),
        "tier": reverse("admin:loyalty_tier_change", args=[tier.pk]),
    }
    for label, url in pages.items():
        response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200, label
        html = response.content.decode()
        assert not re.search(r"\d\.000\b", html), (label, re.findall(r".{30}\d\.000\b", html))
        assert ("¥21,000" if label != "tier" else "¥20,000") in html, label
