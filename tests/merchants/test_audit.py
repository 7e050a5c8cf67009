"""The audit log (issue 13): sensitive actions in the dashboard, in the services and
in admin are recorded with who, when, from where, on what, before and after; the
log is append-only in PostgreSQL; owners read their own merchant's events."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from loyalty import ledger
from loyalty.enrollment.services import enroll_customer
from loyalty.program.services import program_for, save_program
from merchants import audit
from merchants.admin_audit import AuditedAdminMixin
from merchants.models import AuditEvent, Role, User
from tests import factories
from tests.loyalty.test_admin import complete_form_data
from tests.merchants.helpers import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def support(db):
    return User.objects.create_superuser("support@platform.test", "correct-horse-battery")


@pytest.fixture
def card(merchant, location):
    program_for(merchant=merchant)
    return enroll_customer(merchant=merchant, phone="+79165550101", name="Анна", location=location)


def only(action: str, **filters) -> AuditEvent:
    events = list(AuditEvent.objects.filter(action=action, **filters))
    assert len(events) == 1, [(e.action, e.target_label) for e in AuditEvent.objects.all()]
    return events[0]


def raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_the_log_is_append_only_in_the_database(merchant, owner):
    event = audit.record(action="api_key.created", merchant=merchant, actor=owner, after={"name": "Till"})
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE merchants_auditevent SET action = 'nothing' WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError, match="append-only"):
        raw("DELETE FROM merchants_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "api_key.created"


def test_api_key_created_and_revoked_in_the_dashboard(client, merchant, owner, location, settings):
    settings.BEHIND_HTTPS_PROXY = True
    login(client, owner)
    client.post(
        reverse("api_key_create"),
        {"location": location.pk, "name": "Касса 1"},
        HTTP_X_FORWARDED_FOR="10.0.0.1, 203.0.113.5",
    )
    created = only("api_key.created")
    assert (created.merchant_id, created.actor_id, created.actor_label) == (merchant.pk, owner.pk, owner.email)
    assert created.ip_address == "203.0.113.5" and created.source == "web"
    assert created.after["name"] == "Касса 1" and created.target_type == "merchants.apikey"
    assert "key_hash" not in created.after and not any("lk_" in str(v) for v in created.after.values())

    client.post(reverse("api_key_revoke", args=[created.target_id]), HTTP_X_FORWARDED_FOR="203.0.113.6")
    revoked = only("api_key.revoked")
    assert (revoked.actor_id, revoked.ip_address, revoked.target_id) == (owner.pk, "203.0.113.6", created.target_id)
    # A second revoke changes nothing and records nothing.
    client.post(reverse("api_key_revoke", args=[created.target_id]))
    assert AuditEvent.objects.filter(action="api_key.revoked").count() == 1


def test_staff_invited_role_changed_and_switched_off(client, merchant, owner, cashier):
    login(client, owner)
    client.post(reverse("invitation_create"), {"email": "new@zerno.test", "role": Role.MARKETER})
    assert only("staff.invited").after == {"email": "new@zerno.test", "role": "marketer"}
    client.post(reverse("staff_role", args=[cashier.pk]), {"role": Role.MARKETER})
    changed = only("staff.role_changed")
    assert (changed.before, changed.after, changed.actor_id) == ({"role": "cashier"}, {"role": "marketer"}, owner.pk)
    client.post(reverse("staff_deactivate", args=[cashier.pk]))
    assert only("staff.removed", target_id=str(cashier.pk)).after == {"is_active": False}


def test_program_change_records_rules_and_tiers_before_and_after(merchant, owner):
    program = program_for(merchant=merchant)
    old_percent = program.cashback_percent
    save_program(merchant=merchant, actor=owner, cashback_percent=7)
    event = only("program.changed")
    assert event.before == {"cashback_percent": str(old_percent)}
    assert event.after == {"cashback_percent": "7.00", "version": 2}
    assert event.actor_id == owner.pk
    # Saving the same values again changes nothing and records nothing.
    save_program(merchant=merchant, actor=owner, cashback_percent=7)
    assert AuditEvent.objects.filter(action="program.changed").count() == 1


def test_balance_adjusted_through_the_admin_view_records_the_service_and_the_admin_change(client, support, card):
    before = card.balance
    client.force_login(support)
    url = reverse("admin:loyalty_card_adjust", args=[card.pk])
    form = client.get(url).context["form"]
    client.post(
        url,
        {"points": 150, "reason": "Жалоба клиента", "idempotency_key": form.initial["idempotency_key"]},
        REMOTE_ADDR="192.0.2.44",
    )
    event = only("balance.adjusted")
    assert event.merchant_id == card.merchant_id and event.actor_id == support.pk
    assert event.before == {"balance": before} and event.after == {
        "balance": before + 150,
        "points": 150,
        "entry_id": event.after["entry_id"],
    }
    assert event.reason == "Жалоба клиента" and event.ip_address == "192.0.2.44" and event.source == "admin"
    assert only("admin.changed", target_id=str(card.pk)).reason == "Баланс изменён на +150: Жалоба клиента"


def test_blocking_a_card_is_recorded(merchant, owner, card):
    ledger.set_card_blocked(merchant=merchant, card=card, blocked=True, reason="Потеряна", actor=owner)
    assert only("card.blocked").reason == "Потеряна"


def test_every_admin_change_is_recorded_with_values_before_and_after(client, support, merchant):
    client.force_login(support)
    url = reverse("admin:merchants_merchant_change", args=[merchant.pk])
    data = complete_form_data(client.get(url))
    data["name"] = "Кофейня «Зерно» на Тверской"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    event = only("admin.changed", target_type="merchants.merchant")
    assert event.before == {"name": "Кофейня «Зерно»"} and event.after == {"name": "Кофейня «Зерно» на Тверской"}
    assert event.merchant_id == merchant.pk and event.actor_id == support.pk


def test_admin_deletion_is_recorded(client, support, merchant):
    client.force_login(support)
    location = factories.LocationFactory(merchant=merchant, name="Закрытая точка")
    response = client.post(reverse("admin:merchants_location_delete", args=[location.pk]), {"post": "yes"})
    assert response.status_code == 302
    event = only("admin.deleted")
    assert event.before["name"] == "Закрытая точка" and event.merchant_id == merchant.pk


def test_user_admin_changes_never_copy_the_password(client, support, owner):
    client.force_login(support)
    url = reverse("admin:merchants_user_change", args=[owner.pk])
    data = complete_form_data(client.get(url))
    data["full_name"] = "Ольга"
    assert client.post(url, data).status_code == 302
    event = only("admin.changed", target_type="merchants.user")
    assert event.after == {"full_name": "Ольга"}
    assert "password" not in str(AuditEvent.objects.values_list("before", "after"))


def test_every_registered_admin_is_audited():
    assert admin.site._registry
    missing = [type(m).__name__ for m in admin.site._registry.values() if not isinstance(m, AuditedAdminMixin)]
    assert not missing


def test_owner_sees_their_merchants_events_only(client, merchant, owner, marketer, other_merchant, other_owner):
    audit.record(action="api_key.created", merchant=merchant, actor=owner, target_label="Касса на Тверской")
    audit.record(action="api_key.created", merchant=other_merchant, actor=other_owner, target_label="Чужая касса")
    login(client, owner)
    page = client.get(reverse("audit_log")).content.decode()
    assert "Касса на Тверской" in page and "Чужая касса" not in page
    assert "Создан ключ API" in page
    login(client, marketer)
    assert client.get(reverse("audit_log")).status_code == 403


def test_the_audit_log_filters_by_action(client, merchant, owner):
    audit.record(action="api_key.created", merchant=merchant, actor=owner, target_label="Касса А")
    audit.record(action="staff.invited", merchant=merchant, actor=owner, target_label="bob@zerno.test")
    login(client, owner)
    page = client.get(reverse("audit_log"), {"action": "staff.invited"}).content.decode()
    assert "bob@zerno.test" in page and "Касса А" not in page
