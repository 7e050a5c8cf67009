"""Issue 12, the till: enrolling a customer who is not found, refunding a past
purchase, human error messages and the usual-maximum bill. Through the JSON
views with a real session, on PostgreSQL."""

# The fixtures are imported from api_support, so pytest arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty import ledger
from loyalty.enrollment.selectors import current_consent
from loyalty.models import Card, ConsentRecord, Customer, PersonalDataConsent, Purchase, Refund
from tests.loyalty.api_support import give_points, pos_card, pos_program  # noqa: F401
from tests.loyalty.test_cashier import login, post_json

pytestmark = pytest.mark.django_db


def enrol_body(merchant, **extra):
    body = {
        "phone": "8 903 555-12-34",
        "name": "Борис",
        "consent": True,
        "consent_version": current_consent(merchant=merchant).version,
    }
    body.update(extra)
    return body


def yesterdays_purchase(merchant, location, card, bill="800.00") -> Purchase:
    return ledger.purchase(
        merchant=merchant,
        card=card,
        location=location,
        bill_amount=Decimal(bill),
        receipt_id=f"y-{uuid.uuid4().hex[:8]}",
        idempotency_key=f"y-{uuid.uuid4().hex}",
        now=timezone.now() - timedelta(days=1),
    )


# --- enrolling at the till -----------------------------------------------------------------------


def test_page_offers_a_new_card_with_the_consent_to_read(cashier, merchant, location, pos_program):
    html = login(cashier).get("/dashboard/till/").content.decode()
    assert 'id="enrol-start"' in html and 'id="enrol-consent"' in html
    assert current_consent(merchant=merchant).personal_data_text.split("«")[0].strip() in html


def test_cashier_enrols_a_new_customer_with_consent_stored(cashier, merchant, location, pos_program):
    till = login(cashier)
    key = str(uuid.uuid4())
    response = post_json(till, "/dashboard/till/enrol/", enrol_body(merchant, marketing_consent=True), key=key)
    assert response.status_code == 201, response.content
    card = Card.objects.get(number=response.json()["card"]["number"])
    assert card.customer.phone == "+79035551234" and card.customer.name == "Борис"
    assert card.customer.source == "cashier" and card.customer.joined_location == location
    consent = PersonalDataConsent.objects.get(customer=card.customer)
    assert consent.channel == "till" and consent.text_version == current_consent(merchant=merchant).version
    assert ConsentRecord.objects.get(customer=card.customer).granted is True
    # A retry with the same key (the answer was lost) issues nothing new.
    again = post_json(till, "/dashboard/till/enrol/", enrol_body(merchant, marketing_consent=True), key=key)
    assert again.status_code == 201 and again.json()["card"]["number"] == card.number
    assert Customer.objects.filter(merchant=merchant).count() == 1
    # And the purchase goes on with the new card.
    bought = post_json(till, "/dashboard/till/purchase/", {"card_number": card.number, "bill_amount": "300"})
    assert bought.status_code == 201


def test_enrolment_needs_the_consent_ticked(cashier, merchant, location, pos_program):
    response = post_json(login(cashier), "/dashboard/till/enrol/", enrol_body(merchant, consent=False))
    assert response.status_code == 400
    assert response.json()["error"]["message"] == ("Read the consent to the customer and tick the box once they agree.")
    assert not Customer.objects.exists() and not PersonalDataConsent.objects.exists()


def test_enrolment_with_a_stale_consent_text_is_refused(cashier, merchant, location, pos_program):
    response = post_json(login(cashier), "/dashboard/till/enrol/", enrol_body(merchant, consent_version="old-0"))
    assert response.status_code == 400 and "reload the page" in response.json()["error"]["message"]
    assert not Customer.objects.exists()


def test_enrolling_a_known_phone_shows_their_card(cashier, merchant, location, pos_card):
    response = post_json(login(cashier), "/dashboard/till/enrol/", enrol_body(merchant, phone="+7 916 123-45-67"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_enrolled"
    assert response.json()["card"]["number"] == pos_card.number
    assert Customer.objects.count() == 1


def test_bad_phone_is_a_human_message_in_russian(cashier, merchant, location, pos_program):
    response = post_json(login(cashier, "ru"), "/dashboard/till/enrol/", enrol_body(merchant, phone="12"))
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "phone" not in message and "телефон" in message.lower()


# --- refunds of past purchases -------------------------------------------------------------------------


def test_owner_refunds_part_then_the_rest_of_yesterdays_purchase(owner, merchant, location, pos_card):
    bought = yesterdays_purchase(merchant, location, pos_card)  # 5 % of 800 = 40 points
    till = login(owner)
    listed = till.get(f"/dashboard/till/purchases/?card={pos_card.number}")
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()["purchases"]] == [bought.pk]

    key = str(uuid.uuid4())
    part = post_json(till, "/dashboard/till/refund/", {"purchase_id": bought.pk, "amount": "200"}, key=key)
    assert part.status_code == 201, part.content
    assert part.json()["refund"]["points_reversed"] == 10
    # The same key again (a double tap) refunds once.
    again = post_json(till, "/dashboard/till/refund/", {"purchase_id": bought.pk, "amount": "200"}, key=key)
    assert again.status_code == 201 and Refund.objects.count() == 1

    rest = post_json(till, "/dashboard/till/refund/", {"purchase_id": bought.pk})
    assert rest.status_code == 201 and Decimal(rest.json()["refund"]["amount"]) == Decimal("600")
    bought.refresh_from_db()
    pos_card.refresh_from_db()
    assert bought.refunded_amount == bought.bill_amount and pos_card.balance == 0
    # Nothing is left to refund, so it is no longer offered; a further refund is refused.
    assert till.get(f"/dashboard/till/purchases/?card={pos_card.number}").json()["purchases"] == []
    more = post_json(till, "/dashboard/till/refund/", {"purchase_id": bought.pk, "amount": "1"})
    assert more.status_code == 422 and "already been refunded" in more.json()["error"]["message"]


def test_refund_over_what_is_left_is_refused(owner, merchant, location, pos_card):
    bought = yesterdays_purchase(merchant, location, pos_card)
    response = post_json(login(owner), "/dashboard/till/refund/", {"purchase_id": bought.pk, "amount": "900"})
    assert response.status_code == 422 and not Refund.objects.exists()


def test_cashier_refunds_only_when_the_owner_allows(cashier, owner, merchant, location, pos_card):
    bought = yesterdays_purchase(merchant, location, pos_card)
    till = login(cashier)
    assert 'id="refund-start"' not in till.get("/dashboard/till/").content.decode()
    refused = post_json(till, "/dashboard/till/refund/", {"purchase_id": bought.pk})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "refund_not_allowed"
    assert till.get(f"/dashboard/till/purchases/?card={pos_card.number}").status_code == 422
    assert not Refund.objects.exists()

    # The owner allows it on the till settings page.
    settings_page = login(owner).post(
        "/dashboard/till/settings/", {"till_max_bill": "100000", "cashiers_can_refund": "on"}
    )
    assert settings_page.status_code == 200
    assert 'id="refund-start"' in till.get("/dashboard/till/").content.decode()
    allowed = post_json(till, "/dashboard/till/refund/", {"purchase_id": bought.pk})
    assert allowed.status_code == 201 and Refund.objects.get().actor == cashier


def test_till_settings_are_the_owners(cashier, owner, merchant, location, pos_program):
    assert login(cashier).get("/dashboard/till/settings/").status_code == 403
    bad = login(owner).post("/dashboard/till/settings/", {"till_max_bill": "abc"})
    assert bad.status_code == 400 and "Enter an amount like 100000." in bad.content.decode()
    merchant.refresh_from_db()
    assert merchant.till_max_bill == Decimal("100000") and merchant.cashiers_can_refund is False


def test_another_merchants_purchase_cannot_be_refunded(owner, merchant, location, pos_card, other_merchant):
    from tests import factories

    other_location = factories.LocationFactory(merchant=other_merchant)
    from loyalty.enrollment.services import enroll_customer

    other_card = enroll_customer(merchant=other_merchant, phone="+79160000000", location=other_location)
    theirs = yesterdays_purchase(other_merchant, other_location, other_card)
    response = post_json(login(owner), "/dashboard/till/refund/", {"purchase_id": theirs.pk})
    assert response.status_code == 404 and not Refund.objects.exists()


# --- human errors and the usual maximum bill --------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Check the bill: enter an amount like 450 or 450.50."),
        ("ru", "Проверьте сумму чека: введите её так: 450 или 450,50."),
    ],
)
def test_bad_bill_reads_as_a_sentence(cashier, location, pos_card, language, expected):
    till = login(cashier, language)
    for bill in ("100000000000", "abc", "-5"):
        response = post_json(till, "/dashboard/till/quote/", {"card_number": pos_card.number, "bill_amount": bill})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["message"] == expected and "bill_amount" not in error["message"]
        assert list(error["fields"]) == ["bill_amount"]


def test_a_bill_above_the_usual_maximum_needs_confirming(cashier, merchant, location, pos_card):
    till = login(cashier)
    body = {"card_number": pos_card.number, "bill_amount": "99999999.99"}
    quote = post_json(till, "/dashboard/till/quote/", body).json()["quote"]
    assert quote["needs_confirmation"] is True
    assert (
        post_json(till, "/dashboard/till/quote/", {**body, "bill_amount": "450"}).json()["quote"]["needs_confirmation"]
        is False
    )

    refused = post_json(till, "/dashboard/till/purchase/", body)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "large_bill_unconfirmed"
    assert not Purchase.objects.exists()
    confirmed = post_json(till, "/dashboard/till/purchase/", {**body, "confirm_large_bill": True})
    assert confirmed.status_code == 201

    # The owner's own maximum counts.
    merchant.till_max_bill = Decimal("1000")
    merchant.save()
    assert post_json(till, "/dashboard/till/purchase/", {**body, "bill_amount": "1500"}).status_code == 422
    assert post_json(till, "/dashboard/till/purchase/", {**body, "bill_amount": "900"}).status_code == 201
