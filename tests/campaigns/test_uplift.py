"""The uplift report on generated data with a known effect: 30 % of the treated customers come back,
20 % of the hold-out; the report's 95 % interval must contain the true +0.10 and exclude zero. With
no effect the interval straddles zero. A tiny audience gets "too small to say"."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from campaigns import reports, sending
from campaigns.models import Delivery, DeliveryStatus, Send
from loyalty.models import Card, Customer, Purchase
from loyalty.program.services import program_for
from tests.campaigns.support import campaign_for

pytestmark = pytest.mark.usefixtures("english")

SENT_AT = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def generate(merchant, *, customers: int, treated_rate: float, holdout_rate: float, holdout_percent: int, seed: int):
    program_for(merchant=merchant)
    version = _version(merchant)
    campaign = campaign_for(merchant, channels=["email"], holdout_percent=holdout_percent, offer_points=10)
    send = Send.objects.create(merchant=merchant, campaign=campaign, occurrence="once", status="done")
    rng = random.Random(seed)
    people = Customer.objects.bulk_create(
        Customer(
            merchant=merchant,
            phone=f"+7900{n:07d}",
            name=f"C{n}",
            email=f"c{n}@x.test",
            referral_code=f"R{n}",
            marketing_consent=True,
        )
        for n in range(customers)
    )
    cards = Card.objects.bulk_create(
        Card(merchant=merchant, customer=c, number=f"{c.pk:012d}", barcode=f"b-{merchant.pk}-{c.pk}") for c in people
    )
    deliveries, purchases = [], []
    held = {
        c.pk for c in people if sending.in_holdout(campaign_id=campaign.pk, customer_id=c.pk, percent=holdout_percent)
    }
    # Exactly the given share of each group comes back (who, is shuffled): the observed effect is the
    # true one, whichever customers the hold-out happens to pick in this run.
    returning: set[int] = set()
    for members, rate in (
        ([c for c in people if c.pk in held], holdout_rate),
        ([c for c in people if c.pk not in held], treated_rate),
    ):
        rng.shuffle(members)
        returning |= {c.pk for c in members[: round(rate * len(members))]}
    for customer, card in zip(people, cards, strict=True):
        is_held = customer.pk in held
        deliveries.append(
            Delivery(
                merchant=merchant,
                campaign=campaign,
                send=send,
                customer=customer,
                occurrence="once",
                channel="email",
                status=DeliveryStatus.HOLDOUT if is_held else DeliveryStatus.SENT,
                sent_at=None if is_held else SENT_AT,
                created_at=SENT_AT,
                bonus_points=0 if is_held else 10,
            )
        )
        if customer.pk in returning:
            purchases.append(
                Purchase(
                    merchant=merchant,
                    card=card,
                    receipt_id=f"r{customer.pk}",
                    currency="RUB",
                    bill_amount=Decimal("500.00"),
                    amount_paid=Decimal("500.00"),
                    program_version=version,
                    idempotency_key=f"p{customer.pk}",
                    created_at=SENT_AT + timedelta(days=rng.randint(0, 13)),
                )
            )
        # A purchase after the attribution window is not counted.
        purchases.append(
            Purchase(
                merchant=merchant,
                card=card,
                receipt_id=f"late{customer.pk}",
                currency="RUB",
                bill_amount=Decimal("100.00"),
                amount_paid=Decimal("100.00"),
                program_version=version,
                idempotency_key=f"late{customer.pk}",
                created_at=SENT_AT + timedelta(days=20),
            )
        )
    Delivery.objects.bulk_create(deliveries)
    Purchase.objects.bulk_create(purchases)
    return campaign


def _version(merchant):
    from loyalty.models import ProgramVersion

    return ProgramVersion.objects.filter(program__merchant=merchant).order_by("-pk").first()


@pytest.mark.django_db
def test_a_known_uplift_is_recovered_within_its_interval(merchant):
    campaign = generate(merchant, customers=3000, treated_rate=0.30, holdout_rate=0.20, holdout_percent=20, seed=7)
    report = reports.campaign_report(campaign=campaign)
    assert 450 <= report.holdout.size <= 750 and report.treated.size + report.holdout.size == 3000
    assert not report.too_small
    assert report.uplift_low < 0.10 < report.uplift_high
    assert report.uplift_low > 0
    assert report.verdict.startswith("The campaign brought customers back")
    # Revenue: 500 per returning customer, so about +50 per customer; the late purchases are outside.
    assert report.revenue_uplift_low < Decimal("50") < report.revenue_uplift_high
    assert report.treated.revenue == 500 * report.treated.returned
    # Incremental revenue = uplift per customer × treated customers (up to the rounding of the per-customer figure).
    assert abs(
        report.incremental_revenue - report.revenue_uplift * report.treated.size
    ) <= report.treated.size * Decimal("0.01")
    assert report.bonus_cost > 0 and report.roi is not None


@pytest.mark.django_db
def test_no_effect_gives_an_interval_around_zero(merchant):
    campaign = generate(merchant, customers=3000, treated_rate=0.25, holdout_rate=0.25, holdout_percent=20, seed=11)
    report = reports.campaign_report(campaign=campaign)
    assert report.uplift_low < 0 < report.uplift_high
    assert report.verdict.startswith("No clear effect")


@pytest.mark.django_db
def test_a_tiny_audience_is_too_small_to_say(merchant):
    campaign = generate(merchant, customers=12, treated_rate=0.9, holdout_rate=0.1, holdout_percent=30, seed=3)
    report = reports.campaign_report(campaign=campaign)
    assert report.too_small
    assert report.verdict.startswith("Too small to say")
