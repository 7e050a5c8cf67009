"""Next-purchase offers from a campaign (a points multiplier, a discount at the till): given with
the message, applied once by the next purchase within their validity (POS API and till), recorded
on the offer row and counted in the campaign's cost; expired offers are ignored, and the quick
purchase path takes over again once no offer is live."""

# The fixtures are imported from api_support, so pytest arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import reports
from campaigns.models import Delivery
from loyalty.ledger.verification import verify_ledger
from loyalty.models import Card, CardOffer, LedgerEntry, Purchase
from tests.campaigns.support import campaign_for, run_send
from tests.campaigns.test_sending import install_wallet
from tests.loyalty.api_support import pos, pos_card, pos_key, pos_program  # noqa: F401  (fixtures)
from tests.loyalty.test_cashier import login, post_json

SENT_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 12:00 in Moscow

pytestmark = pytest.mark.django_db


def _buy(pos, card, bill="1000.00"):
    body = {"card_number": card.number, "bill_amount": bill, "receipt_id": uuid.uuid4().hex}
    return pos.post("/purchases/", body)


def _statements(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]


def _send_offer(merchant, card, **offer):
    install_wallet(card.customer)
    campaign = campaign_for(
        merchant, name="Вернитесь к нам", channels=["wallet"], offer_valid_days=7, transactional=True, **offer
    )
    with time_machine.travel(SENT_AT, tick=False):
        run_send(campaign)
    assert Delivery.objects.get(campaign=campaign).status == "sent"
    return campaign


def test_a_multiplier_doubles_the_next_purchase_through_the_api_once(merchant, pos, pos_card):
    campaign = _send_offer(merchant, pos_card, offer_multiplier=Decimal(2))
    offer = CardOffer.objects.get(card=pos_card)
    assert (offer.kind, offer.multiplier, offer.source) == ("multiplier", Decimal(2), f"campaign:{campaign.pk}")
    assert Card.objects.get(pk=pos_card.pk).offer_until == SENT_AT + timedelta(days=7)

    with time_machine.travel(SENT_AT + timedelta(days=2), tick=False):
        # 5 % cashback on 1000 is 50 points; the offer doubles it. The quick path hands the card
        # to the general path (its lock statement sees the live offer), which applies it.
        with CaptureQueriesContext(connection) as queries:
            first = _buy(pos, pos_card)
        assert first.status_code == 201, first.content
        assert first.json()["points_earned"] == 100
        assert len(_statements(queries)) > 2
        second = _buy(pos, pos_card)
        assert second.json()["points_earned"] == 50  # used once
        with CaptureQueriesContext(connection) as queries:
            third = _buy(pos, pos_card)
        assert third.json()["points_earned"] == 50
        assert len(_statements(queries)) == 2  # no live offer: the quick path again

    offer.refresh_from_db()
    purchase = Purchase.objects.get(pk=first.json()["id"])
    assert (offer.purchase_id, offer.extra_points, offer.discount_amount) == (purchase.pk, 50, 0)
    entry = LedgerEntry.objects.get(purchase=purchase, kind="earn")
    assert entry.points == 100 and f"campaign:{campaign.pk}" in entry.reason
    assert Card.objects.get(pk=pos_card.pk).offer_until is None
    report = reports.campaign_report(campaign=campaign)
    assert report.offers_used == 1
    # The cost counts the 50 extra points at the program's point value (1 point = 1.00).
    assert report.bonus_cost == Decimal("50.00")
    assert verify_ledger(merchant_id=merchant.pk).ok


def test_a_discount_is_applied_by_the_till_and_shown_to_the_cashier(merchant, cashier, location, pos_card):
    campaign = _send_offer(merchant, pos_card, offer_discount_percent=Decimal(10))
    till = login(cashier)
    with time_machine.travel(SENT_AT + timedelta(days=1), tick=False):
        body = {"card_number": pos_card.number, "bill_amount": "500.00", "redeem_points": 0}
        quote = post_json(till, "/dashboard/till/quote/", body).json()["quote"]
        assert quote["discount_amount"] == "50.00" and quote["amount_to_pay"] == "450.00"
        assert quote["display"]["offer"] == "−10 % off from campaign «Вернитесь к нам»: applies to this bill"
        bought = post_json(till, "/dashboard/till/purchase/", body)
        assert bought.status_code == 201, bought.content
        paid = bought.json()["purchase"]
        assert (paid["discount_amount"], paid["amount_paid"]) == ("50.00", "450.00")
        assert paid["display"]["offer"] == "−10 % off from campaign «Вернитесь к нам»: applied"
        # Earned on the money paid: 5 % of 450.
        assert paid["points_earned"] == 22
        again = post_json(till, "/dashboard/till/quote/", body).json()["quote"]
        assert again["discount_amount"] == "0.00" and again["display"]["offer"] == ""

    offer = CardOffer.objects.get(card=pos_card)
    assert offer.purchase_id == paid["id"] and offer.discount_amount == Decimal("50.00")
    assert reports.campaign_report(campaign=campaign).offer_discount == Decimal("50.00")
    assert verify_ledger(merchant_id=merchant.pk).ok


def test_the_cashier_reads_the_offer_in_russian(merchant, cashier, location, pos_card):
    _send_offer(merchant, pos_card, offer_multiplier=Decimal("1.5"))
    till = login(cashier, language="ru")
    with time_machine.travel(SENT_AT + timedelta(days=1), tick=False):
        body = {"card_number": pos_card.number, "bill_amount": "500.00", "redeem_points": 0}
        quote = post_json(till, "/dashboard/till/quote/", body).json()["quote"]
        assert quote["display"]["offer"] == "Баллы ×1.5 по рассылке «Вернитесь к нам»: начислятся за эту покупку"
        paid = post_json(till, "/dashboard/till/purchase/", body).json()["purchase"]
        assert paid["display"]["offer"] == "Баллы ×1.5 по рассылке «Вернитесь к нам»: начислены"
        assert paid["points_earned"] == 37  # floor(25 × 1.5)


def test_an_expired_offer_is_ignored(merchant, pos, pos_card):
    _send_offer(merchant, pos_card, offer_discount_percent=Decimal(20))
    with time_machine.travel(SENT_AT + timedelta(days=7, seconds=1), tick=False):
        response = _buy(pos, pos_card)
        assert response.status_code == 201
        assert response.json()["discount_amount"] == "0.00"
        with CaptureQueriesContext(connection) as queries:
            assert _buy(pos, pos_card).status_code == 201
        assert len(_statements(queries)) == 2  # the stale hint does not keep the card off the quick path
    assert CardOffer.objects.get(card=pos_card).used_at is None
    assert verify_ledger(merchant_id=merchant.pk).ok


def test_a_refund_takes_the_offer_points_back_with_the_purchase(merchant, pos, pos_card):
    from loyalty import ledger

    _send_offer(merchant, pos_card, offer_multiplier=Decimal(3))
    with time_machine.travel(SENT_AT + timedelta(days=1), tick=False):
        bought = _buy(pos, pos_card).json()
        assert bought["points_earned"] == 150
        purchase = Purchase.objects.get(pk=bought["id"])
        ledger.refund(
            merchant=merchant,
            purchase=purchase,
            amount=purchase.bill_amount,
            idempotency_key="refund-1",
        )
    assert Card.objects.get(pk=pos_card.pk).balance == 0
    # Refunded in full: the offer is given back and the next purchase within its validity uses it.
    offer = CardOffer.objects.get(card=pos_card)
    assert (offer.used_at, offer.purchase_id, offer.extra_points) == (None, None, 0)
    with time_machine.travel(SENT_AT + timedelta(days=2), tick=False):
        assert _buy(pos, pos_card).json()["points_earned"] == 150
    assert verify_ledger(merchant_id=merchant.pk).ok


def test_the_campaign_form_refuses_bad_offers_in_words(merchant, owner):
    from django.test import Client

    client = Client()
    client.force_login(owner)
    base = {
        "name": "Двойные баллы",
        "kind": "broadcast",
        "body": "Приходите!",
        "channel_1": "wallet",
        "holdout_percent": 10,
        "attribution_days": 14,
        "offer_points": 0,
        "feedback_bonus": 0,
    }
    cases = [
        ({"offer_multiplier": "2", "offer_discount_percent": "10", "offer_valid_days": "7"}, "not both"),
        ({"offer_multiplier": "11", "offer_valid_days": "7"}, "at most 10"),
        ({"offer_multiplier": "1", "offer_valid_days": "7"}, "above 1"),
        ({"offer_discount_percent": "0", "offer_valid_days": "7"}, "above 0 %"),
        ({"offer_discount_percent": "101", "offer_valid_days": "7"}, "at most 100 %"),
        ({"offer_discount_percent": "10"}, "for how many days"),
        ({"offer_multiplier": "2", "offer_valid_days": "400"}, "1 to 366 days"),
    ]
    for extra, words in cases:
        response = client.post("/dashboard/campaigns/new/", {**base, **extra}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400, extra
        assert words in response.content.decode(), (extra, words)
    assert not merchant.campaigns.exists()
    ok = client.post(
        "/dashboard/campaigns/new/",
        {**base, "offer_multiplier": "2", "offer_valid_days": "7"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert ok.status_code == 302
    assert merchant.campaigns.get().offer_multiplier == Decimal(2)


def test_the_campaign_page_states_the_offer(merchant, owner):
    from django.test import Client

    campaign = campaign_for(merchant, offer_discount_percent=Decimal("12.50"), offer_valid_days=5)
    client = Client(headers={"Accept-Language": "ru"})
    client.force_login(owner)
    page = client.get(f"/dashboard/campaigns/{campaign.pk}/").content.decode()
    assert "Предложение: скидка 12,50 % на следующий чек в течение 5 дн., её применит касса." in page
