"""The owner's safeguards page (issue 13): the retention period of inactive customers'
personal data and the approval threshold of balance corrections, editable in the
dashboard (they were admin-only), within bounds, with errors in the owner's language,
and audited with the values before and after."""

from __future__ import annotations

import pytest
from django.urls import reverse

from merchants.models import AuditEvent, Merchant

pytestmark = pytest.mark.django_db

URL = "/dashboard/settings/safeguards/"


def post(client, years="", threshold="", language="ru"):
    return client.post(
        URL,
        {"customer_retention_years": years, "adjustment_approval_threshold": threshold},
        headers={"Accept-Language": language},
    )


def errors(response, field):
    return [str(e) for e in response.context["form"].errors.get(field, [])]


def test_the_owner_sets_both_and_the_change_is_audited(client, owner, merchant):
    client.force_login(owner)
    page = client.get(URL, headers={"Accept-Language": "ru"})
    assert page.status_code == 200 and "Персональные данные и подтверждения" in page.content.decode()
    response = post(client, years="3", threshold="5000")
    assert response.status_code == 302 and response.url == reverse("safeguards")
    merchant.refresh_from_db()
    assert (merchant.customer_retention_years, merchant.adjustment_approval_threshold) == (3, 5000)
    event = AuditEvent.objects.get(action="merchant.safeguards_changed")
    assert event.actor_id == owner.pk and event.merchant_id == merchant.pk
    assert event.before == {"adjustment_approval_threshold": None, "customer_retention_years": None}
    assert event.after == {"adjustment_approval_threshold": 5000, "customer_retention_years": 3}
    hub = client.get(reverse("merchant_settings"), headers={"Accept-Language": "ru"}).content.decode()
    assert "данные хранятся 3 года после последнего визита" in hub and "подтверждение свыше 5000 баллов" in hub

    # Emptied: both off again.
    assert post(client).status_code == 302
    merchant.refresh_from_db()
    assert (merchant.customer_retention_years, merchant.adjustment_approval_threshold) == (None, None)
    assert AuditEvent.objects.filter(action="merchant.safeguards_changed").count() == 2
    # Saving unchanged values records nothing.
    assert post(client).status_code == 302
    assert AuditEvent.objects.filter(action="merchant.safeguards_changed").count() == 2


@pytest.mark.parametrize(
    ("years", "threshold", "field", "russian", "english"),
    [
        ("0", "", "customer_retention_years", "Введите от 1 до 100 лет", "Enter from 1 to 100 years"),
        ("101", "", "customer_retention_years", "Введите от 1 до 100 лет", "Enter from 1 to 100 years"),
        ("два", "", "customer_retention_years", "Введите целое число лет", "Enter a whole number of years"),
        ("2.5", "", "customer_retention_years", "Введите целое число лет", "Enter a whole number of years"),
        ("", "0", "adjustment_approval_threshold", "Введите от 1 до 10", "Enter from 1 to 10"),
        ("", "-5", "adjustment_approval_threshold", "Введите от 1 до 10", "Enter from 1 to 10"),
        ("", "10000001", "adjustment_approval_threshold", "Введите от 1 до 10", "Enter from 1 to 10"),
        ("", "много", "adjustment_approval_threshold", "Введите целое число баллов", "Enter a whole number of points"),
    ],
)
def test_bad_values_are_refused_in_the_owners_language_and_change_nothing(
    client, owner, merchant, years, threshold, field, russian, english
):
    merchant.customer_retention_years, merchant.adjustment_approval_threshold = 5, 1000
    merchant.save()
    client.force_login(owner)
    for language, text in (("ru", russian), ("en", english)):
        response = post(client, years=years, threshold=threshold, language=language)
        assert response.status_code == 200
        assert any(message.startswith(text) for message in errors(response, field)), errors(response, field)
    merchant = Merchant.objects.get(pk=merchant.pk)
    assert (merchant.customer_retention_years, merchant.adjustment_approval_threshold) == (5, 1000)
    assert not AuditEvent.objects.filter(action="merchant.safeguards_changed").exists()


def test_only_the_owner_opens_the_page(client, marketer, cashier, merchant):
    for user in (marketer, cashier):
        client.force_login(user)
        assert client.get(URL).status_code in (403, 302)
        assert post(client, years="1", threshold="1").status_code in (403, 302)
    merchant.refresh_from_db()
    assert merchant.customer_retention_years is None and merchant.adjustment_approval_threshold is None


def test_the_threshold_set_by_the_owner_holds_supports_adjustments(client, owner, merchant, location):
    """The value saved here is the one the support console's adjustment obeys."""
    from loyalty.ledger.approvals import needs_approval

    client.force_login(owner)
    assert post(client, years="", threshold="500").status_code == 302
    merchant.refresh_from_db()
    assert not needs_approval(merchant=merchant, points=500)
    assert needs_approval(merchant=merchant, points=501) and needs_approval(merchant=merchant, points=-501)
