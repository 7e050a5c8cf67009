"""The segment pages through the real stack: who may open them, the live
count endpoint, save / edit / delete, the merchant's scope, the RFM page."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from campaigns.models import Segment
from campaigns.segments.rfm import recompute_rfm
from tests import factories
from tests.campaigns.conftest import NOW

pytestmark = pytest.mark.django_db

SOURCE_QR = {
    "match": "all",
    "groups": [{"match": "all", "conditions": [{"field": "source", "op": "in", "value": ["qr"]}]}],
}


@pytest.fixture
def marketer_client(client, marketer):
    client.force_login(marketer)
    return client


def count(client, definition, **headers):
    return client.post(
        reverse("segment_count"), json.dumps({"definition": definition}), content_type="application/json", **headers
    )


@pytest.mark.parametrize(("person", "status"), [("owner", 200), ("marketer", 200), ("cashier", 403)])
def test_who_may_open_the_segment_pages(client, request, person, status):
    client.force_login(request.getfixturevalue(person))
    for name in ("segment_list", "segment_create", "rfm_grid"):
        assert client.get(reverse(name)).status_code == status
    nav = client.get(reverse("segment_list")).context["nav_items"]
    # One menu entry for campaigns, segments and RFM; no separate "Segments" entry.
    labels = [str(item.label) for item in nav]
    assert ("Рассылки" in labels) is (status == 200)
    assert "Сегменты" not in labels


def test_the_nav_entry_is_active_on_every_segment_page(marketer_client, merchant):
    segment = factories.SegmentFactory(merchant=merchant)
    pages = (
        reverse("segment_list"),
        reverse("segment_create"),
        reverse("segment_edit", args=[segment.pk]),
        reverse("rfm_grid"),
    )
    for url in pages:
        nav = marketer_client.get(url).context["nav_items"]
        assert [str(item.label) for item in nav if item.active] == ["Рассылки"]


def test_the_live_count_answers_the_size_and_a_sample(marketer_client, shop):
    response = count(marketer_client, SOURCE_QR)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["count_text"] == "2 клиента"
    # Newest first: Vera enrolled after Anna.
    assert [c["name"] for c in body["sample"]] == ["Vera", "Anna"]
    assert body["sample"][1]["phone"] == "+7 916 000-00-01"
    assert body["sample"][1]["url"] == reverse("card_detail", args=[shop.cards["Anna"].pk])
    everyone = count(marketer_client, {}).json()
    assert everyone["count"] == 4 and everyone["count_text"] == "4 клиента"


def test_the_live_count_explains_a_bad_definition_in_the_users_language(marketer_client, shop):
    bad = {"groups": [{"conditions": [{"field": "balance", "op": "gte", "value": "lots"}]}]}
    ru = count(marketer_client, bad)
    assert ru.status_code == 400 and ru.json()["errors"] == ["«Баланс баллов»: введите целое число."]
    en = count(marketer_client, bad, HTTP_ACCEPT_LANGUAGE="en")
    assert en.json()["errors"] == ["“Points balance”: enter a whole number."]
    garbage = marketer_client.post(reverse("segment_count"), "{not json", content_type="application/json")
    assert garbage.status_code == 400 and garbage.json()["errors"]


def test_the_count_never_includes_another_merchants_customers(client, shop, other_merchant, other_owner):
    # The other merchant's owner asks the same question: none of this merchant's customers.
    client.force_login(other_owner)
    assert count(client, SOURCE_QR).json()["count"] == 0
    # And a location id of this merchant is refused as an option there.
    refused = count(
        client,
        {"groups": [{"conditions": [{"field": "last_purchase_location", "op": "in", "value": [str(shop.a.pk)]}]}]},
    )
    assert refused.status_code == 400


def test_save_edit_and_delete_a_segment(marketer_client, merchant, marketer, shop):
    response = marketer_client.post(
        reverse("segment_create"), {"name": "  Через  QR ", "definition": json.dumps(SOURCE_QR)}
    )
    assert response.status_code == 302 and response["Location"] == reverse("segment_list")
    segment = Segment.objects.get(merchant=merchant)
    assert segment.name == "Через QR" and segment.created_by == marketer
    assert segment.definition == SOURCE_QR
    listing = marketer_client.get(reverse("segment_list"))
    assert listing.context["rows"][0]["size"] == "2 клиента"
    assert "Через QR" in listing.content.decode()

    edited = {
        "match": "any",
        "groups": [{"match": "all", "conditions": [{"field": "purchase_count", "op": "gte", "value": "3"}]}],
    }
    response = marketer_client.post(
        reverse("segment_edit", args=[segment.pk]), {"name": "Частые", "definition": json.dumps(edited)}
    )
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.name == "Частые"
    # Stored normalised: the number is a number.
    assert segment.definition["groups"][0]["conditions"][0]["value"] == 3
    page = marketer_client.get(reverse("segment_edit", args=[segment.pk]))
    assert page.status_code == 200 and page.context["definition"] == segment.definition

    assert marketer_client.get(reverse("segment_delete", args=[segment.pk])).status_code == 200
    response = marketer_client.post(reverse("segment_delete", args=[segment.pk]))
    assert response.status_code == 302
    assert not Segment.objects.filter(pk=segment.pk).exists()


def test_saving_refuses_bad_input_and_keeps_what_was_typed(marketer_client, merchant, shop):
    factories.SegmentFactory(merchant=merchant, name="Taken")
    bad = {"groups": [{"conditions": [{"field": "spend", "op": "between", "value": ["900", "100"]}]}]}
    response = marketer_client.post(reverse("segment_create"), {"name": "Новый", "definition": json.dumps(bad)})
    assert response.status_code == 400
    assert response.context["errors"] == ["«Сумма покупок»: начало диапазона позже его конца."]
    assert response.context["name"] == "Новый" and response.context["definition"] == bad
    taken = marketer_client.post(reverse("segment_create"), {"name": "Taken", "definition": json.dumps(SOURCE_QR)})
    assert taken.status_code == 400 and taken.context["errors"] == ["Сегмент с таким названием уже есть."]
    nameless = marketer_client.post(reverse("segment_create"), {"name": "\x00 ", "definition": json.dumps(SOURCE_QR)})
    assert nameless.status_code == 400 and nameless.context["errors"] == ["Дайте сегменту название."]
    assert Segment.objects.for_merchant(merchant).count() == 1


def test_another_merchants_segment_is_404(client, merchant, other_owner):
    segment = factories.SegmentFactory(merchant=merchant)
    client.force_login(other_owner)
    for name in ("segment_edit", "segment_delete"):
        assert client.get(reverse(name, args=[segment.pk])).status_code == 404
        assert client.post(reverse(name, args=[segment.pk]), {"name": "x", "definition": "{}"}).status_code == 404
    assert Segment.objects.get(pk=segment.pk).name == segment.name
    assert segment.name not in client.get(reverse("segment_list")).content.decode()


def test_the_rfm_page_shows_the_grid_and_opens_a_cell_as_a_segment(marketer_client, shop):
    empty = marketer_client.get(reverse("rfm_grid"))
    assert "Ещё не рассчитано." in empty.content.decode()
    response = marketer_client.post(reverse("rfm_recompute"))
    assert response.status_code == 302
    page = marketer_client.get(reverse("rfm_grid"))
    grid = page.context["overview"].grid
    # Boris R1F1, Anna R2F2, Gleb R3F3 (see test_segment_conditions.test_rfm_group_and_scores).
    assert {(c.recency, c.frequency) for row in grid for c in row if c.count} == {(1, 1), (2, 2), (3, 3)}
    html = page.content.decode()
    assert 'href="/dashboard/segments/new/?r=3&amp;f=3"' in html
    assert "Требуют внимания" in html and "Чемпионы" in html

    cell = marketer_client.get(reverse("segment_create") + "?r=3&f=3")
    definition = cell.context["definition"]
    assert cell.context["name"] == "Давность 3, частота 3"
    assert count(marketer_client, definition).json()["sample"][0]["name"] == "Gleb"
    group = marketer_client.get(reverse("segment_create") + "?group=lost")
    assert group.context["name"] == "Потерянные"
    assert [c["name"] for c in count(marketer_client, group.context["definition"]).json()["sample"]] == ["Boris"]


def test_the_rfm_page_counts_only_this_merchants_scores(client, shop, other_owner):
    recompute_rfm(merchant=shop.merchant, now=NOW)
    client.force_login(other_owner)
    page = client.get(reverse("rfm_grid"))
    assert page.context["overview"].scored == 0
