"""Manual adjustments, blocking, and the card-changed hook."""

import pytest
from django.db import transaction

from loyalty import ledger
from loyalty.exceptions import CardNotFound, InsufficientPoints, InvalidAmount, ReasonRequired
from loyalty.models import CardEvent, EntryKind
from tests.loyalty.conftest import fresh

pytestmark = pytest.mark.django_db


def test_adjust_records_who_and_why(card, merchant, owner):
    entry = ledger.adjust(
        merchant=merchant, card=card, points=250, reason="Compensation for a cold coffee", actor=owner
    )
    assert (entry.kind, entry.points, entry.actor, entry.reason) == (
        EntryKind.ADJUSTMENT,
        250,
        owner,
        "Compensation for a cold coffee",
    )
    assert fresh(card).balance == 250
    ledger.adjust(merchant=merchant, card=card, points=-50, reason="typo", actor=owner)
    assert fresh(card).balance == 200


def test_adjust_needs_a_reason_and_sane_points(card, merchant, owner):
    with pytest.raises(ReasonRequired):
        ledger.adjust(merchant=merchant, card=card, points=10, reason="  ", actor=owner)
    for points in (0, 1.5, "10"):
        with pytest.raises(InvalidAmount):
            ledger.adjust(merchant=merchant, card=card, points=points, reason="x", actor=owner)
    with pytest.raises(InsufficientPoints):
        ledger.adjust(merchant=merchant, card=card, points=-1, reason="x", actor=owner)
    assert fresh(card).balance == 0


def test_other_merchant_cannot_touch_the_card(card, other_merchant, other_owner):
    with pytest.raises(CardNotFound):
        ledger.adjust(merchant=other_merchant, card=card, points=10, reason="x", actor=other_owner)
    with pytest.raises(CardNotFound):
        ledger.set_card_blocked(merchant=other_merchant, card=card, blocked=True, reason="x", actor=other_owner)


def test_block_and_unblock_are_audited(card, merchant, owner):
    ledger.set_card_blocked(merchant=merchant, card=card, blocked=True, reason="Lost card", actor=owner)
    ledger.set_card_blocked(merchant=merchant, card=card, blocked=True, reason="again", actor=owner)  # no-op
    ledger.set_card_blocked(merchant=merchant, card=card, blocked=False, reason="Found it", actor=owner)
    events = list(CardEvent.objects.filter(card=card).order_by("pk").values_list("kind", "reason", "actor"))
    assert events == [("blocked", "Lost card", owner.pk), ("unblocked", "Found it", owner.pk)]
    assert fresh(card).status == "active"
    with pytest.raises(ReasonRequired):
        ledger.set_card_blocked(merchant=merchant, card=card, blocked=True, reason="", actor=owner)


def test_card_changed_hook_marks_the_pass_in_the_transaction_and_syncs_on_commit(
    card, buy, merchant, owner, django_capture_on_commit_callbacks, monkeypatch
):
    from loyalty.models import WalletPass
    from loyalty.wallet import contract as cards
    from loyalty.wallet import debounce

    wallet_pass = cards.wallet_pass_for(card=card)
    assert debounce.available()  # the tests' Redis broker: the sync goes into the due set on commit
    queued = []
    monkeypatch.setattr(debounce, "schedule", lambda pass_ids, delay: queued.append(list(pass_ids)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        buy(card, "1000")
    # Marked inside the purchase's transaction; the sync waits for the commit.
    marked = WalletPass.objects.get(pk=wallet_pass.pk)
    assert marked.needs_sync_since is not None and marked.update_tag > wallet_pass.update_tag
    assert queued == [] and len(callbacks) == 1
    callbacks[0]()
    assert queued == [[wallet_pass.pk]]
    ledger.set_card_blocked(merchant=merchant, card=card, blocked=True, reason="x", actor=owner)
    assert WalletPass.objects.get(pk=wallet_pass.pk).update_tag > marked.update_tag


def test_a_rolled_back_write_leaves_the_pass_unmarked(card, buy, django_capture_on_commit_callbacks):
    from loyalty.models import WalletPass
    from loyalty.wallet import contract as cards

    wallet_pass = cards.wallet_pass_for(card=card)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        with transaction.atomic():
            buy(card, "1000")
            raise RuntimeError("the caller's transaction fails after the purchase")
    after = WalletPass.objects.get(pk=wallet_pass.pk)
    assert (after.needs_sync_since, after.update_tag, after.updated_at) == (
        None,
        wallet_pass.update_tag,
        wallet_pass.updated_at,
    )
    assert callbacks == []


def test_failed_purchase_changes_nothing_and_notifies_nobody(card, buy, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(InsufficientPoints):
        buy(card, "1000", redeem=1)
    assert callbacks == []


def test_coalesced_card_changes_notify_each_card_once(card, buy, monkeypatch, django_capture_on_commit_callbacks):
    from loyalty.wallet import contract as cards

    seen = []
    monkeypatch.setattr(cards, "cards_changed_by_id", lambda card_ids, now=None: seen.append(list(card_ids)))
    with django_capture_on_commit_callbacks(execute=True), ledger.coalesced_card_changes():
        for _ in range(3):
            buy(card, "100")
        assert seen == []
    assert seen == [[card.pk]]
