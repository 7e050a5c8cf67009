"""What campaigns add to the analytics pages, on hand-made campaigns whose numbers are
worked out here (the statistics themselves are tested in test_uplift.py):

"Весна", sent 20 days ago: 40 got the message, 20 came back with a 1 000 ₽ bill each
(50 %); 40 held out, 10 came back (25 %). Uplift 25 pp; se = √(.5·.5/40 + .25·.75/40)
= 0.104583, 1.959964·se = 0.204978, so the 95 % interval is 4.5 … 45.5 pp. Revenue per
customer 500 against 250: incremental revenue 250 × 40 = 10 000.00 ₽. Bonuses 10 points
× 40 at 1 ₽ = 400.00 ₽; ROI (10 000 − 400) / 400 = 24 → 2400 %.

"Мини", sent 10 days ago: 5 got it, 1 came back with 300 ₽; 3 held out, none came back.
Too small to say. Incremental (60 − 0) × 5 = 300.00 ₽, bonuses 50.00 ₽, ROI 500 %.

Total: 10 300.00 ₽ incremental, 450.00 ₽ bonuses, ROI (10 300 − 450) / 450 = 21.89 → 2189 %.

Not shown: "Без контроля" (no hold-out) and "Давняя" (sent 400 days ago, outside the
12 months).
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from itertools import count

import pytest
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from campaigns.insights import measured_campaigns
from campaigns.models import Delivery, DeliveryStatus, RfmScore, Send
from campaigns.segments.rfm import recompute_rfm
from loyalty.models import Card, Customer, ProgramVersion, Purchase
from loyalty.program.services import program_for
from merchants.templatetags.merchant_format import money
from tests.campaigns.conftest import NOW
from tests.campaigns.support import campaign_for

pytestmark = pytest.mark.django_db
_numbers = count(1)


def _campaign(merchant, name, *, sent_at, treated, treated_back, held, held_back, bill, holdout_percent=10):
    """``treated``/``held`` customers; the first ``*_back`` of each buy ``bill`` a day after."""
    version = ProgramVersion.objects.filter(program__merchant=merchant).order_by("-pk").first()
    campaign = campaign_for(merchant, name=name, channels=["email"], holdout_percent=holdout_percent)
    send = Send.objects.create(merchant=merchant, campaign=campaign, occurrence="once", status="done")
    Send.objects.filter(pk=send.pk).update(created_at=sent_at)
    for is_held, size, back in ((False, treated, treated_back), (True, held, held_back)):
        for i in range(size):
            n = next(_numbers)
            customer = Customer.objects.create(
                merchant=merchant, phone=f"+7901{n:07d}", name=f"C{n}", referral_code=f"Q{n}"
            )
            card = Card.objects.create(merchant=merchant, customer=customer, number=f"{n:012d}", barcode=f"q-{n}")
            Delivery.objects.create(
                merchant=merchant,
                campaign=campaign,
                send=send,
                customer=customer,
                occurrence="once",
                channel="email",
                status=DeliveryStatus.HOLDOUT if is_held else DeliveryStatus.SENT,
                sent_at=None if is_held else sent_at,
                created_at=sent_at,
                bonus_points=0 if is_held else 10,
            )
            if i < back:
                Purchase.objects.create(
                    merchant=merchant,
                    card=card,
                    receipt_id=f"r{n}",
                    currency="RUB",
                    bill_amount=Decimal(bill),
                    amount_paid=Decimal(bill),
                    program_version=version,
                    idempotency_key=f"p{n}",
                    created_at=sent_at + timedelta(days=1),
                )
    return campaign


@pytest.fixture
def measured(merchant):
    program_for(merchant=merchant)
    now = timezone.now()
    spring = _campaign(
        merchant, "Весна", sent_at=now - timedelta(days=20), treated=40, treated_back=20, held=40, held_back=10,
        bill="1000",
    )  # fmt: skip
    mini = _campaign(
        merchant, "Мини", sent_at=now - timedelta(days=10), treated=5, treated_back=1, held=3, held_back=0, bill="300"
    )
    _campaign(
        merchant, "Без контроля", sent_at=now - timedelta(days=5), treated=3, treated_back=1, held=0, held_back=0,
        bill="100", holdout_percent=0,
    )  # fmt: skip
    _campaign(
        merchant, "Давняя", sent_at=now - timedelta(days=400), treated=3, treated_back=1, held=3, held_back=1,
        bill="100",
    )  # fmt: skip
    return {"spring": spring, "mini": mini}


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))


def test_measured_campaigns_of_the_period_newest_first(merchant, measured):
    today = timezone.localdate(timezone.now(), merchant.tzinfo)
    this_month = today.replace(day=1)
    year_ago = this_month.replace(year=this_month.year - 1)
    found = measured_campaigns(merchant=merchant, first_month=year_ago, last_month=this_month)
    assert [m.name for m in found] == ["Мини", "Весна"]
    spring = found[1].report
    assert (spring.treated.size, spring.treated.returned, spring.holdout.size, spring.holdout.returned) == (
        40,
        20,
        40,
        10,
    )


def test_the_analytics_page_shows_each_campaigns_uplift_with_its_interval(client, owner, merchant, measured):
    client.force_login(owner)
    page = client.get(reverse("analytics"), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    html = page.content.decode()
    uplift = next(s for s in page.context["sections"] if s.key == "uplift").context
    assert [row["name"] for row in uplift["rows"]] == ["Мини", "Весна"]
    spring = uplift["rows"][1]
    assert (spring["treated_rate"], spring["holdout_rate"], spring["uplift"]) == (
        Decimal("50.0"),
        Decimal("25.0"),
        Decimal("25.0"),
    )
    assert (spring["uplift_low"], spring["uplift_high"]) == (Decimal("4.5"), Decimal("45.5"))
    assert not spring["too_small"] and uplift["rows"][0]["too_small"]
    # The chart reads oldest first.
    assert uplift["chart_data"]["labels"] == ["Весна", "Мини"]
    assert uplift["chart_data"]["interval"][0] == ["4.5", "45.5"]
    assert 'id="uplift-data"' in html and "js/campaign-uplift-chart.js" in html
    assert "Без контроля" not in html and "Давняя" not in html

    rows = _csv(client.get(reverse("analytics_csv"), {"chart": "uplift"}, HTTP_ACCEPT_LANGUAGE="en"))
    assert rows[0][0] == "Campaign" and len(rows) == 3
    assert rows[2][:1] + rows[2][2:] == ["Весна", "40", "20", "50.0", "40", "10", "25.0", "25.0", "4.5", "45.5", "no"]
    assert rows[1][-1] == "yes"


def test_a_period_without_campaigns_says_so(client, owner, merchant, measured):
    client.force_login(owner)
    page = client.get(reverse("analytics"), {"from": "2020-01", "to": "2020-03"}, HTTP_ACCEPT_LANGUAGE="en")
    assert 'data-testid="uplift-empty"' in page.content.decode()
    assert _csv(client.get(reverse("analytics_csv"), {"chart": "uplift", "from": "2020-01", "to": "2020-03"}))[1:] == []


def test_the_rfm_grid_and_its_csv_match_the_scores(client, owner, merchant, shop):
    # The shop of conftest.py: Anna, Boris and Gleb bought, Vera did not.
    recompute_rfm(merchant=merchant, now=NOW)
    cells = {
        (r["recency"], r["frequency"]): r["n"]
        for r in RfmScore.objects.filter(merchant=merchant).values("recency", "frequency").annotate(n=Count("pk"))
    }
    assert sum(cells.values()) == 3
    client.force_login(owner)
    page = client.get(reverse("analytics"))
    html = page.content.decode()
    grid = next(s for s in page.context["sections"] if s.key == "rfm").context["overview"].grid
    assert {(c.recency, c.frequency): c.count for row in grid for c in row if c.count} == cells
    r, f = next(iter(cells))
    assert f'href="/dashboard/segments/new/?r={r}&amp;f={f}" data-testid="rfm-cell-{r}-{f}"' in html
    rows = _csv(client.get(reverse("analytics_csv"), {"chart": "rfm"}))
    assert len(rows) == 26
    assert {(int(row[0]), int(row[1])): int(row[2]) for row in rows[1:] if row[2] != "0"} == cells


def test_the_roi_page_shows_what_the_measured_campaigns_returned(client, marketer, merchant, measured):
    client.force_login(marketer)
    page = client.get(reverse("roi_calculator"), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    returns = page.context["sections"][0].context
    assert [row["name"] for row in returns["rows"]] == ["Мини", "Весна"]
    mini, spring = returns["rows"]
    assert (spring["incremental_revenue"], spring["bonus_cost"], spring["roi_percent"]) == (
        Decimal("10000.00"),
        Decimal("400.00"),
        Decimal("2400"),
    )
    assert (mini["incremental_revenue"], mini["bonus_cost"], mini["roi_percent"], mini["too_small"]) == (
        Decimal("300.00"),
        Decimal("50.00"),
        Decimal("500"),
        True,
    )
    total = returns["total"]
    assert (total["incremental_revenue"], total["bonus_cost"], total["roi_percent"], total["too_small"]) == (
        Decimal("10300.00"),
        Decimal("450.00"),
        Decimal("2189"),
        1,
    )
    html = page.content.decode()
    assert money(Decimal("10300.00"), merchant) in html and "2189%" in html
    assert "1 campaign is too small to say" in html


def test_other_merchants_see_none_of_it(client, other_owner, measured):
    client.force_login(other_owner)
    assert "Весна" not in client.get(reverse("analytics")).content.decode()
    assert "Весна" not in client.get(reverse("roi_calculator")).content.decode()
    assert "Весна" not in client.get(reverse("analytics_csv"), {"chart": "uplift"}).content.decode()
