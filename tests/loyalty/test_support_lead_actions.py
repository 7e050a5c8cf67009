"""Support lead's actions (issue 13) through admin's own views: erase a
customer's personal data on request, the retention job, and merging two
customers entry by entry. Each needs a reason, is recorded in the audit log,
is refused to a support agent, and leaves verify_ledger passing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from campaigns.models import TelegramLink
from loyalty import ledger
from loyalty.customers.tasks import apply_retention_task
from loyalty.enrollment.services import enroll_customer
from loyalty.ledger.verification import verify_ledger
from loyalty.models import Card, ConsentRecord, Customer, EntryKind, LedgerEntry, Lot
from loyalty.program.services import program_for
from loyalty.wallet import contract as wallet
from merchants.models import AuditEvent
from merchants.platform_roles import SUPPORT_AGENT, SUPPORT_LEAD
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    yield
    cache.clear()


def staff_client(email: str, group: str) -> Client:
    user = factories.UserFactory(email=email, merchant=None, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    client.user = user
    return client


@pytest.fixture
def lead(db):
    return staff_client("lead@platform.test", SUPPORT_LEAD)


@pytest.fixture
def agent(db):
    return staff_client("agent@platform.test", SUPPORT_AGENT)


@pytest.fixture
def card(merchant, location):
    program_for(merchant=merchant)
    return enroll_customer(
        merchant=merchant,
        phone="+79165550707",
        name="Ольга",
        email="olga@example.test",
        birthday=dt.date(1990, 5, 1),
        location=location,
        marketing_consent=True,
        consent_channel="qr",
    )


# --- delete (anonymise) on request ------------------------------------------------------------


def test_a_lead_erases_a_customers_personal_data_and_the_ledger_stays(lead, agent, card, merchant, owner, location):
    ledger.adjust(merchant=merchant, card=card, points=120, reason="Подарок", actor=owner)
    ledger.purchase(
        merchant=merchant,
        card=card,
        location=location,
        bill_amount=Decimal("500"),
        receipt_id="r1",
        idempotency_key="p1",
    )
    TelegramLink.objects.create(merchant=merchant, customer=card.customer, chat_id=4242)
    old_web_token = wallet.wallet_pass_for(card=card).web_token
    balance = Card.objects.get(pk=card.pk).balance
    entries = list(LedgerEntry.objects.filter(card=card).values_list("pk", "points").order_by("pk"))
    url = reverse("admin:loyalty_customer_anonymise", args=[card.customer_id])

    assert agent.get(url).status_code == 403
    assert agent.post(url, {"reason": "x", "confirm": "on"}).status_code == 403
    page = lead.get(reverse("admin:loyalty_customer_support", args=[card.customer_id])).content.decode()
    assert url in page
    assert lead.post(url, {"reason": "", "confirm": "on"}).status_code == 200  # reason required
    assert lead.post(url, {"reason": "Customer asked by letter"}).status_code == 200  # confirmation required
    assert Customer.objects.get(pk=card.customer_id).name == "Ольга"

    assert lead.post(url, {"reason": "Customer asked by letter", "confirm": "on"}).status_code == 302
    customer = Customer.objects.get(pk=card.customer_id)
    assert (customer.name, customer.email, customer.birthday) == ("", "", None)
    assert customer.phone == f"anon-{customer.pk}" and customer.anonymised_at is not None
    assert customer.marketing_consent is False
    assert ConsentRecord.objects.filter(customer=customer).order_by("-pk").first().granted is False
    assert not TelegramLink.objects.filter(customer=customer).exists()
    assert Client().get(reverse("webcard", args=[old_web_token])).status_code == 404
    # The ledger is untouched and still tied to the (anonymised) customer.
    assert Card.objects.get(pk=card.pk).customer_id == customer.pk
    assert Card.objects.get(pk=card.pk).balance == balance
    assert list(LedgerEntry.objects.filter(card=card).values_list("pk", "points").order_by("pk")) == entries
    event = AuditEvent.objects.get(action="customer.anonymised")
    assert event.actor_id == lead.user.pk and event.reason == "Customer asked by letter"
    assert "Ольга" not in str(event.after) and "olga" not in str(event.after) and "Ольга" not in event.target_label
    assert verify_ledger().ok
    # The page still opens, and says so.
    assert lead.get(reverse("admin:loyalty_customer_support", args=[customer.pk])).status_code == 200


# --- retention --------------------------------------------------------------------------------


def test_the_retention_job_anonymises_inactive_customers_and_reports_to_the_owner(merchant, owner, location):
    program_for(merchant=merchant)
    with time_machine.travel(dt.datetime(2022, 1, 10, tzinfo=dt.UTC), tick=False):
        idle = enroll_customer(merchant=merchant, phone="+79165550801", name="Старый", location=location)
        active = enroll_customer(merchant=merchant, phone="+79165550802", name="Свежий", location=location)
    with time_machine.travel(dt.datetime(2025, 6, 1, tzinfo=dt.UTC), tick=False):
        ledger.adjust(merchant=merchant, card=active, points=10, reason="Визит", actor=owner)

    with time_machine.travel(dt.datetime(2026, 3, 1, tzinfo=dt.UTC), tick=False):
        assert apply_retention_task(merchant.pk) == 0  # no retention set: nothing happens
        merchant.customer_retention_years = 3
        merchant.save()
        mail.outbox.clear()
        assert apply_retention_task(merchant.pk) == 1
        assert apply_retention_task(merchant.pk) == 0  # idempotent: nothing new, no second report

    assert Customer.objects.get(pk=idle.customer_id).anonymised_at is not None
    assert Customer.objects.get(pk=idle.customer_id).name == ""
    assert Customer.objects.get(pk=active.customer_id).name == "Свежий"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["owner@zerno.test"]
    assert "1" in mail.outbox[0].body and "3" in mail.outbox[0].body
    event = AuditEvent.objects.get(action="customer.anonymised")
    assert event.actor_id is None and "retention" in event.reason
    assert verify_ledger().ok


def test_the_retention_job_is_declared_with_the_periodic_tasks():
    from loyalty.management.commands.setup_periodic_tasks import declared_tasks

    tasks = {spec["task"] for spec in declared_tasks()}
    assert "loyalty.customers.tasks.retention_task" in tasks


# --- merge ------------------------------------------------------------------------------------


def test_a_lead_merges_a_duplicate_entry_by_entry(lead, agent, card, merchant, owner, location):
    dup_card = enroll_customer(merchant=merchant, phone="+79165550909", name="Оля", location=location)
    ledger.adjust(merchant=merchant, card=card, points=50, reason="Старт", actor=owner)
    ledger.adjust(merchant=merchant, card=dup_card, points=80, reason="Подарок", actor=owner)
    ledger.purchase(
        merchant=merchant,
        card=dup_card,
        location=location,
        bill_amount=Decimal("1000"),
        receipt_id="d1",
        idempotency_key="d1",
    )
    dup_card.refresh_from_db()
    card.refresh_from_db()
    keep_balance, dup_balance = card.balance, dup_card.balance
    assert dup_balance > 80
    dup_lots = {lot.pk: (lot.expires_at, lot.remaining) for lot in Lot.objects.filter(card=dup_card, remaining__gt=0)}
    before = list(LedgerEntry.objects.filter(card=dup_card).values().order_by("pk"))
    url = reverse("admin:loyalty_customer_merge", args=[card.customer_id])

    assert agent.post(url, {"duplicate": dup_card.customer_id, "reason": "Same person"}).status_code == 403
    assert lead.post(url, {"duplicate": dup_card.customer_id, "reason": ""}).status_code == 200
    assert lead.post(url, {"duplicate": card.customer_id, "reason": "Self"}).status_code == 200  # not itself
    other = factories.MerchantFactory(name="Другая")
    program_for(merchant=other)
    stranger = enroll_customer(merchant=other, phone="+79165550910", location=factories.LocationFactory(merchant=other))
    refused = lead.post(url, {"duplicate": stranger.customer_id, "reason": "Wrong shop"})
    assert refused.status_code == 200 and Customer.objects.get(pk=stranger.customer_id).merged_into_id is None

    assert lead.post(url, {"duplicate": dup_card.customer_id, "reason": "Same person, two phones"}).status_code == 302
    card.refresh_from_db()
    dup_card.refresh_from_db()
    assert card.balance == keep_balance + dup_balance
    assert dup_card.balance == 0 and dup_card.is_blocked
    assert Customer.objects.get(pk=dup_card.customer_id).merged_into_id == card.customer_id
    # Append-only: the duplicate's original entries are exactly as they were; new ones moved the points.
    assert (
        list(LedgerEntry.objects.filter(card=dup_card, pk__in=[e["id"] for e in before]).values().order_by("pk"))
        == before
    )
    out = LedgerEntry.objects.filter(card=dup_card, kind=EntryKind.MERGE_OUT)
    assert sorted(-e.points for e in out) == sorted(r for _e, r in dup_lots.values())
    moved_in = Lot.objects.filter(card=card, kind=EntryKind.MERGE_IN)
    assert sorted((lot.expires_at, lot.remaining) for lot in moved_in) == sorted(dup_lots.values())
    event = AuditEvent.objects.get(action="customer.merged")
    assert event.actor_id == lead.user.pk and event.reason == "Same person, two phones"
    assert event.after["points"] == dup_balance
    assert verify_ledger().ok
    # Merging again is refused.
    assert lead.post(url, {"duplicate": dup_card.customer_id, "reason": "Again"}).status_code == 200
    assert verify_ledger().ok


def test_merging_moves_stamps_and_rewards(lead, merchant, owner, location, rules):
    rules(mechanic="stamps", stamps_per_reward=6)
    keep = enroll_customer(merchant=merchant, phone="+79165551001", location=location)
    dup = enroll_customer(merchant=merchant, phone="+79165551002", location=location)
    for n in range(2):
        ledger.purchase(
            merchant=merchant,
            card=dup,
            location=location,
            bill_amount=Decimal("300"),
            receipt_id=f"s{n}",
            idempotency_key=f"s{n}",
        )
    dup.refresh_from_db()
    assert dup.stamps == 2
    url = reverse("admin:loyalty_customer_merge", args=[keep.customer_id])
    assert lead.post(url, {"duplicate": dup.customer_id, "reason": "Same person"}).status_code == 302
    keep.refresh_from_db()
    dup.refresh_from_db()
    assert (keep.stamps, dup.stamps) == (2, 0)
    assert verify_ledger().ok


# --- adjustments above the threshold wait for a second person ---------------------------------


def test_a_large_adjustment_waits_for_a_different_leads_approval(lead, agent, card, merchant):
    from loyalty.models import PendingAdjustment

    merchant.adjustment_approval_threshold = 500
    merchant.save()
    other_lead = staff_client("lead2@platform.test", SUPPORT_LEAD)
    adjust_url = reverse("admin:loyalty_card_adjust", args=[card.pk])
    balance = Card.objects.get(pk=card.pk).balance

    # At or below the threshold: applied at once.
    agent.post(adjust_url, {"points": 500, "reason": "Small fix", "idempotency_key": "a1"})
    assert Card.objects.get(pk=card.pk).balance == balance + 500
    assert not PendingAdjustment.objects.exists()

    # Above it: waits, nothing applied.
    response = agent.post(adjust_url, {"points": 501, "reason": "Lost receipts", "idempotency_key": "a2"})
    assert response.status_code == 302
    pending = PendingAdjustment.objects.get()
    assert (pending.points, pending.status, pending.requested_by_id) == (501, "pending", agent.user.pk)
    assert Card.objects.get(pk=card.pk).balance == balance + 500
    assert AuditEvent.objects.filter(action="balance.adjustment_requested").count() == 1
    decide = reverse("admin:loyalty_pendingadjustment_decide", args=[pending.pk])
    page = reverse("admin:loyalty_pendingadjustment_change", args=[pending.pk])

    # An agent cannot decide; the page offers no decision to them.
    assert agent.get(page).status_code == 200 and decide not in agent.get(page).content.decode()
    assert agent.post(decide, {"approve": "1"}).status_code == 403
    # A lead who asked for it cannot approve it.
    lead_request = lead.post(adjust_url, {"points": -600, "reason": "Double credit", "idempotency_key": "a3"})
    assert lead_request.status_code == 302
    own = PendingAdjustment.objects.get(points=-600)
    assert (
        decide.replace(str(pending.pk), str(own.pk))
        not in lead.get(reverse("admin:loyalty_pendingadjustment_change", args=[own.pk])).content.decode()
    )
    lead.post(reverse("admin:loyalty_pendingadjustment_decide", args=[own.pk]), {"approve": "1"})
    assert PendingAdjustment.objects.get(pk=own.pk).status == "pending"

    # Another lead approves: applied through the ledger, once.
    assert decide in lead.get(page).content.decode()
    assert lead.post(decide, {"approve": "1", "reason": "Receipts checked"}).status_code == 302
    pending.refresh_from_db()
    assert pending.status == "approved" and pending.decided_by_id == lead.user.pk
    assert pending.entry.points == 501 and pending.entry.kind == EntryKind.ADJUSTMENT
    assert Card.objects.get(pk=card.pk).balance == balance + 500 + 501
    lead.post(decide, {"approve": "1"})
    other_lead.post(decide, {"approve": "1"})
    assert Card.objects.get(pk=card.pk).balance == balance + 500 + 501
    approved = AuditEvent.objects.get(action="balance.adjustment_approved")
    assert approved.actor_id == lead.user.pk and approved.reason == "Receipts checked"

    # The other one is rejected by someone else, with a reason (required).
    reject = reverse("admin:loyalty_pendingadjustment_decide", args=[own.pk])
    other_lead.post(reject, {"reject": "1", "reason": ""})
    assert PendingAdjustment.objects.get(pk=own.pk).status == "pending"
    other_lead.post(reject, {"reject": "1", "reason": "Not a double credit"})
    assert PendingAdjustment.objects.get(pk=own.pk).status == "rejected"
    assert Card.objects.get(pk=card.pk).balance == balance + 500 + 501
    assert AuditEvent.objects.get(action="balance.adjustment_rejected").reason == "Not a double credit"
    assert verify_ledger().ok


def test_merged_stamps_that_fill_a_set_become_a_reward_as_a_purchase_would(lead, merchant, owner, location, rules):
    """Buy 5, the 6th free: 3 stamps on each card make 6 after the merge; 5 of them turn into a reward,
    1 stays, exactly as the 5th paid visit's stamp would have done."""
    rules(mechanic="stamps", stamps_per_reward=6)
    keep = enroll_customer(merchant=merchant, phone="+79165551011", location=location)
    dup = enroll_customer(merchant=merchant, phone="+79165551012", location=location)
    for card, prefix in ((keep, "k"), (dup, "d")):
        for n in range(3):
            ledger.purchase(
                merchant=merchant,
                card=card,
                location=location,
                bill_amount=Decimal("300"),
                receipt_id=f"{prefix}{n}",
                idempotency_key=f"{prefix}{n}",
            )
    url = reverse("admin:loyalty_customer_merge", args=[keep.customer_id])
    assert lead.post(url, {"duplicate": dup.customer_id, "reason": "Same person"}).status_code == 302
    keep.refresh_from_db()
    assert (keep.stamps, keep.rewards_available) == (1, 1)
    earned = LedgerEntry.objects.get(card=keep, kind=EntryKind.REWARD_EARNED)
    assert (earned.stamps, earned.rewards) == (-5, 1)
    assert AuditEvent.objects.get(action="customer.merged").after["rewards_earned"] == 1
    assert verify_ledger().ok


def test_a_merge_rechecks_the_tier_on_the_combined_spend(lead, merchant, owner, location):
    """Silver needs 10 000 of spend: 6 000 on each card is Bronze twice, Silver together."""
    from loyalty.models import TierChange

    program_for(merchant=merchant)
    keep = enroll_customer(merchant=merchant, phone="+79165551021", location=location)
    dup = enroll_customer(merchant=merchant, phone="+79165551022", location=location)
    for card, key in ((keep, "k"), (dup, "d")):
        ledger.purchase(
            merchant=merchant,
            card=card,
            location=location,
            bill_amount=Decimal("6000"),
            receipt_id=key,
            idempotency_key=key,
        )
    keep.refresh_from_db()
    bronze = keep.tier
    assert Card.objects.get(pk=dup.pk).tier_id == bronze.pk
    url = reverse("admin:loyalty_customer_merge", args=[keep.customer_id])
    assert lead.post(url, {"duplicate": dup.customer_id, "reason": "Same person"}).status_code == 302
    keep.refresh_from_db()
    assert keep.tier.threshold == Decimal("10000")
    change = TierChange.objects.get(card=keep)
    assert (change.from_tier_id, change.to_tier_id, change.spend) == (bronze.pk, keep.tier_id, Decimal("12000"))
    assert AuditEvent.objects.get(action="customer.merged").after["tier"] == keep.tier_id
    assert verify_ledger().ok


def test_a_merge_keeps_the_higher_tier_of_the_duplicate(lead, merchant, owner, location):
    program_for(merchant=merchant)
    keep = enroll_customer(merchant=merchant, phone="+79165551031", location=location)
    dup = enroll_customer(merchant=merchant, phone="+79165551032", location=location)
    ledger.purchase(
        merchant=merchant,
        card=dup,
        location=location,
        bill_amount=Decimal("30000"),
        receipt_id="g",
        idempotency_key="g",
    )
    gold = Card.objects.get(pk=dup.pk).tier_id
    url = reverse("admin:loyalty_customer_merge", args=[keep.customer_id])
    assert lead.post(url, {"duplicate": dup.customer_id, "reason": "Same person"}).status_code == 302
    assert Card.objects.get(pk=keep.pk).tier_id == gold
    assert verify_ledger().ok


# --- erasure reaches the audit log, and nothing else may change it ----------------------------


def test_erasure_redacts_the_customers_earlier_audit_events(lead, card, merchant, owner):
    from loyalty.customers.support import correct_contact
    from merchants import audit

    correct_contact(
        merchant=merchant,
        customer=card.customer,
        phone="+7 916 555-07-08",
        email="olga.new@example.test",
        reason="Новый номер",
        actor=owner,
    )
    ledger.adjust(merchant=merchant, card=card, points=40, reason="Подарок", actor=owner)
    # Support's change form (every admin change is audited with a snapshot of the customer).
    customer = Customer.objects.get(pk=card.customer_id)
    audit.record(action="admin.changed", target=customer, before={"name": "Ольга"}, after={"name": "Ольга П."})
    personal = ("+79165550707", "+79165550708", "olga@example.test", "olga.new@example.test", "Ольга")
    dump = lambda: " ".join(  # noqa: E731
        f"{e.target_label} {e.before} {e.after}" for e in AuditEvent.objects.exclude(action="customer.anonymised")
    )
    assert any(value in dump() for value in personal)
    untouched = {e.pk: (e.action, e.reason, e.created_at, e.actor_id) for e in AuditEvent.objects.all()}

    url = reverse("admin:loyalty_customer_anonymise", args=[card.customer_id])
    assert lead.post(url, {"reason": "Customer asked by letter", "confirm": "on"}).status_code == 302

    assert not [value for value in personal if value in dump()]
    corrected = AuditEvent.objects.get(action="customer.contact_corrected")
    assert corrected.before["phone"] == "[redacted]"
    assert corrected.after["email"] == "[redacted]" and corrected.target_label == f"#{card.customer_id}"
    assert corrected.reason == "Новый номер"  # what happened, and why, stays
    adjusted = AuditEvent.objects.get(action="balance.adjusted")
    assert adjusted.target_label == card.number and adjusted.after  # a card's event keeps its number
    for event in AuditEvent.objects.filter(pk__in=untouched):
        assert (event.action, event.reason, event.created_at, event.actor_id) == untouched[event.pk]
    redaction = AuditEvent.objects.get(action="audit.redacted")
    assert redaction.actor_id == lead.user.pk and redaction.after["events"] >= 2
    assert redaction.reason == "Customer asked by letter"
    assert verify_ledger().ok


def test_the_audit_log_refuses_every_other_change_even_during_a_redaction(card, merchant, owner):
    from django.db import IntegrityError, connection, transaction

    from merchants import audit

    event = audit.record(
        action="customer.contact_corrected",
        merchant=merchant,
        actor=owner,
        target=card.customer,
        before={"phone": "+79165550707"},
        after={"phone": "+79165550708"},
        reason="r",
    )

    def refused(sql: str, params, *, redaction: bool) -> bool:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    if redaction:
                        cursor.execute("SELECT set_config('merchants.audit_redaction', 'on', true)")
                    cursor.execute(sql, params)
        except IntegrityError:
            return True
        return False

    update = "UPDATE merchants_auditevent SET {} WHERE id = %s"
    marker = '{"phone": "[redacted]"}'
    # Without the erasure's setting nothing changes, not even a redaction.
    assert refused(update.format("before = %s::jsonb"), [marker, event.pk], redaction=False)
    assert refused(update.format("reason = 'edited'"), [event.pk], redaction=False)
    # With it, only a redaction passes: not another value, not another column, not a new key, not a delete.
    assert refused(update.format("before = %s::jsonb"), ['{"phone": "+70000000000"}', event.pk], redaction=True)
    assert refused(update.format("before = %s::jsonb"), ['{"phone": "[redacted]", "x": 1}', event.pk], redaction=True)
    assert refused(update.format("before = '{}'::jsonb"), [event.pk], redaction=True)
    assert refused(update.format("reason = 'edited'"), [event.pk], redaction=True)
    assert refused(update.format("action = 'card.blocked'"), [event.pk], redaction=True)
    assert refused(update.format("actor_id = NULL"), [event.pk], redaction=True)
    assert refused(update.format("target_label = 'someone else'"), [event.pk], redaction=True)
    assert refused("DELETE FROM merchants_auditevent WHERE id = %s", [event.pk], redaction=True)
    event.refresh_from_db()
    assert event.before == {"phone": "+79165550707"} and event.reason == "r"
    # ...and the redaction itself does pass.
    assert not refused(update.format("before = %s::jsonb"), [marker, event.pk], redaction=True)
    event.refresh_from_db()
    assert event.before == {"phone": "[redacted]"}
