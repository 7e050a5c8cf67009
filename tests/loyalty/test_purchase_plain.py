"""The purchase lane reads a plain body and writes its answer without DRF's
serializer machinery (loyalty/api/lane.py): both must be exactly what the
serializers give, or the body must be left to the serializer."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from loyalty import ledger
from loyalty import serializers as s
from loyalty.api.lane import plain_purchase_input, purchase_json
from loyalty.enrollment.services import enroll_customer
from loyalty.program.services import program_for, save_program
from tests import factories

pytestmark = pytest.mark.django_db

PLAIN = [
    {"card_number": "412345678903", "bill_amount": "450.00", "receipt_id": "T1-000123"},
    {"card_number": "1", "bill_amount": "0.01", "receipt_id": "a"},
    {"card_number": "0" * 32, "bill_amount": "9999999999.999", "receipt_id": "~" * 64},
    {"card_number": "412345678903", "bill_amount": "12.345", "receipt_id": "R/1#2"},
    {"card_number": "412345678903", "bill_amount": "1250", "receipt_id": "R-1"},
    {"card_number": "412345678903", "bill_amount": "0.5", "receipt_id": "R-1"},
]
# Valid or not, the serializer reads these (trimming, other fields, numbers, unicode, limits …).
NOT_PLAIN = [
    {"card_number": " 412345678903", "bill_amount": "450.00", "receipt_id": "T1"},
    {"card_number": "4123-4567-8903", "bill_amount": "450.00", "receipt_id": "T1"},
    {"card_number": "412345678903", "bill_amount": 450, "receipt_id": "T1"},
    {"card_number": "412345678903", "bill_amount": "0450.00", "receipt_id": "T1"},
    {"card_number": "412345678903", "bill_amount": "0.00", "receipt_id": "T1"},
    {"card_number": "412345678903", "bill_amount": "1.2345", "receipt_id": "T1"},
    {"card_number": "412345678903", "bill_amount": "450.00", "receipt_id": "чек 1"},
    {"card_number": "412345678903", "bill_amount": "450.00", "receipt_id": "T1 "},
    {"card_number": "412345678903", "bill_amount": "450.00", "receipt_id": "x" * 65},
    {"card_number": "4" * 33, "bill_amount": "450.00", "receipt_id": "T1"},
    {"card_number": "412345678903", "bill_amount": "450.00", "receipt_id": "T1", "redeem_points": 0},
    {"card_number": "412345678903", "bill_amount": "450.00", "receipt_id": "T1", "note": "x"},
    {"card_number": "412345678903", "bill_amount": "450.00"},
    {"card_number": 412345678903, "bill_amount": "450.00", "receipt_id": "T1"},
    {"card_number": "412345678903", "bill_amount": "450.00", "receipt_id": 1},
]


@pytest.mark.parametrize("body", PLAIN)
def test_a_plain_body_reads_as_the_serializer_reads_it(body):
    plain = plain_purchase_input(body)
    assert plain is not None
    expected = s.PurchaseInputSerializer().run_validation(body)
    assert plain == expected
    # The same decimals too (the serializer quantizes to three).
    assert str(plain["bill_amount"]) == str(expected["bill_amount"])


@pytest.mark.parametrize("body", NOT_PLAIN)
def test_any_other_body_is_left_to_the_serializer(body):
    assert plain_purchase_input(body) is None


@pytest.mark.parametrize(
    ("currency", "country", "zone", "bill"),
    [
        ("RUB", "RU", "Europe/Moscow", "1999.90"),
        ("JPY", "JP", "Asia/Tokyo", "1250"),
        ("KWD", "KW", "Asia/Kuwait", "12.345"),
        ("USD", "US", "UTC", "45.50"),
    ],
)
def test_the_answer_is_the_serializers_json(currency, country, zone, bill):
    merchant = factories.MerchantFactory(currency=currency, country=country, time_zone=zone, name="Café “Ёж”\u2028")
    location = factories.LocationFactory(merchant=merchant)
    owner = factories.UserFactory()
    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, welcome_bonus=0, returning_after_days=None)
    card = enroll_customer(merchant=merchant, phone="+79161234567", name="Анна", location=location)
    timezone.activate(merchant.tzinfo)
    try:
        for n in range(3):
            purchase = ledger.purchase(
                merchant=merchant,
                card=card,
                location=location,
                bill_amount=Decimal(bill),
                receipt_id=f"R-{n}",
                idempotency_key=uuid.uuid4().hex,
            )
            expected = JSONRenderer().render(s.PurchaseOutputSerializer(purchase, context={"merchant": merchant}).data)
            assert purchase_json(purchase) == expected
            assert json.loads(expected)["bill_amount"] == bill
    finally:
        timezone.deactivate()
