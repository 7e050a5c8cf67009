import json
import logging
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from merchants import secretbox, services
from merchants.models import ApiKey
from tests import factories
from tests.merchants.helpers import login, snapshot


@pytest.fixture
def owner_client(client, owner):
    login(client, owner)
    return client


def secret_on_page(html: str) -> str | None:
    match = re.search(r'value="(lk_[^"]+)"', html)
    return match.group(1) if match else None


def database_contains(text: str) -> list[str]:
    """Every table whose rows, as text, contain ``text``: the whole database is searched."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT count(*) FROM "{table}" AS t WHERE t::text LIKE %s', [f"%{text}%"])
            if cursor.fetchone()[0]:
                found.append(table)
    return found


def test_key_is_shown_once_and_never_stored_in_clear(owner_client, location, caplog):
    caplog.set_level(logging.DEBUG)

    response = owner_client.post(reverse("api_key_create"), {"location": location.pk, "name": "Касса 1"})

    assert response.status_code == 302 and response["Location"] == reverse("api_key_list")
    api_key = ApiKey.objects.get()
    assert (api_key.name, api_key.location, api_key.merchant) == ("Касса 1", location, location.merchant)
    # Until the next page shows it, the secret waits in the session, encrypted:
    # even now the database (the session table included) has no copy in clear.
    stashed = owner_client.session["merchants.issued_api_key"]
    pending = json.loads(secretbox.decrypt(stashed.encode()))["secret"]
    assert database_contains(pending) == []

    page = owner_client.get(reverse("api_key_list"))

    secret = secret_on_page(page.content.decode())
    assert secret == pending
    assert secret.startswith(f"lk_{api_key.prefix}_")
    assert "no-store" in page["Cache-Control"]
    assert services.api_key_for_secret(secret) == api_key
    # Shown once: the next visit has only the prefix.
    again = owner_client.get(reverse("api_key_list")).content.decode()
    assert secret not in again and secret_on_page(again) is None
    assert f"lk_{api_key.prefix}_" in again
    assert "merchants.issued_api_key" not in owner_client.session
    # Stored hashed: neither the key nor its random part is anywhere in the database or the logs.
    assert database_contains(secret) == []
    assert database_contains(secret.split("_", 2)[2]) == []
    assert api_key.key_hash != secret and len(api_key.key_hash) == 64
    assert secret not in caplog.text


def test_list_shows_prefix_location_dates_and_status(owner_client, merchant, location, owner):
    issued = services.api_key_create(merchant=merchant, location=location, name="Бар", actor=owner)
    services.api_key_touch(api_key=issued.api_key, now=timezone.now())
    services.api_key_revoke(
        api_key=services.api_key_create(merchant=merchant, location=location, name="Старая", actor=owner).api_key
    )
    html = owner_client.get(reverse("api_key_list")).content.decode()
    assert f"lk_{issued.api_key.prefix}_" in html
    assert "Бар" in html and location.name in html and "Отозван" in html and "Активен" in html
    assert issued.secret not in html


def test_revoke_needs_post_and_confirmation(owner_client, merchant, location, owner):
    issued = services.api_key_create(merchant=merchant, location=location, name="Касса", actor=owner)
    url = reverse("api_key_revoke", args=[issued.api_key.pk])

    confirm = owner_client.get(url)
    assert confirm.status_code == 200 and "Отозвать ключ" in confirm.content.decode()
    issued.api_key.refresh_from_db()
    assert issued.api_key.revoked_at is None

    response = owner_client.post(url)
    assert response.status_code == 302
    issued.api_key.refresh_from_db()
    assert issued.api_key.revoked_at is not None
    assert services.api_key_for_secret(issued.secret) is None
    # Revoking twice changes nothing.
    revoked_at = issued.api_key.revoked_at
    owner_client.post(url)
    issued.api_key.refresh_from_db()
    assert issued.api_key.revoked_at == revoked_at


def test_api_key_for_secret_finds_only_active_keys(merchant, location, owner):
    issued = services.api_key_create(merchant=merchant, location=location, name="Касса", actor=owner)
    other = services.api_key_create(merchant=merchant, location=location, name="Другая", actor=owner)

    assert services.api_key_for_secret(issued.secret) == issued.api_key
    assert services.api_key_for_secret(other.secret) == other.api_key
    # Right prefix, wrong rest; garbage; the other key's prefix with this key's tail.
    assert services.api_key_for_secret(issued.secret[:-1] + ("A" if issued.secret[-1] != "A" else "B")) is None
    assert services.api_key_for_secret("lk_nonsense") is None
    assert services.api_key_for_secret("") is None
    tail = issued.secret.split("_", 2)[2]
    assert services.api_key_for_secret(f"lk_{other.api_key.prefix}_{tail}") is None

    services.api_key_revoke(api_key=issued.api_key)
    assert services.api_key_for_secret(issued.secret) is None
    assert services.api_key_for_secret(other.secret) == other.api_key

    merchant.is_active = False
    merchant.save()
    assert services.api_key_for_secret(other.secret) is None


def test_api_key_touch_records_use_at_most_once_a_minute(merchant, location, owner):
    api_key = services.api_key_create(merchant=merchant, location=location, name="Касса", actor=owner).api_key
    now = timezone.now()
    services.api_key_touch(api_key=api_key, now=now)
    services.api_key_touch(api_key=api_key, now=now + timedelta(seconds=30))
    api_key.refresh_from_db()
    assert api_key.last_used_at == now
    services.api_key_touch(api_key=api_key, now=now + timedelta(minutes=2))
    api_key.refresh_from_db()
    assert api_key.last_used_at == now + timedelta(minutes=2)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "Касса"}, "location", "Обязательное поле"),
        ({"name": "", "location": "LOCATION"}, "name", "Обязательное поле"),
        ({"name": "Касса", "location": "999999"}, "location", "Выберите одну из своих активных точек"),
    ],
)
def test_bad_api_key_input_creates_nothing(owner_client, location, data, field, message):
    data = {k: (location.pk if v == "LOCATION" else v) for k, v in data.items()}
    before = snapshot()
    response = owner_client.post(reverse("api_key_create"), data)
    assert response.status_code == 200
    assert any(message in str(e) for e in response.context["form"].errors[field])
    assert snapshot() == before


def test_cannot_create_a_key_for_another_merchants_or_inactive_location(owner_client, location, other_merchant):
    foreign = factories.LocationFactory(merchant=other_merchant)
    closed = factories.LocationFactory(merchant=location.merchant, is_active=False)
    before = snapshot()
    for target in (foreign, closed):
        response = owner_client.post(reverse("api_key_create"), {"location": target.pk, "name": "Касса"})
        assert response.status_code == 200
        assert "location" in response.context["form"].errors
    assert snapshot() == before


def test_without_locations_the_form_says_to_add_one_first(owner_client, merchant):
    html = owner_client.get(reverse("api_key_create")).content.decode()
    assert reverse("location_create") in html
