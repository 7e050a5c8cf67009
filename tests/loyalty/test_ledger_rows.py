"""loyalty/ledger/rows.py: ``new_row`` builds the same unsaved row as Django's
constructor, cheaper; what it cannot mirror it leaves to the constructor."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db.models import signals

from loyalty.enrollment.services import enroll_customer
from loyalty.ledger import rows
from loyalty.ledger.rows import new_row
from loyalty.models import LedgerEntry, Lot, Purchase, TierChange

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _attributes(row) -> dict:
    return {name: value for name, value in vars(row).items() if name != "_state"}


def _same(built, constructed) -> None:
    assert type(built) is type(constructed)
    assert _attributes(built) == _attributes(constructed)
    assert built._state.adding and constructed._state.adding
    assert built._state.db == constructed._state.db
    assert built._state.fields_cache == constructed._state.fields_cache


@pytest.mark.django_db
def test_a_row_is_what_django_builds(merchant, location):
    card = enroll_customer(merchant=merchant, phone="+79161234567", name="Анна", location=location)
    purchase = {
        "merchant": merchant,
        "card": card,
        "location": location,
        "receipt_id": "R-1",
        "currency": "RUB",
        "bill_amount": Decimal("123.45"),
        "points_earned": 6,
        "program_version_id": 1,
        "idempotency_key": "key",
        "actor": None,
        "api_key": None,
        "created_at": NOW,
    }
    _same(new_row(Purchase, **purchase), Purchase(**purchase))
    # Defaults for what is left out (refunded_amount, points_reversed …), ids for relations.
    built = new_row(Purchase, merchant_id=merchant.pk, card_id=card.pk, created_at=NOW)
    _same(built, Purchase(merchant_id=merchant.pk, card_id=card.pk, created_at=NOW))
    assert built.card == card  # loaded by its id, as from Django's row

    lot = {"merchant_id": merchant.pk, "card_id": card.pk, "kind": "earn", "points": 5, "remaining": 5}
    unsaved = Purchase()
    built = new_row(Lot, purchase=unsaved, **lot)
    assert unsaved._state.db == "default"  # as Django's descriptor leaves it (below)
    unsaved._state.db = None
    constructed = Lot(purchase=unsaved, **lot)
    # created_at left out: the field's default, now(), for each of them.
    assert abs(built.created_at - constructed.created_at).total_seconds() < 60
    built.created_at = constructed.created_at = NOW
    _same(built, constructed)
    assert built.purchase is unsaved and unsaved._state.db == "default"
    entry = {"merchant_id": merchant.pk, "card_id": card.pk, "kind": "earn", "points": 5, "created_at": NOW}
    _same(new_row(LedgerEntry, lot=None, refund=None, **entry), LedgerEntry(lot=None, refund=None, **entry))


def test_an_unknown_field_is_refused_as_django_refuses_it():
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        new_row(Purchase, colour="red")


def test_a_model_with_init_receivers_is_built_by_django():
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    rows._specs.pop(TierChange, None)
    signals.post_init.connect(receiver, sender=TierChange)
    try:
        change = new_row(TierChange, reason="promotion")
    finally:
        signals.post_init.disconnect(receiver, sender=TierChange)
        rows._specs.pop(TierChange, None)
    assert seen == [change]


@pytest.mark.django_db
def test_a_loaded_row_is_what_the_orm_loads(merchant, location):
    from loyalty.ledger.rows import loaded_row
    from loyalty.models import Card

    card = enroll_customer(merchant=merchant, phone="+79161234567", name="Анна", location=location)
    columns = ["id", "merchant_id", "customer_id", "number", "balance", "tier_id", "last_purchase_at"]
    [values] = Card.objects.filter(pk=card.pk).values_list(*columns)
    built = loaded_row(Card, "default", dict(zip(columns, values, strict=True)))
    [loaded] = Card.objects.filter(pk=card.pk).only(*columns)
    assert _attributes(built) == _attributes(loaded)
    assert not built._state.adding and built._state.db == loaded._state.db == "default"
    assert built.get_deferred_fields() == loaded.get_deferred_fields() and "stamps" in built.get_deferred_fields()
    assert built.stamps == card.stamps  # a deferred field is read from the database, not defaulted
