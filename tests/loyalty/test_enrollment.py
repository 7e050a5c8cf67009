"""Customers and cards: enrolment, phones, consent history, card numbers, lookup."""

from datetime import date, timedelta

import pytest

from loyalty.card_numbers import luhn_valid
from loyalty.enrollment.services import enroll_customer, record_consent
from loyalty.exceptions import AlreadyEnrolled, CardNotFound, InvalidPhone, LoyaltyError
from loyalty.ledger.selectors import card_history, card_lookup
from loyalty.models import Card, ConsentRecord, Customer
from tests.loyalty.conftest import T0

pytestmark = pytest.mark.django_db


def test_enroll_normalises_phone_and_creates_card(merchant, location, program):
    card = enroll_customer(
        merchant=merchant,
        phone="8 (916) 123-45-67",
        name=" Анна ",
        email="Anna@Example.com",
        birthday=date(1990, 5, 1),
        location=location,
        source="qr",
        now=T0,
    )
    customer = card.customer
    assert customer.phone == "+79161234567"
    assert (customer.name, customer.email, customer.source) == ("Анна", "anna@example.com", "qr")
    assert customer.joined_location == location
    assert len(customer.referral_code) == 8
    assert card.status == "active" and card.tier.name == "Бронза"
    assert card.balance == 100  # welcome bonus


def test_one_card_per_phone_per_merchant(merchant, other_merchant, program):
    enroll_customer(merchant=merchant, phone="+79161234567")
    with pytest.raises(AlreadyEnrolled) as exc:
        enroll_customer(merchant=merchant, phone="89161234567")
    assert (exc.value.code, exc.value.field) == ("already_enrolled", "phone")
    assert Customer.objects.count() == 1
    # The same person may join another merchant.
    enroll_customer(merchant=other_merchant, phone="+79161234567")
    assert Customer.objects.count() == 2


@pytest.mark.parametrize("phone", ["", "12", "not a phone", "+7 000 000 00 00", "+" + "9" * 40])
def test_invalid_phone(merchant, program, phone):
    with pytest.raises(InvalidPhone) as exc:
        enroll_customer(merchant=merchant, phone=phone)
    assert exc.value.field == "phone"
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"birthday": date(2100, 1, 1)}, "birthday"),
        ({"source": "billboard"}, "source"),
    ],
)
def test_bad_customer_details(merchant, program, kwargs, field):
    with pytest.raises(LoyaltyError) as exc:
        enroll_customer(merchant=merchant, phone="+79161234567", **kwargs)
    assert exc.value.field == field
    assert not Customer.objects.exists() and not Card.objects.exists()


def test_location_of_another_merchant_is_refused(merchant, program, other_merchant):
    from tests.factories import LocationFactory

    with pytest.raises(LoyaltyError):
        enroll_customer(merchant=merchant, phone="+79161234567", location=LocationFactory(merchant=other_merchant))


def test_consent_is_a_history(merchant, program, cashier):
    card = enroll_customer(
        merchant=merchant,
        phone="+79161234567",
        marketing_consent=True,
        consent_channel="qr",
        consent_text_version="2026-01",
        now=T0,
    )
    customer = card.customer
    record_consent(
        merchant=merchant, customer=customer, granted=False, channel="sms", actor=cashier, now=T0 + timedelta(days=1)
    )
    record_consent(
        merchant=merchant,
        customer=customer,
        granted=True,
        channel="web",
        text_version="2026-02",
        now=T0 + timedelta(days=2),
    )
    history = list(ConsentRecord.objects.filter(customer=customer).order_by("created_at"))
    assert [(r.granted, r.channel, r.text_version) for r in history] == [
        (True, "qr", "2026-01"),
        (False, "sms", ""),
        (True, "web", "2026-02"),
    ]
    customer.refresh_from_db()
    assert customer.marketing_consent is True


def test_no_consent_no_record(merchant, program):
    card = enroll_customer(merchant=merchant, phone="+79161234567")
    assert not ConsentRecord.objects.filter(customer=card.customer).exists()
    assert card.customer.marketing_consent is False


def test_card_numbers_are_random_with_a_check_digit(merchant, program):
    cards = [enroll_customer(merchant=merchant, phone=f"+7916123{i:04d}") for i in range(20)]
    numbers = [c.number for c in cards]
    assert all(len(n) == 12 and luhn_valid(n) for n in numbers)
    assert len(set(numbers)) == 20
    # Not sequential: consecutive cards differ in more than the last digits.
    assert len({n[:6] for n in numbers}) > 10
    assert len({c.barcode for c in cards}) == 20
    assert all(c.barcode not in c.number and c.number not in c.barcode for c in cards)


def test_card_lookup_by_phone_number_and_barcode(merchant, program, other_merchant):
    card = enroll_customer(merchant=merchant, phone="+79161234567")
    assert card_lookup(merchant=merchant, phone="8 916 123 45 67") == card
    spaced = " ".join([card.number[:4], card.number[4:8], card.number[8:]])
    assert card_lookup(merchant=merchant, card_number=spaced) == card
    assert card_lookup(merchant=merchant, barcode=card.barcode) == card
    for kwargs in ({"phone": "+79161234568"}, {"card_number": "123"}, {"barcode": "x"}):
        with pytest.raises(CardNotFound):
            card_lookup(merchant=merchant, **kwargs)
    # Another merchant's card is exactly as missing as a missing one.
    with pytest.raises(CardNotFound):
        card_lookup(merchant=other_merchant, barcode=card.barcode)
    with pytest.raises(InvalidPhone):
        card_lookup(merchant=merchant, phone="12")
    with pytest.raises(LoyaltyError):
        card_lookup(merchant=merchant, phone="+79161234567", barcode=card.barcode)


def test_card_history(card, buy, merchant, other_merchant):
    for i in range(3):
        buy(card, "1000", now=T0 + timedelta(minutes=i))
    entries = list(card_history(merchant=merchant, card=card, limit=2))
    assert len(entries) == 2 and entries[0].created_at > entries[1].created_at
    with pytest.raises(CardNotFound):
        card_history(merchant=other_merchant, card=card)
