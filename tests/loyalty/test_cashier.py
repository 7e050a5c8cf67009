"""The till page and its JSON views (session + CSRF), on PostgreSQL."""

# The fixtures are imported from api_support, so pytest arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from loyalty import ledger
from loyalty.json_body import MAX_DEPTH
from loyalty.models import Card, Purchase, Refund
from tests import factories
from tests.loyalty.api_support import give_points, pos_card, pos_program, table_counts  # noqa: F401

pytestmark = pytest.mark.django_db


def login(user, language: str = "en") -> Client:
    # English wording here: Russian comes from the merged catalogue (parts/pos.po); the money
    # format (babel) does not depend on it.
    client = Client(headers={"Accept-Language": language})
    client.force_login(user)
    return client


def post_json(client: Client, url: str, body: dict, key: str | None = "auto"):
    headers = {}
    if key == "auto":
        key = str(uuid.uuid4())
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


@pytest.fixture
def till(cashier, location, pos_program):
    return login(cashier)


# --- the page ----------------------------------------------------------------------------------


def test_page_needs_login(client, location):
    response = client.get("/dashboard/till/")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("role", ["cashier", "marketer", "owner"])
def test_staff_roles_see_the_till(request, role, location, pos_program):
    response = login(request.getfixturevalue(role)).get("/dashboard/till/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="find-q"' in html and "js/cashier.js" in html and "css/cashier.css" in html
    assert "Тверская" in html


def test_nav_links_to_the_till(cashier, location, pos_program):
    html = login(cashier).get("/dashboard/").content.decode()
    assert 'href="/dashboard/till/"' in html


def test_other_merchant_staff_cannot_use_json_views(other_owner, pos_card):
    client = login(other_owner)
    factories.LocationFactory(merchant=other_owner.memberships.get().merchant)
    response = client.get("/dashboard/till/lookup/", {"q": pos_card.number})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "card_not_found"


def test_json_views_answer_401_without_a_session(pos_card):
    response = Client().get("/dashboard/till/lookup/", {"q": pos_card.number})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_several_locations_ask_once_and_remember(cashier, merchant, location, pos_program):
    second = factories.LocationFactory(merchant=merchant, name="Арбат")
    client = login(cashier)
    page = client.get("/dashboard/till/")
    assert "Арбат" in page.content.decode() and 'name="location"' in page.content.decode()
    assert client.post("/dashboard/till/location/", {"location": second.pk}).status_code == 302
    page = client.get("/dashboard/till/").content.decode()
    assert 'id="find-q"' in page and "Арбат" in page
    # …and may change it.
    assert 'name="location"' in client.get("/dashboard/till/?change-location").content.decode()


def test_a_foreign_or_unknown_location_is_refused(cashier, merchant, location, other_merchant, pos_program):
    factories.LocationFactory(merchant=merchant, name="Арбат")
    foreign = factories.LocationFactory(merchant=other_merchant)
    client = login(cashier)
    assert client.post("/dashboard/till/location/", {"location": foreign.pk}).status_code == 400
    assert client.post("/dashboard/till/location/", {"location": "x"}).status_code == 400
    assert client.session.get("till_location_id") is None


def test_no_location_says_so(cashier, pos_program):
    response = login(cashier).get("/dashboard/till/")
    assert response.status_code == 200
    assert 'id="find-q"' not in response.content.decode()


# --- lookup and quote -------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["+7 916 123-45-67", "89161234567", "NUMBER", "NUMBER-SPACED", "BARCODE"])
def test_lookup_by_anything_the_cashier_types(till, pos_card, query):
    spaced = " ".join(pos_card.number[i : i + 4] for i in range(0, 12, 4))
    query = query.replace("NUMBER-SPACED", spaced).replace("NUMBER", pos_card.number)
    query = query.replace("BARCODE", pos_card.barcode)
    response = till.get("/dashboard/till/lookup/", {"q": query})
    assert response.status_code == 200, response.content
    card = response.json()["card"]
    assert card["number"] == pos_card.number
    assert card["customer"]["name"] == "Анна"
    assert card["display"]["balance"] == "0 points"


def test_lookup_not_found(till, pos_card):
    for query in ["", "+7 999 000-00-00", "nonsense", "0" * 12, "x" * 300, "a\x00"]:
        response = till.get("/dashboard/till/lookup/", {"q": query})
        assert response.status_code == 404, query
        assert response.json()["error"]["code"] == "card_not_found"


def test_quote_is_formatted_for_the_merchant(till, pos_card, merchant, location):
    give_points(merchant, location, pos_card, "2000.00")
    response = post_json(
        till, "/dashboard/till/quote/", {"card_number": pos_card.number, "bill_amount": "1000", "redeem_points": 100}
    )
    assert response.status_code == 200, response.content
    quote = response.json()["quote"]
    assert quote["points_to_earn"] == 45
    assert quote["display"]["to_pay"] == "RUB\xa0900.00"
    assert quote["display"]["max_redeem"] == "100 points"
    assert quote["display"]["to_earn"] == "45 points"


def test_russian_money_format(cashier, location, pos_program, pos_card):
    client = login(cashier, language="ru")
    response = post_json(client, "/dashboard/till/quote/", {"card_number": pos_card.number, "bill_amount": "1234.5"})
    assert response.json()["quote"]["display"]["to_pay"] == "1\xa0234,50\xa0₽"


# --- purchase and undo --------------------------------------------------------------------------


def test_purchase_from_the_till(till, cashier, location, pos_card):
    response = post_json(till, "/dashboard/till/purchase/", {"card_number": pos_card.number, "bill_amount": "500"})
    assert response.status_code == 201, response.content
    body = response.json()["purchase"]
    assert body["points_earned"] == 25
    assert body["display"]["balance"] == "25 points"
    assert body["display"]["paid"] == "RUB\xa0500.00"
    purchase = Purchase.objects.get(pk=body["id"])
    assert purchase.actor == cashier and purchase.location == location and purchase.api_key is None
    assert purchase.receipt_id.startswith("web-")
    assert Card.objects.get(pk=pos_card.pk).balance == 25


def test_double_tap_writes_once(till, pos_card):
    body = {"card_number": pos_card.number, "bill_amount": "500"}
    first = post_json(till, "/dashboard/till/purchase/", body, key="tap-1")
    second = post_json(till, "/dashboard/till/purchase/", body, key="tap-1")
    assert first.status_code == second.status_code == 201
    assert second.content == first.content and second["Idempotent-Replayed"] == "true"
    assert Purchase.objects.count() == 1


def test_purchase_needs_key_and_csrf(cashier, location, pos_card, pos_program):
    client = login(cashier)
    before = table_counts()
    response = post_json(
        client, "/dashboard/till/purchase/", {"card_number": pos_card.number, "bill_amount": "5"}, key=None
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "idempotency_key_required"
    strict = Client(enforce_csrf_checks=True, headers={"Accept-Language": "en"})
    strict.force_login(cashier)
    response = post_json(strict, "/dashboard/till/purchase/", {"card_number": pos_card.number, "bill_amount": "5"})
    assert response.status_code == 403
    assert table_counts() == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"bill_amount": "-1"}, 400, "invalid"),
        ({"bill_amount": "abc"}, 400, "invalid"),
        ({"bill_amount": "100", "redeem_points": 5}, 422, "insufficient_points"),
        ({"bill_amount": "100", "card_number": "000000000000"}, 404, "card_not_found"),
    ],
)
def test_bad_purchase_writes_nothing(till, pos_card, body, status, code):
    before = table_counts()
    response = post_json(till, "/dashboard/till/purchase/", {"card_number": pos_card.number, **body})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert table_counts() == before


@pytest.mark.parametrize("path", ["purchase/", "quote/", "undo/"])
def test_hostile_bodies_get_json_errors_not_an_html_500(till, pos_card, path):
    """Issue 8, defect 3: nested JSON crashed json.loads (RecursionError) into Django's HTML 500."""
    before = table_counts()
    url = f"/dashboard/till/{path}"
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    for depth in (30_000, 950, MAX_DEPTH + 1):
        body = "[" * depth + "]" * depth
        response = till.post(url, body, content_type="application/json", headers=headers)
        assert response.status_code == 400, (depth, response.status_code)
        assert response.json()["error"]["code"] == "malformed_request"
    huge = json.dumps({"card_number": pos_card.number, "bill_amount": "1.00", "receipt_id": "x" * 3 * 1024 * 1024})
    response = till.post(url, huge, content_type="application/json", headers=headers)
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    assert table_counts() == before


def test_malformed_json(till, pos_card):
    response = till.post("/dashboard/till/purchase/", "{oops", content_type="application/json",
                         headers={"Idempotency-Key": "k"})  # fmt: skip
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_request"


def test_undo_within_the_window(till, pos_card):
    bought = post_json(till, "/dashboard/till/purchase/", {"card_number": pos_card.number, "bill_amount": "500"})
    purchase_id = bought.json()["purchase"]["id"]
    # The page remembers it across a reload.
    assert f'"id": {purchase_id}' in till.get("/dashboard/till/").content.decode()
    response = post_json(till, "/dashboard/till/undo/", {"purchase_id": purchase_id}, key="undo-1")
    assert response.status_code == 201, response.content
    assert response.json()["refund"]["points_reversed"] == 25
    assert Card.objects.get(pk=pos_card.pk).balance == 0
    assert Purchase.objects.get(pk=purchase_id).refunded_amount == Purchase.objects.get(pk=purchase_id).bill_amount
    # A double tap replays; a new attempt is refused.
    assert post_json(till, "/dashboard/till/undo/", {"purchase_id": purchase_id}, key="undo-1").status_code == 201
    again = post_json(till, "/dashboard/till/undo/", {"purchase_id": purchase_id})
    assert again.status_code == 422 and again.json()["error"]["code"] == "undo_not_allowed"
    assert Refund.objects.count() == 1
    assert '"last": null' in till.get("/dashboard/till/").content.decode()


def test_undo_after_the_window_is_refused(till, cashier, merchant, location, pos_card):
    old = ledger.purchase(
        merchant=merchant, card=pos_card, location=location, bill_amount="500", receipt_id="OLD",
        idempotency_key="old", actor=cashier, now=timezone.now() - timedelta(minutes=6),
    )  # fmt: skip
    before = table_counts()
    response = post_json(till, "/dashboard/till/undo/", {"purchase_id": old.pk})
    assert response.status_code == 422 and response.json()["error"]["code"] == "undo_expired"
    assert table_counts() == before


def test_only_the_cashier_who_sold_can_undo(till, marketer, merchant, location, pos_card):
    theirs = ledger.purchase(
        merchant=merchant, card=pos_card, location=location, bill_amount="500", receipt_id="M1",
        idempotency_key="m1", actor=marketer,
    )  # fmt: skip
    response = post_json(till, "/dashboard/till/undo/", {"purchase_id": theirs.pk})
    assert response.status_code == 422 and response.json()["error"]["code"] == "undo_not_allowed"


def test_undo_of_another_merchants_purchase_is_404(till, other_merchant):
    from loyalty.enrollment.services import enroll_customer

    foreign_location = factories.LocationFactory(merchant=other_merchant)
    card = enroll_customer(merchant=other_merchant, phone="+79160000777")
    foreign = ledger.purchase(
        merchant=other_merchant, card=card, location=foreign_location, bill_amount="10", receipt_id="F",
        idempotency_key="f",
    )  # fmt: skip
    response = post_json(till, "/dashboard/till/undo/", {"purchase_id": foreign.pk})
    assert response.status_code == 404 and response.json()["error"]["code"] == "purchase_not_found"


# --- defect 15: the till rings up a free item paid with a reward ----------------------------------


def test_till_quotes_and_rings_up_a_free_item_paid_with_a_reward(till, pos_card, merchant, owner):
    from loyalty.program.services import save_program

    save_program(merchant=merchant, actor=owner, mechanic="stamps", stamps_per_reward=2)  # every 2nd visit free
    paid = post_json(till, "/dashboard/till/purchase/", {"card_number": pos_card.number, "bill_amount": "200"})
    assert paid.status_code == 201
    free = {"card_number": pos_card.number, "bill_amount": "0.00", "redeem_rewards": 1}
    refused = post_json(till, "/dashboard/till/quote/", {**free, "redeem_rewards": 0})
    assert refused.status_code == 400 and "bill_amount" in refused.json()["error"]["fields"]
    quote = post_json(till, "/dashboard/till/quote/", free)
    assert quote.status_code == 200, quote.content
    assert quote.json()["quote"]["amount_to_pay"] == "0.00"
    before = table_counts()
    refused = post_json(till, "/dashboard/till/purchase/", {**free, "redeem_rewards": 0})
    assert refused.status_code == 400 and "0.00" in refused.json()["error"]["fields"]["bill_amount"][0]
    assert table_counts() == before
    bought = post_json(till, "/dashboard/till/purchase/", free)
    assert bought.status_code == 201, bought.content
    assert bought.json()["purchase"]["rewards_redeemed"] == 1
    assert Card.objects.get(pk=pos_card.pk).rewards_available == 0


def test_till_shows_the_stamp_rule_and_when_the_purchase_is_free(cashier, location, merchant, owner):
    """Defect 14 at the till: "x / N" stamps, the rule in words, and a notice (shown by
    the page's script when the card has a reward) that this purchase is the free one."""
    from loyalty.program.services import program_for, save_program

    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, mechanic="stamps", stamps_per_reward=6)
    response = login(cashier, language="ru").get("/dashboard/till/")
    html = response.content.decode()
    assert "Оплатите 5 визитов — следующий бесплатно" in html
    assert 'id="free-visit"' in html and "Эта покупка — бесплатная" in html
    assert response.context["config"]["stampsPerReward"] == 6


# --- another merchant's card ----------------------------------------------------------------------


def test_quote_and_purchase_with_another_merchants_card_are_refused(till, merchant, pos_card, other_merchant):
    """A cashier of this merchant types the card number of a card issued by another merchant (another
    shop using the platform): the till answers as for an unknown card and writes nothing anywhere."""
    from loyalty.enrollment.services import enroll_customer
    from loyalty.program.services import program_for

    program_for(merchant=other_merchant)
    foreign = enroll_customer(
        merchant=other_merchant, phone="+79167770000", location=factories.LocationFactory(merchant=other_merchant)
    )
    foreign_balance = foreign.balance
    before = table_counts()
    for query in (foreign.number, foreign.barcode):
        found = till.get("/dashboard/till/lookup/", {"q": query})
        assert found.status_code == 404 and found.json()["error"]["code"] == "card_not_found"
    ref = {"card_number": foreign.number}
    quote = post_json(till, "/dashboard/till/quote/", {**ref, "bill_amount": "1000", "redeem_points": 0})
    assert quote.status_code == 404, quote.content
    assert quote.json()["error"]["code"] == "card_not_found"
    assert foreign.customer.phone not in quote.content.decode()
    bought = post_json(till, "/dashboard/till/purchase/", {**ref, "bill_amount": "1000"})
    assert bought.status_code == 404, bought.content
    assert bought.json()["error"]["code"] == "card_not_found"
    assert table_counts() == before
    assert Card.objects.get(pk=foreign.pk).balance == foreign_balance
    assert not Purchase.objects.filter(card=foreign).exists()
    # The same requests with this merchant's own card do go through (the refusal is about the card).
    assert (
        post_json(till, "/dashboard/till/quote/", {"card_number": pos_card.number, "bill_amount": "1000"}).status_code
        == 200
    )
