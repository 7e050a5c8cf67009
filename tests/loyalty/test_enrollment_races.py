"""Enrolment under races, on real PostgreSQL: the same phone enrolled from several places at once gets one
card, and a freshly drawn card number that is already taken is drawn again."""

import threading

import pytest
from django.db import connections

from loyalty.card_numbers import new_card_number
from loyalty.enrollment import services as enrollment
from loyalty.enrollment.services import enroll_customer
from loyalty.exceptions import AlreadyEnrolled, LoyaltyError
from loyalty.ledger.verification import verify_ledger
from loyalty.models import Card, Customer, LedgerEntry

THREADS = 8


@pytest.mark.django_db(transaction=True)
def test_the_same_phone_enrolled_at_once_gets_one_card(merchant, location, program):
    barrier = threading.Barrier(THREADS)
    cards, refused, errors = [], [], []

    def enrol(i):
        try:
            barrier.wait()
            # The same person, typed differently at each till.
            phone = "+7 916 555-44-33" if i % 2 else "8 (916) 5554433"
            cards.append(enroll_customer(merchant=merchant, phone=phone, name=f"Гость {i}", location=location))
        except AlreadyEnrolled:
            refused.append(i)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=enrol, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert len(cards) == 1 and len(refused) == THREADS - 1
    assert Customer.objects.filter(merchant=merchant, phone="+79165554433").count() == 1
    assert Card.objects.filter(merchant=merchant).count() == 1
    # One welcome bonus, on the one card.
    assert LedgerEntry.objects.filter(card__merchant=merchant).count() == 1
    assert verify_ledger(merchant_id=merchant.pk).ok


@pytest.mark.django_db
def test_a_card_number_already_taken_is_drawn_again(merchant, location, program, monkeypatch):
    first = enroll_customer(merchant=merchant, phone="+79160000001", location=location)
    # The next draws: the existing card's number (and barcode), then fresh ones.
    fresh = new_card_number()
    numbers = iter([first.number, fresh])
    barcodes = iter([first.barcode, "LC1-fresh-barcode-for-the-second-card"])
    monkeypatch.setattr(enrollment, "new_card_number", lambda: next(numbers))
    monkeypatch.setattr(enrollment, "new_barcode_payload", lambda: next(barcodes))
    second = enroll_customer(merchant=merchant, phone="+79160000002", location=location)
    assert second.number == fresh != first.number
    assert Card.objects.filter(number=first.number).count() == 1
    assert Card.objects.filter(merchant=merchant).count() == 2
    assert verify_ledger(merchant_id=merchant.pk).ok


@pytest.mark.django_db
def test_a_card_number_that_keeps_colliding_enrols_nobody(merchant, location, program, monkeypatch):
    first = enroll_customer(merchant=merchant, phone="+79160000001", location=location)
    monkeypatch.setattr(enrollment, "new_card_number", lambda: first.number)
    with pytest.raises(LoyaltyError) as error:
        enroll_customer(merchant=merchant, phone="+79160000002", location=location)
    assert error.value.code == "enrollment_failed"
    # Nothing half-made is left behind: no customer without a card.
    assert not Customer.objects.filter(merchant=merchant, phone="+79160000002").exists()
    assert Card.objects.filter(merchant=merchant).count() == 1
