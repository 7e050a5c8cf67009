"""The support console: read-only ledger, phone search, adjust and block views."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from loyalty.models import Card, CardEvent, EntryKind, LedgerEntry
from merchants.models import User
from tests.loyalty.conftest import fresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def support(client):
    user = User.objects.create_superuser("support@platform.test", "correct-horse-battery")
    client.force_login(user)
    return user


@pytest.fixture
def data(card, buy, merchant):
    buy(card, "1000")
    return card


MODELS = [
    "program",
    "programversion",
    "tier",
    "customer",
    "card",
    "purchase",
    "refund",
    "lot",
    "ledgerentry",
    "cardevent",
    "tierchange",
]


def complete_form_data(response) -> dict:
    """What a browser would POST for the admin change form in ``response``: every editable field with
    its current value, and the inlines' management forms."""
    data = {}

    def add(bound_field):
        value = bound_field.value()
        if value is None or value is False:
            return
        if value is True:
            data[bound_field.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound_field.html_name] = [str(v) for v in value]
        else:
            data[bound_field.html_name] = value

    for bound_field in response.context["adminform"].form:
        add(bound_field)
    for inline in response.context.get("inline_admin_formsets") or []:
        formset = inline.formset
        for bound_field in formset.management_form:
            add(bound_field)
        for form in formset.forms:
            for bound_field in form:
                add(bound_field)
    return data


@pytest.mark.parametrize("model", MODELS)
def test_changelists_load(client, support, data, model):
    response = client.get(reverse(f"admin:loyalty_{model}_changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("typed", ["+79165551000", "8 916 555-10-00", "9165551000"])
def test_search_cards_and_ledger_by_phone_as_typed(client, support, data, typed):
    assert data.customer.phone == "+79165551000"
    expected = {
        "card": {data.pk},
        "customer": {data.customer.pk},
        "ledgerentry": set(LedgerEntry.objects.filter(card=data).values_list("pk", flat=True)),
        "purchase": set(data.purchases.values_list("pk", flat=True)),
    }
    assert all(expected.values())
    for model, pks in expected.items():
        response = client.get(reverse(f"admin:loyalty_{model}_changelist"), {"q": typed})
        assert data.number.encode() in response.content or data.customer.phone.encode() in response.content, model
        # The search found the customer's rows (the box only echoing the query is not enough).
        assert {obj.pk for obj in response.context["cl"].result_list} == pks, model
    response = client.get(reverse("admin:loyalty_card_changelist"), {"q": "+79990000000"})
    assert data.number.encode() not in response.content
    assert list(response.context["cl"].result_list) == []


def test_search_by_card_number(client, support, data):
    response = client.get(reverse("admin:loyalty_ledgerentry_changelist"), {"q": data.number})
    assert response.status_code == 200 and data.number.encode() in response.content


def test_ledger_is_read_only(client, support, data):
    entry = LedgerEntry.objects.first()
    assert client.get(reverse("admin:loyalty_ledgerentry_add")).status_code == 403
    assert client.get(reverse("admin:loyalty_ledgerentry_delete", args=[entry.pk])).status_code == 403
    response = client.post(reverse("admin:loyalty_ledgerentry_change", args=[entry.pk]), {"points": 999})
    assert response.status_code == 403
    assert LedgerEntry.objects.get(pk=entry.pk).points == entry.points


def test_card_change_form_cannot_overwrite_balance(client, support, data):
    response = client.get(reverse("admin:loyalty_card_change", args=[data.pk]))
    assert b"Adjust balance" in response.content or "Изменить баланс".encode() in response.content
    # Every field the form offers, as the browser would submit them, plus an attempt at the balance.
    form = response.context["adminform"].form
    assert "balance" not in form.fields, "the balance is editable in the support console"
    assert b'name="balance"' not in response.content
    posted = {**complete_form_data(response), "balance": 100000}
    saved = client.post(reverse("admin:loyalty_card_change", args=[data.pk]), posted)
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    assert fresh(data).balance == 50


def test_adjust_balance_view(client, support, data):
    url = reverse("admin:loyalty_card_adjust", args=[data.pk])
    form = client.get(url)
    assert form.status_code == 200
    key = form.context["form"].initial["idempotency_key"]
    response = client.post(url, {"points": 25, "reason": "", "idempotency_key": key})
    assert response.status_code == 200 and response.context["form"].errors["reason"]
    assert fresh(data).balance == 50
    response = client.post(url, {"points": 25, "reason": "Cold coffee", "idempotency_key": key})
    assert response.status_code == 302
    # A double submit of the same form writes nothing more.
    client.post(url, {"points": 25, "reason": "Cold coffee", "idempotency_key": key})
    assert fresh(data).balance == 75
    entry = LedgerEntry.objects.get(kind=EntryKind.ADJUSTMENT)
    assert (entry.actor, entry.reason) == (support, "Cold coffee")
    assert LogEntry.objects.filter(object_id=str(data.pk)).count() == 1
    response = client.post(url, {"points": -1000, "reason": "too much", "idempotency_key": "other"})
    assert response.status_code == 200 and response.context["form"].errors
    assert fresh(data).balance == 75


def test_block_card_view(client, support, data):
    url = reverse("admin:loyalty_card_block", args=[data.pk])
    assert client.post(url, {"reason": ""}).status_code == 200
    assert fresh(data).status == "active"
    assert client.post(url, {"reason": "Lost card"}).status_code == 302
    assert fresh(data).status == "blocked"
    assert client.post(url, {"reason": "Found"}).status_code == 302
    assert fresh(data).status == "active"
    assert list(CardEvent.objects.order_by("pk").values_list("kind", flat=True)) == ["blocked", "unblocked"]


def test_program_admin_saves_a_new_version(client, support, data, merchant):
    from loyalty.models import Program

    program = Program.objects.get(merchant=merchant)
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["adminform"].form
    post = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None:
            value = ""
        post[name] = "on" if value is True else ("" if value is False else value)
    post["cashback_percent"] = "8"
    tiers = list(program.tiers.order_by("threshold"))
    post.update(
        {
            "tiers-TOTAL_FORMS": len(tiers),
            "tiers-INITIAL_FORMS": len(tiers),
            "tiers-MIN_NUM_FORMS": 0,
            "tiers-MAX_NUM_FORMS": 1000,
        }
    )
    for i, tier in enumerate(tiers):
        post.update(
            {
                f"tiers-{i}-id": tier.pk,
                f"tiers-{i}-program": program.pk,
                f"tiers-{i}-name": tier.name,
                f"tiers-{i}-threshold": tier.threshold,
                f"tiers-{i}-earn_rate": tier.earn_rate or "",
                f"tiers-{i}-discount_percent": tier.discount_percent,
            }
        )
    response = client.post(url, post)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    program.refresh_from_db()
    assert program.cashback_percent == 8
    assert program.current_version.number == 3  # the fixture's rules() made version 2


def test_merchant_staff_cannot_use_admin(client, owner, data):
    client.force_login(owner)
    response = client.get(reverse("admin:loyalty_card_adjust", args=[data.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert Card.objects.get(pk=data.pk).balance == 50
