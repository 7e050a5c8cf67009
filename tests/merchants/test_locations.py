from decimal import Decimal

import pytest
from django.urls import reverse

from merchants import services
from merchants.models import Location
from tests.merchants.helpers import login, snapshot

GOOD = {
    "name": "Покровка",
    "address": "ул. Покровка, 17, Москва",
    "latitude": "55,759812",
    "longitude": "37.6432",
    "time_zone": "",
}


@pytest.fixture
def owner_client(client, owner):
    login(client, owner)
    return client


def test_owner_adds_a_location(owner_client, merchant):
    response = owner_client.post(reverse("location_create"), GOOD)

    assert response.status_code == 302 and response["Location"] == reverse("location_list")
    location = Location.objects.get()
    assert location.merchant == merchant
    assert (location.name, location.address) == ("Покровка", "ул. Покровка, 17, Москва")
    assert (location.latitude, location.longitude) == (Decimal("55.759812"), Decimal("37.643200"))
    assert location.time_zone == "" and location.effective_time_zone == "Europe/Moscow"
    assert location.is_active
    assert "Покровка" in owner_client.get(reverse("location_list")).content.decode()


def test_location_without_coordinates_and_with_its_own_time_zone(owner_client):
    owner_client.post(reverse("location_create"), {**GOOD, "latitude": "", "longitude": "", "time_zone": "Asia/Omsk"})
    location = Location.objects.get()
    assert location.latitude is None and location.longitude is None
    assert location.effective_time_zone == "Asia/Omsk"


def test_extra_decimal_places_are_rounded_not_refused(owner_client):
    owner_client.post(reverse("location_create"), {**GOOD, "latitude": "55.75981249", "longitude": "37.1234565"})
    location = Location.objects.get()
    assert (location.latitude, location.longitude) == (Decimal("55.759812"), Decimal("37.123457"))


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"latitude": "91"}, "latitude", "меньше либо равно 90"),
        ({"latitude": "-90.5"}, "latitude", "больше либо равно -90"),
        ({"longitude": "180.01"}, "longitude", "меньше либо равно 180"),
        ({"longitude": "east"}, "longitude", "Введите число"),
        ({"longitude": ""}, "longitude", "Укажите и широту, и долготу"),
        ({"latitude": ""}, "latitude", "Укажите и широту, и долготу"),
        ({"time_zone": "Moon/Tranquility"}, "time_zone", "Неизвестный часовой пояс"),
        ({"name": ""}, "name", "Обязательное поле"),
    ],
)
def test_bad_location_input_shows_message_and_saves_nothing(owner_client, changes, field, message):
    before = snapshot()
    response = owner_client.post(reverse("location_create"), {**GOOD, **changes})
    assert response.status_code == 200
    errors = [str(e) for e in response.context["form"].errors[field]]
    assert any(message in e for e in errors), errors
    assert snapshot() == before


def test_owner_edits_a_location(owner_client, location):
    response = owner_client.post(
        reverse("location_edit", args=[location.pk]), {**GOOD, "name": "Тверская, 2", "time_zone": "Europe/Samara"}
    )
    assert response.status_code == 302
    location.refresh_from_db()
    assert location.name == "Тверская, 2" and location.time_zone == "Europe/Samara"


def test_bad_edit_changes_nothing(owner_client, location):
    before = snapshot()
    response = owner_client.post(reverse("location_edit", args=[location.pk]), {**GOOD, "latitude": "100"})
    assert response.status_code == 200
    assert snapshot() == before


def test_deactivate_and_activate(owner_client, merchant, location, owner):
    issued = services.api_key_create(merchant=merchant, location=location, name="Till", actor=owner)
    assert services.api_key_for_secret(issued.secret) is not None

    assert owner_client.get(reverse("location_deactivate", args=[location.pk])).status_code == 405
    owner_client.post(reverse("location_deactivate", args=[location.pk]))
    location.refresh_from_db()
    assert not location.is_active
    # A closed location's tills stop working, without losing their keys.
    assert services.api_key_for_secret(issued.secret) is None

    owner_client.post(reverse("location_activate", args=[location.pk]))
    location.refresh_from_db()
    assert location.is_active
    assert services.api_key_for_secret(issued.secret) is not None


def test_edit_form_offers_the_merchants_zone_as_default(owner_client, location):
    html = owner_client.get(reverse("location_edit", args=[location.pk])).content.decode()
    assert "Как у бизнеса (Europe/Moscow)" in html
