"""The business profile: name, public address (slug), country, currency and time zone
after sign-up; readable slugs from any script; old join links redirect for good."""

from decimal import Decimal

import pytest
from django.urls import reverse

from loyalty import ledger
from loyalty.enrollment.services import enroll_customer
from merchants.models import Merchant, MerchantSlugAlias
from tests.factories import MerchantFactory
from tests.merchants.test_signup import GOOD

pytestmark = pytest.mark.django_db

URL = "/dashboard/profile/"


def profile(merchant, **changes):
    data = {
        "name": merchant.name,
        "slug": merchant.slug,
        "country": merchant.country,
        "currency": merchant.currency,
        "time_zone": merchant.time_zone,
    }
    return {**data, **changes}


@pytest.fixture
def en(client):
    """The client reading English (the site's default is Russian)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def errors(response, field):
    return [str(e) for e in response.context["form"].errors.get(field, [])]


def test_cyrillic_business_name_gets_a_readable_unique_slug(client):
    client.post(reverse("signup"), {**GOOD, "business_name": "Кофейня Ромашка"})
    assert Merchant.objects.get().slug == "kofeinia-romashka"
    client.post(reverse("logout"))
    other = Merchant.objects.create(name="x", slug="kofeinia-utro", country="RU", currency="RUB", time_zone="UTC")
    MerchantSlugAlias.objects.create(merchant=other, slug="kofeinia-romashka-2")
    client.post(reverse("signup"), {**GOOD, "business_name": "Кофейня Ромашка", "email": "second@utro.test"})
    # Taken by the first, and -2 is an old address of another merchant: the next free one.
    assert Merchant.objects.filter(name="Кофейня Ромашка").order_by("pk").last().slug == "kofeinia-romashka-3"


def test_sign_up_offers_every_supported_country_and_currency(client):
    page = client.get(reverse("signup"))
    form = page.context["form"]
    countries = dict(form.fields["country"].choices)
    currencies = dict(form.fields["currency"].choices)
    assert {"RU", "KZ", "DE", "US", "AM"} <= set(countries)
    assert {"RUB", "KZT", "EUR", "USD", "AMD"} <= set(currencies)
    assert page.context["country_time_zones"]["RU"] == "Europe/Moscow"
    assert page.context["country_time_zones"]["KZ"] == "Asia/Almaty"
    assert page.context["country_currencies"]["DE"] == "EUR"
    response = client.post(
        reverse("signup"),
        {**GOOD, "business_name": "Café Berlin", "country": "DE", "currency": "EUR", "time_zone": "Europe/Berlin"},
    )
    assert response.status_code == 302
    merchant = Merchant.objects.get()
    assert (merchant.slug, merchant.country, merchant.currency, merchant.time_zone) == (
        "cafe-berlin", "DE", "EUR", "Europe/Berlin",
    )  # fmt: skip


def test_owner_changes_the_profile_and_old_join_links_redirect(client, owner, merchant, location):
    client.force_login(owner)
    old = merchant.slug
    page = client.get(URL)
    assert page.status_code == 200
    assert page.context["form"]["slug"].value() == old
    response = client.post(
        URL, profile(merchant, name="Кофейня Ромашка", slug="romashka-tverskaya", time_zone="Asia/Yekaterinburg")
    )
    assert response.status_code == 302 and response["Location"] == URL
    merchant.refresh_from_db()
    assert (merchant.name, merchant.slug, merchant.time_zone) == (
        "Кофейня Ромашка", "romashka-tverskaya", "Asia/Yekaterinburg",
    )  # fmt: skip
    assert f"/join/{old}/" in client.get(URL).content.decode()

    client.logout()
    moved = client.get(f"/join/{old}/?ref=ABC123")
    assert moved.status_code == 301
    assert moved["Location"] == "/join/romashka-tverskaya/?ref=ABC123"
    moved = client.get(f"/join/{old}/{location.pk}/")
    assert moved.status_code == 301 and moved["Location"] == f"/join/romashka-tverskaya/{location.pk}/"
    assert client.get("/join/romashka-tverskaya/").status_code == 200

    # Changed again, both old addresses lead to the newest; taking back an old one drops its alias.
    client.force_login(owner)
    client.post(URL, profile(merchant, slug="romashka"))
    client.logout()
    assert client.get(f"/join/{old}/")["Location"] == "/join/romashka/"
    assert client.get("/join/romashka-tverskaya/")["Location"] == "/join/romashka/"
    client.force_login(owner)
    client.post(URL, profile(merchant, slug=old))
    merchant.refresh_from_db()
    assert merchant.slug == old
    assert client.get(f"/join/{old}/").status_code == 200
    assert set(MerchantSlugAlias.objects.for_merchant(merchant).values_list("slug", flat=True)) == {
        "romashka-tverskaya", "romashka",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("ab", "3 to 48 characters"),
        ("x" * 49, "3 to 48 characters"),
        ("Кофейня", "Latin lowercase letters"),
        ("my_cafe", "Latin lowercase letters"),
        ("-cafe", "Latin lowercase letters"),
        ("cafe--one", "Latin lowercase letters"),
        ("admin", "is reserved"),
        ("taken-one", "is taken by another business"),
        ("gone-one", "is taken by another business"),
    ],
)
def test_bad_slugs_are_refused_with_a_clear_error(en, client, owner, merchant, slug, message):
    other = MerchantFactory(slug="taken-one")
    MerchantSlugAlias.objects.create(merchant=other, slug="gone-one")
    client.force_login(owner)
    response = client.post(URL, profile(merchant, slug=slug))
    assert response.status_code == 200
    assert any(message in error for error in errors(response, "slug")), errors(response, "slug")
    merchant.refresh_from_db()
    assert merchant.slug != slug


def test_profile_errors_speak_russian(client, owner, merchant):
    client.force_login(owner)
    response = client.post(URL, profile(merchant, slug="Кофейня", name="  "), HTTP_ACCEPT_LANGUAGE="ru")
    assert "Латинские строчные буквы" in " ".join(errors(response, "slug"))
    assert errors(response, "name")
    assert 'lang="ru"' in response.content.decode()


def test_currency_changes_only_before_the_first_purchase(en, client, owner, merchant, location):
    client.force_login(owner)
    assert client.post(URL, profile(merchant, currency="KZT")).status_code == 302
    merchant.refresh_from_db()
    assert merchant.currency == "KZT"

    card = enroll_customer(merchant=merchant, phone="+79031234567", name="Анна", location=location, source="qr")
    ledger.purchase(
        merchant=merchant,
        card=card,
        location=location,
        bill_amount=Decimal("300"),
        receipt_id="R1",
        idempotency_key="p1",
    )
    page = client.get(URL)
    assert "already have purchases" in page.context["form"].fields["currency"].help_text
    response = client.post(URL, profile(merchant, currency="RUB", name="Новое имя"))
    assert response.status_code == 200
    assert any("can't be changed" in e and "KZT" in e for e in errors(response, "currency"))
    merchant.refresh_from_db()
    assert (merchant.currency, merchant.name) == ("KZT", merchant.name)
    assert merchant.name != "Новое имя"
    # Everything else still changes.
    assert client.post(URL, profile(merchant, name="Новое имя")).status_code == 302


def test_only_the_owner_opens_the_profile(client, marketer, cashier, owner):
    for user in (marketer, cashier):
        client.force_login(user)
        assert client.get(URL).status_code in (403, 302)
    client.force_login(owner)
    hub = client.get(reverse("merchant_settings")).content.decode()
    assert URL in hub
