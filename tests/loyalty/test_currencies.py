"""Money in currencies without two decimals: a yen café (JPY, no minor unit) and a dinar café
(KWD, three decimals), through the POS API, the till, the program editor, the web card and
the admin: amounts are parsed, stored, turned into points and shown in the currency's own way."""

# The fixtures are imported from api_support, so pytest arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from loyalty import ledger
from loyalty.exceptions import InvalidAmount, InvalidProgram
from loyalty.models import Program, Purchase, Refund, Tier
from loyalty.money import fits_currency, minor_unit, percent_of, points_to_money, precision_message, wire_amount
from loyalty.program.services import program_for, save_program
from loyalty.wallet.passes import wallet_pass_for
from merchants.templatetags.merchant_format import money
from tests import factories
from tests.loyalty.api_support import PosClient, pos_card, pos_key, pos_program, table_counts  # noqa: F401

pytestmark = pytest.mark.django_db

YEN = ("JPY", "JP", "Asia/Tokyo")
DINAR = ("KWD", "KW", "Asia/Kuwait")


@pytest.fixture
def merchant(request, db):
    currency, country, zone = getattr(request, "param", YEN)
    return factories.MerchantFactory(name="Café", currency=currency, country=country, time_zone=zone)


@pytest.fixture
def pos(pos_key, pos_program):
    return PosClient(pos_key.secret)


def login(user, language: str = "en") -> Client:
    client = Client(headers={"Accept-Language": language})
    client.force_login(user)
    return client


def post_json(client: Client, url: str, body: dict):
    return client.post(
        url, json.dumps(body), content_type="application/json", headers={"Idempotency-Key": str(uuid.uuid4())}
    )


def purchase_body(card, bill: str, **extra) -> dict:
    return {"card_number": card.number, "bill_amount": bill, "receipt_id": f"R-{uuid.uuid4().hex[:8]}", **extra}


# --- one source of truth -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "places"), [("JPY", 0), ("KRW", 0), ("RUB", 2), ("USD", 2), ("KWD", 3), ("BHD", 3), ("OMR", 3)]
)
def test_minor_unit_of_each_currency(currency, places):
    assert minor_unit(currency) == places
    assert minor_unit(currency.lower()) == places


def test_an_unknown_currency_has_cents():
    assert minor_unit("XYZ") == minor_unit(None) == 2


@pytest.mark.parametrize(
    ("amount", "currency", "fits", "wire"),
    [
        ("1250", "JPY", True, "1250"),
        ("1250.00", "JPY", True, "1250"),
        ("1.5", "JPY", False, "2"),
        ("1.234", "KWD", True, "1.234"),
        ("1.2345", "KWD", False, "1.235"),
        ("1.5", "KWD", True, "1.500"),
        ("1.005", "RUB", False, "1.01"),
        ("450.5", "RUB", True, "450.50"),
    ],
)
def test_amounts_fit_and_are_written_with_the_currency_decimals(amount, currency, fits, wire):
    assert fits_currency(Decimal(amount), currency) is fits
    assert wire_amount(Decimal(amount), currency) == wire


def test_discounts_and_point_values_round_to_the_minor_unit():
    # 3 % of 1999 JPY is 59.97: 60 yen, not 59.97.
    assert percent_of(Decimal("1999"), Decimal("3"), "JPY") == Decimal("60")
    # 5 % of 12.345 KWD is 0.61725: 0.617 dinar (half-up on the fils).
    assert percent_of(Decimal("12.345"), Decimal("5"), "KWD") == Decimal("0.617")
    assert points_to_money(7, point_value=Decimal("0.005"), currency="KWD") == Decimal("0.035")
    assert points_to_money(3, point_value=Decimal("1"), currency="JPY") == Decimal("3")


def test_the_refusal_says_the_currencys_rule_in_both_languages():
    with translation.override("en"):
        assert precision_message("JPY") == "Amounts in JPY are whole numbers: enter an amount like 450."
        assert precision_message("KWD") == (
            "Amounts in KWD have at most 3 digits after the decimal point: enter an amount like 450.250."
        )
    with translation.override("ru"):
        assert precision_message("JPY") == "Сумма в JPY — целое число, без дробной части: например, 450."
        assert precision_message("KWD") == "Сумма в KWD — не больше 3 знаков после точки: например, 450.250."


@pytest.mark.parametrize(
    ("language", "currency", "amount", "shown"),
    [
        ("en", "JPY", "1250", "¥1,250"),
        ("ru", "JPY", "1250", "1\xa0250\xa0¥"),
        ("en", "KWD", "12.345", "KWD\xa012.345"),
        ("ru", "KWD", "12.345", "12,345\xa0KWD"),
        ("en", "RUB", "450.5", "RUB\xa0450.50"),
    ],
)
def test_amounts_are_shown_with_the_currency_decimals_and_symbol(language, currency, amount, shown):
    # A stored amount comes back from the three-decimal column as 1250.000: shown as the currency has it.
    stored = Decimal(amount).quantize(Decimal("0.001"))
    with translation.override(language):
        assert money(stored, currency) == shown


# --- the ledger ------------------------------------------------------------------------------------


def test_the_ledger_refuses_half_a_yen_and_stores_whole_yen(merchant, location, pos_card):
    with translation.override("en"), pytest.raises(InvalidAmount) as refused:
        ledger.purchase(
            merchant=merchant, card=pos_card, location=location, bill_amount=Decimal("1.5"), receipt_id="R-1",
            idempotency_key="k-1",
        )  # fmt: skip
    assert refused.value.field == "bill_amount" and "whole numbers" in str(refused.value)
    bought = ledger.purchase(
        merchant=merchant, card=pos_card, location=location, bill_amount=Decimal("1250.00"), receipt_id="R-2",
        idempotency_key="k-2",
    )  # fmt: skip
    bought.refresh_from_db()
    assert bought.bill_amount == Decimal("1250") and bought.amount_paid == Decimal("1250")


# --- the POS API: a yen café -------------------------------------------------------------------------


@pytest.fixture
def yen_points(merchant, owner, pos_program):
    """One point per 100 yen; a point pays 1 yen; points pay at most 30 % of a bill."""
    save_program(merchant=merchant, actor=owner, mechanic="points", points_per_unit=Decimal("0.01"))


def test_pos_api_yen_purchase_quote_and_refund(pos, merchant, pos_card, yen_points):
    response = pos.post("/purchases/", purchase_body(pos_card, "1250"))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["currency"] == "JPY"
    assert (data["bill_amount"], data["amount_paid"], data["points_amount"]) == ("1250", "1250", "0")
    assert data["points_earned"] == 12  # 1 point per 100 yen, rounded down
    stored = Purchase.objects.get(pk=data["id"])
    assert stored.bill_amount == Decimal("1250") and stored.currency == "JPY"

    quote = pos.post("/quotes/", {"card_number": pos_card.number, "bill_amount": "1999", "redeem_points": 12})
    assert quote.status_code == 200, quote.content
    q = quote.json()
    assert (q["bill_amount"], q["point_value"], q["points_amount"], q["amount_to_pay"]) == ("1999", "1", "12", "1987")
    assert q["points_to_earn"] == 19

    refund = pos.post("/refunds/", {"purchase_id": data["id"], "amount": "250"})
    assert refund.status_code == 201, refund.content
    r = refund.json()
    assert (r["amount"], r["purchase"]["refunded_amount"], r["purchase"]["refundable_amount"]) == ("250", "250", "1000")


@pytest.mark.parametrize("path", ["/purchases/", "/quotes/"])
def test_pos_api_refuses_half_a_yen_with_the_currencys_rule(pos, pos_card, path, yen_points):
    before = table_counts()
    body = purchase_body(pos_card, "1250.5")
    if path == "/quotes/":
        body.pop("receipt_id")
    response = pos.post(path, body, headers={"Accept-Language": "ru"})
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_amount"
    assert error["fields"]["bill_amount"] == ["Сумма в JPY — целое число, без дробной части: например, 450."]
    assert table_counts() == before


def test_pos_api_yen_discount_is_whole_yen(pos, merchant, owner, pos_card, pos_program):
    save_program(merchant=merchant, actor=owner, mechanic="discount")  # Bronze: 3 %
    quote = pos.post("/quotes/", {"card_number": pos_card.number, "bill_amount": "1999"})
    assert quote.status_code == 200, quote.content
    q = quote.json()
    assert (q["discount_amount"], q["amount_after_discount"], q["amount_to_pay"]) == ("60", "1939", "1939")


# --- the POS API: a dinar café ------------------------------------------------------------------------


@pytest.fixture
def dinar_cashback(merchant, owner, pos_program):
    """5 % cashback with a point worth 100 fils (0.100 KWD)."""
    save_program(merchant=merchant, actor=owner, point_value=Decimal("0.1"))


@pytest.mark.parametrize("merchant", [DINAR], indirect=True)
def test_pos_api_dinar_purchase_keeps_three_decimals(pos, merchant, pos_card, dinar_cashback):
    response = pos.post("/purchases/", purchase_body(pos_card, "12.345"))
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["currency"], data["bill_amount"], data["amount_paid"]) == ("KWD", "12.345", "12.345")
    assert data["points_earned"] == 6  # 5 % of 12.345 = 0.61725 KWD = 6.17 points of 0.100
    assert Purchase.objects.get(pk=data["id"]).bill_amount == Decimal("12.345")

    quote = pos.post("/quotes/", {"card_number": pos_card.number, "bill_amount": "10.005", "redeem_points": 6})
    assert quote.status_code == 200, quote.content
    q = quote.json()
    assert (q["point_value"], q["points_amount"], q["amount_to_pay"]) == ("0.100", "0.600", "9.405")

    refund = pos.post("/refunds/", {"purchase_id": data["id"], "amount": "1.234"})
    assert refund.status_code == 201, refund.content
    assert refund.json()["amount"] == "1.234" and refund.json()["purchase"]["refundable_amount"] == "11.111"
    assert Refund.objects.get().amount == Decimal("1.234")


@pytest.mark.parametrize("merchant", [DINAR, YEN], indirect=True)
def test_pos_api_answers_in_the_currencys_decimals_on_every_path(pos, merchant, pos_card):
    # The first purchase of a key takes the general path (the key is verified); the next ones the quick
    # path, and with the purchase lane in front of Django, the lane: all answer alike.
    amount = {"KWD": "12.345", "JPY": "1250"}[merchant.currency]
    answers = [pos.post("/purchases/", purchase_body(pos_card, amount)).json() for _ in range(4)]
    for data in answers:
        assert (data["bill_amount"], data["amount_paid"]) == (amount, amount)
        zero = {"KWD": "0.000", "JPY": "0"}[merchant.currency]
        assert (data["points_amount"], data["discount_amount"], data["refunded_amount"]) == (zero, zero, zero)


@pytest.mark.parametrize("merchant", [DINAR], indirect=True)
def test_pos_api_dinar_refuses_a_fourth_decimal(pos, pos_card, dinar_cashback):
    before = table_counts()
    response = pos.post("/purchases/", purchase_body(pos_card, "1.2345"))
    assert response.status_code == 400, response.content
    assert "bill_amount" in response.json()["error"]["fields"]
    assert table_counts() == before


# --- the till -------------------------------------------------------------------------------------------


def test_till_yen_page_purchase_and_refund(cashier, owner, merchant, location, pos_card, yen_points):
    page = login(cashier).get("/dashboard/till/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '"moneyPlaces": 0' in html and 'inputmode="numeric"' in html and '"maxBill": "100000"' in html

    till = login(cashier)
    response = post_json(till, "/dashboard/till/purchase/", {"card_number": pos_card.number, "bill_amount": "1250"})
    assert response.status_code == 201, response.content
    body = response.json()["purchase"]
    assert body["bill_amount"] == "1250" and body["points_earned"] == 12
    assert body["display"]["paid"] == "¥1,250"

    ru = login(cashier, "ru")
    quote = post_json(ru, "/dashboard/till/quote/", {"card_number": pos_card.number, "bill_amount": "1999"})
    assert quote.status_code == 200, quote.content
    assert quote.json()["quote"]["display"]["to_pay"] == "1\xa0999\xa0¥"

    owner_till = login(owner)
    listed = owner_till.get(f"/dashboard/till/purchases/?card={pos_card.number}").json()["purchases"]
    assert [(p["bill_amount"], p["refundable"]) for p in listed] == [("1250", "1250")]
    refund = post_json(owner_till, "/dashboard/till/refund/", {"purchase_id": body["id"], "amount": "0.5"})
    assert refund.status_code == 400
    assert refund.json()["error"]["message"] == "Check the amount to refund: enter a whole amount like 450."
    refund = post_json(owner_till, "/dashboard/till/refund/", {"purchase_id": body["id"], "amount": "250"})
    assert refund.status_code == 201, refund.content
    assert refund.json()["refund"]["display"]["amount"] == "¥250"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Check the bill: enter a whole amount like 450."),
        ("ru", "Проверьте сумму чека: введите целое число, например 450."),
    ],
)
def test_till_refuses_half_a_yen_in_the_cashiers_words(cashier, location, pos_card, yen_points, language, expected):
    before = table_counts()
    till = login(cashier, language)
    for url in ("/dashboard/till/quote/", "/dashboard/till/purchase/"):
        response = post_json(till, url, {"card_number": pos_card.number, "bill_amount": "1250.5"})
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["message"] == expected and list(error["fields"]) == ["bill_amount"]
    assert table_counts() == before


@pytest.mark.parametrize("merchant", [DINAR], indirect=True)
@pytest.mark.parametrize(
    ("language", "shown", "refused"),
    [
        ("en", "KWD\xa012.345", "Check the bill: enter an amount like 450 or 450.250."),
        ("ru", "12,345\xa0KWD", "Проверьте сумму чека: введите её так: 450 или 450,250."),
    ],
)
def test_till_dinar_purchase_keeps_three_decimals(
    cashier, location, pos_card, dinar_cashback, language, shown, refused
):
    till = login(cashier, language)
    assert '"moneyPlaces": 3' in till.get("/dashboard/till/").content.decode()
    bad = post_json(till, "/dashboard/till/purchase/", {"card_number": pos_card.number, "bill_amount": "12.3456"})
    assert bad.status_code == 400 and bad.json()["error"]["message"] == refused
    response = post_json(till, "/dashboard/till/purchase/", {"card_number": pos_card.number, "bill_amount": "12.345"})
    assert response.status_code == 201, response.content
    body = response.json()["purchase"]
    assert body["bill_amount"] == "12.345" and body["points_earned"] == 6
    assert body["display"]["bill"] == shown


# --- the program editor -------------------------------------------------------------------------------------


def editor_data(client) -> dict:
    """The program page's form as a browser would submit it unchanged."""
    response = client.get("/dashboard/program/")
    form, tiers = response.context["form"], response.context["tiers"]
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else value
    data.update({f"tiers-{k}": v for k, v in tiers.management_form.initial.items()})
    for i, tier in enumerate(tiers.forms):
        for name in ("id", "name", "threshold", "earn_rate", "discount_percent"):
            value = tier[name].value()
            data[f"tiers-{i}-{name}"] = "" if value is None else value
    return data


def test_program_editor_yen_amounts_are_whole(owner, merchant, pos_program):
    client = login(owner)
    page = client.get("/dashboard/program/").content.decode()
    # The inputs show whole yen, not the column's 1.000.
    assert 'name="point_value" value="1"' in page and 'name="tiers-1-threshold" value="20000"' in page
    assert client.post("/dashboard/program/", editor_data(client)).status_code == 302  # unchanged: accepted

    data = editor_data(client)
    data.update({"min_bill_to_earn": "100.5", "point_value": "0.5", "tiers-1-threshold": "10000.5"})
    response = client.post("/dashboard/program/", data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["min_bill_to_earn"] == ["Amounts in JPY are whole numbers: enter an amount like 450."]
    assert errors["point_value"] == ["At least 1."]
    assert "Amounts in JPY are whole numbers" in str(response.context["tiers"].forms[1].errors)

    data = editor_data(client)
    data.update({"min_bill_to_earn": "300", "mechanic": "points", "points_per_unit": "0.01"})
    assert client.post("/dashboard/program/", data).status_code == 302
    program = Program.objects.get(merchant=merchant)
    assert program.min_bill_to_earn == Decimal("300")
    assert program.current_version.rules["min_bill_to_earn"] == "300"
    assert program.current_version.rules["point_value"] == "1"


@pytest.mark.parametrize("merchant", [DINAR], indirect=True)
def test_program_editor_dinar_amounts_take_fils(owner, merchant, pos_program):
    client = login(owner, "ru")
    data = editor_data(client)
    data.update({"min_bill_to_earn": "1.2345", "tiers-1-threshold": "100.0005"})
    response = client.post("/dashboard/program/", data)
    assert response.status_code == 400
    assert response.context["form"].errors["min_bill_to_earn"] == [
        "Сумма в KWD — не больше 3 знаков после точки: например, 450.250."
    ]
    data = editor_data(client)
    data.update({"min_bill_to_earn": "1.234", "point_value": "0.005", "tiers-1-threshold": "20.125"})
    assert client.post("/dashboard/program/", data).status_code == 302
    program = Program.objects.get(merchant=merchant)
    assert (program.min_bill_to_earn, program.point_value) == (Decimal("1.234"), Decimal("0.005"))
    assert Tier.objects.filter(merchant=merchant, threshold=Decimal("20.125")).exists()
    rules = program.current_version.rules
    assert (rules["min_bill_to_earn"], rules["point_value"]) == ("1.234", "0.005")
    assert "20.125" in [t["threshold"] for t in rules["tiers"]]
    page = client.get("/dashboard/program/").content.decode()
    assert 'name="min_bill_to_earn" value="1.234"' in page


def test_save_program_refuses_half_a_yen_from_any_caller(owner, merchant, pos_program):
    with pytest.raises(InvalidProgram) as refused:
        save_program(merchant=merchant, actor=owner, stamp_min_bill=Decimal("99.5"))
    assert "stamp_min_bill" in refused.value.errors
    assert program_for(merchant=merchant).stamp_min_bill == 0


# --- the customer's web card and the admin -------------------------------------------------------------------


def test_web_card_shows_yen(client, merchant, location, pos_card, yen_points):
    ledger.purchase(
        merchant=merchant, card=pos_card, location=location, bill_amount=Decimal("1250"), receipt_id="R-1",
        idempotency_key="k-1", now=datetime(2026, 3, 11, 9, 0, tzinfo=UTC),
    )  # fmt: skip
    url = reverse("webcard", args=[wallet_pass_for(card=pos_card).web_token])
    assert "¥1,250" in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1\xa0250\xa0¥" in client.get(url, HTTP_ACCEPT_LANGUAGE="ru").content.decode()


@pytest.mark.parametrize("merchant", [DINAR], indirect=True)
def test_admin_lists_money_in_its_currency(admin_client, merchant, location, pos_card, pos_program):
    ledger.purchase(
        merchant=merchant, card=pos_card, location=location, bill_amount=Decimal("12.345"), receipt_id="R-1",
        idempotency_key="k-1",
    )  # fmt: skip
    page = admin_client.get("/admin/loyalty/purchase/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "KWD\xa012.345" in page


def test_till_settings_show_and_take_the_largest_bill_in_whole_yen(owner, merchant, pos_program):
    client = login(owner)
    page = client.get("/dashboard/till/settings/").content.decode()
    assert 'name="till_max_bill" value="100000"' in page  # not 1E+5, not 100000.000
    bad = client.post("/dashboard/till/settings/", {"till_max_bill": "50000.5"})
    assert bad.status_code == 400
    assert "Amounts in JPY are whole numbers" in bad.content.decode()
    assert client.post("/dashboard/till/settings/", {"till_max_bill": "50000"}).status_code == 200
    merchant.refresh_from_db()
    assert merchant.till_max_bill == Decimal("50000")


@pytest.mark.parametrize("merchant", [YEN], indirect=True)
def test_admin_detail_pages_show_money_in_its_currency(admin_client, merchant, location, pos_card, pos_program):
    bought = ledger.purchase(
        merchant=merchant, card=pos_card, location=location, bill_amount=Decimal("1250"), receipt_id="R-1",
        idempotency_key="k-1",
    )  # fmt: skip
    refund = ledger.refund(merchant=merchant, purchase=bought, amount=Decimal("250"), idempotency_key="r-1")
    page = admin_client.get(f"/admin/loyalty/purchase/{bought.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    html = page.content.decode()
    assert "¥1,250" in html and "¥250" in html and "1250.000" not in html
    page = admin_client.get(f"/admin/loyalty/refund/{refund.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "¥250" in page.content.decode()
