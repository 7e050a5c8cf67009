"""Rule versions: every save creates a new immutable version; entries record
the version that produced them; changing rules never rewrites history."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import translation

from loyalty.exceptions import InvalidProgram
from loyalty.models import LedgerEntry, Program, ProgramVersion
from loyalty.program.services import program_for, save_program
from tests.factories import MerchantFactory
from tests.loyalty.conftest import T0, fresh

pytestmark = pytest.mark.django_db


def test_default_program_is_a_cafe_program(merchant):
    program = program_for(merchant=merchant)
    assert program.mechanic == "cashback"
    assert (program.cashback_percent, program.welcome_bonus, program.max_redeem_percent) == (5, 100, 30)
    assert [t.name for t in program.tiers.order_by("threshold")] == ["Бронза", "Серебро", "Золото"]
    assert program.current_version.number == 1
    assert program_for(merchant=merchant).pk == program.pk  # get, not create again


@pytest.mark.parametrize(
    ("country", "names"),
    [
        ("RU", ["Бронза", "Серебро", "Золото"]),
        ("KZ", ["Бронза", "Серебро", "Золото"]),
        ("BY", ["Бронза", "Серебро", "Золото"]),
        ("GB", ["Bronze", "Silver", "Gold"]),
        ("JP", ["Bronze", "Silver", "Gold"]),
    ],
)
@pytest.mark.parametrize("page_language", ["ru", "en"])
def test_default_tier_names_speak_the_merchants_language(country, names, page_language):
    # Issue 12: a Russian café's customers see "Золото", not "Gold", whoever's request made the
    # program (the language of the page that happened to create it does not matter).
    merchant = MerchantFactory(country=country)
    with translation.override(page_language):
        program = program_for(merchant=merchant)
    assert [t.name for t in program.tiers.order_by("threshold")] == names
    assert [t["name"] for t in program.current_version.rules["tiers"]] == names


def test_each_save_creates_a_new_version(merchant, owner):
    program_for(merchant=merchant)
    v2 = save_program(merchant=merchant, actor=owner, cashback_percent=Decimal("7"))
    v3 = save_program(merchant=merchant, actor=owner, welcome_bonus=50)
    assert (v2.number, v3.number) == (2, 3)
    assert v2.rules["cashback_percent"] == "7.00" and v2.rules["welcome_bonus"] == 100
    assert v3.rules["cashback_percent"] == "7.00" and v3.rules["welcome_bonus"] == 50
    assert v3.created_by == owner
    assert Program.objects.get(merchant=merchant).current_version == v3


def test_entries_record_their_version_and_history_is_never_rewritten(card, buy, merchant, owner):
    first = buy(card, "1000")
    v_first = first.program_version
    save_program(merchant=merchant, actor=owner, cashback_percent=Decimal("10"))
    second = buy(card, "1000", now=T0 + timedelta(minutes=1))
    assert (first.points_earned, second.points_earned) == (50, 100)
    assert second.program_version.number == v_first.number + 1
    e1 = LedgerEntry.objects.get(purchase=first)
    assert e1.program_version_id == v_first.pk and e1.points == 50
    assert ProgramVersion.objects.get(pk=v_first.pk).rules["cashback_percent"] == "5.00"
    assert fresh(card).balance == 150


def test_versions_are_immutable(merchant):
    version = program_for(merchant=merchant).current_version
    with pytest.raises(ValueError):
        version.save()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_programversion SET number = 99 WHERE id = %s", [version.pk])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cashback_percent": Decimal("101")}, "cashback_percent"),
        ({"max_redeem_percent": Decimal("-1")}, "max_redeem_percent"),
        ({"mechanic": "lottery"}, "mechanic"),
        ({"point_value": Decimal("0")}, "point_value"),
        ({"stamps_per_reward": 0}, "stamps_per_reward"),
        ({"tiers": []}, "tiers"),
        ({"tiers": [{"name": "A", "threshold": Decimal("100")}]}, "tiers"),
        ({"tiers": [{"name": "A", "threshold": 0}, {"name": "a", "threshold": 5}]}, "tiers"),
        ({"tiers": [{"name": "A", "threshold": 0}, {"name": "B", "threshold": 0}]}, "tiers"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_rules_are_refused_and_change_nothing(merchant, owner, changes, field):
    program_for(merchant=merchant)
    with pytest.raises(InvalidProgram) as exc:
        save_program(merchant=merchant, actor=owner, **changes)
    assert field in exc.value.errors
    assert ProgramVersion.objects.filter(merchant=merchant).count() == 1
    program = Program.objects.get(merchant=merchant)
    assert program.cashback_percent == 5 and program.mechanic == "cashback"
    assert program.tiers.count() == 3


def test_changing_mechanic_resets_tier_earn_rates(merchant, owner):
    program_for(merchant=merchant)
    version = save_program(merchant=merchant, actor=owner, mechanic="points")
    assert all(t["earn_rate"] is None for t in version.rules["tiers"])
