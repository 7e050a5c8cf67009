"""Issue 12: program settings have sensible bounds, enforced by save_program as
well as the page, and the errors speak the merchant's language."""

from decimal import Decimal

import pytest
from django.utils import translation

from loyalty.exceptions import InvalidProgram
from loyalty.models import Program, ProgramVersion, Tier
from loyalty.program.services import save_program
from tests.loyalty.test_program_page import URL, form_data

pytestmark = pytest.mark.django_db

HUGE = 10**12


@pytest.mark.parametrize(
    "field", ["welcome_bonus", "birthday_bonus", "referral_referrer_bonus", "referral_friend_bonus"]
)
def test_service_refuses_a_bonus_of_a_trillion(merchant, owner, program, field):
    with translation.override("en"), pytest.raises(InvalidProgram) as caught:
        save_program(merchant=merchant, actor=owner, **{field: HUGE})
    assert caught.value.errors[field] == ["At most 100,000 points."]
    program.refresh_from_db()
    assert getattr(program, field) < HUGE
    assert ProgramVersion.objects.filter(merchant=merchant).count() == 1


def test_service_accepts_the_maximum_bonus(merchant, owner, program):
    save_program(merchant=merchant, actor=owner, welcome_bonus=100_000)
    assert Program.objects.get(merchant=merchant).welcome_bonus == 100_000


@pytest.mark.parametrize("name", ["", "   "])
def test_service_refuses_an_empty_program_name(merchant, owner, program, name):
    with translation.override("en"), pytest.raises(InvalidProgram) as caught:
        save_program(merchant=merchant, actor=owner, name=name)
    assert caught.value.errors["name"] == ["Give the program a name: customers see it on their card."]
    assert Program.objects.get(merchant=merchant).name == merchant.name


def test_service_refuses_inverted_tiers_and_says_which(merchant, owner, program):
    tiers = [
        {"name": "Bronze", "threshold": Decimal("0"), "discount_percent": Decimal("3")},
        {"name": "Gold", "threshold": Decimal("30000"), "discount_percent": Decimal("10")},
        {"name": "Silver", "threshold": Decimal("10000"), "discount_percent": Decimal("5")},
    ]
    with translation.override("en"), pytest.raises(InvalidProgram) as caught:
        save_program(merchant=merchant, actor=owner, tiers=tiers)
    assert caught.value.errors["tiers"] == [
        "Tier 3 “Silver” starts at 10,000, below Tier 2 “Gold” (30,000). "
        "List the tiers from the lowest spend to the highest."
    ]
    assert ProgramVersion.objects.filter(merchant=merchant).count() == 1


def test_cashback_tier_rate_is_a_percentage(merchant, owner, program):
    tiers = [{"name": "Bronze", "threshold": Decimal("0"), "earn_rate": Decimal("150")}]
    with translation.override("en"), pytest.raises(InvalidProgram) as caught:
        save_program(merchant=merchant, actor=owner, tiers=tiers)
    assert caught.value.errors["tiers"] == ["Tier 1 “Bronze”: At most 100 %."]


ENGLISH = [
    ("welcome_bonus", str(HUGE), "At most 100,000 points."),
    ("cashback_percent", "150", "At most 100 %."),
    ("cashback_percent", "2.555", "At most 2 digits after the decimal point."),
    ("max_redeem_percent", "-1", "At least 0 %."),
    ("birthday_days_before", "90", "At most 60 days."),
    ("points_expiry_days", "0", "At least 1 day."),
    ("activation_delay_hours", "5000", "At most 2,160 hours."),
    ("returning_multiplier", "1000", "At most ×10."),
    ("point_value", "123456789", "At most 1,000,000."),
    ("welcome_bonus", "1.5", "Enter a whole number."),
    ("name", "", "Give the program a name: customers see it on their card."),
]

RUSSIAN = [
    ("welcome_bonus", str(HUGE), "Не больше 100\xa0000 баллов."),
    ("cashback_percent", "150", "Не больше 100 %."),
    ("birthday_days_before", "90", "Не больше 60 дней."),
    ("name", " ", "Укажите название программы: клиенты видят его на карте."),
]


def _post(client, field, value, language):
    data = form_data(client)
    data[field] = value
    return client.post(URL, data, HTTP_ACCEPT_LANGUAGE=language)


@pytest.mark.parametrize(("field", "value", "message"), ENGLISH)
def test_page_errors_in_english(client, owner, merchant, field, value, message):
    client.force_login(owner)
    response = _post(client, field, value, "en")
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert message.encode() in response.content.replace(b"&#x27;", b"'")
    assert ProgramVersion.objects.filter(merchant=merchant).count() == 1


@pytest.mark.parametrize(("field", "value", "message"), RUSSIAN)
def test_page_errors_in_russian(client, owner, merchant, field, value, message):
    client.force_login(owner)
    response = _post(client, field, value, "ru")
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]


def test_page_refuses_inverted_tiers(client, owner, merchant):
    client.force_login(owner)
    data = form_data(client)
    data["tiers-1-threshold"], data["tiers-2-threshold"] = "30000", "10000"  # Серебро above Золото
    response = client.post(URL, data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    errors = list(response.context["tiers"].non_form_errors())
    assert errors == [
        "Tier 3 “Золото” starts at 10,000, below Tier 2 “Серебро” (30,000). "
        "List the tiers from the lowest spend to the highest."
    ]
    assert list(Tier.objects.filter(merchant=merchant).order_by("threshold").values_list("name", flat=True)) == [
        "Бронза",
        "Серебро",
        "Золото",
    ]


def test_page_tier_discount_error_is_human(client, owner, merchant):
    client.force_login(owner)
    data = form_data(client)
    data["tiers-0-discount_percent"] = "1000"
    response = client.post(URL, data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.context["tiers"].forms[0].errors["discount_percent"] == ["At most 100 %."]
