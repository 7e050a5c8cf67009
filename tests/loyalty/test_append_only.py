"""The ledger is append-only in the database itself."""

import pytest
from django.db import DatabaseError, connection, transaction

from loyalty import ledger
from loyalty.models import LedgerEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(card, merchant, owner):
    return ledger.adjust(merchant=merchant, card=card, points=100, reason="gift", actor=owner)


def raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_raw_sql_update_of_a_ledger_entry_fails(entry):
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE loyalty_ledgerentry SET points = 1000000 WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).points == 100


def test_raw_sql_delete_of_a_ledger_entry_fails(entry):
    with pytest.raises(DatabaseError, match="append-only"):
        raw("DELETE FROM loyalty_ledgerentry WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        raw("DELETE FROM loyalty_ledgerentry", [])
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_orm_update_and_delete_fail(entry):
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            LedgerEntry.objects.filter(pk=entry.pk).update(points=5)
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            LedgerEntry.objects.filter(pk=entry.pk).delete()


def test_inserts_still_work(entry, card, merchant, owner):
    ledger.adjust(merchant=merchant, card=card, points=-40, reason="correction", actor=owner)
    assert LedgerEntry.objects.filter(card=card).count() == 2
