"""The campaign pages through the stack: a marketer creates a broadcast, previews it, sends it
(the real tasks, Celery eager), follows progress and opens the report; another merchant's
campaign is a 404; a cashier may not see the pages."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.models import Campaign, Delivery
from tests import factories
from tests.campaigns.conftest import make_customer
from tests.wallet.pipeline_support import eager_celery  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("english")


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def no_quiet_hours(merchant):
    from campaigns.models import CampaignSettings

    CampaignSettings.objects.update_or_create(
        merchant=merchant, defaults={"quiet_start": "00:00", "quiet_end": "00:00"}
    )


@pytest.mark.usefixtures("eager_celery")
@pytest.mark.django_db(transaction=True)
def test_marketer_creates_previews_sends_and_reads_the_report(
    merchant, marketer, smtp_server, no_quiet_hours, settings
):
    settings.LANGUAGE_CODE = "en"
    for n in range(1, 6):
        make_customer(merchant, n, name=f"Гость{n}")
    client = login(marketer)
    assert client.get(reverse("campaign_list")).status_code == 200
    response = client.post(
        reverse("campaign_create"),
        {
            "name": "Осень",
            "kind": "broadcast",
            "channel_1": "email",
            "subject": "Новости",
            "body": "{first_name}, у вас {balance} баллов",
            "offer_points": "0",
            "holdout_percent": "0",
            "attribution_days": "14",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get(merchant=merchant, name="Осень")
    assert campaign.channels == ["email"]
    page = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert "5 customers in the audience." in page and "Гость1, у вас" in page

    client.post(reverse("campaign_send", args=[campaign.pk]))
    assert len(smtp_server.messages) == 5
    progress = client.get(reverse("campaign_progress", args=[campaign.pk])).json()
    assert (progress["sent"], progress["remaining"], progress["status"]) == (5, 0, "done")
    page = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert 'data-testid="report"' in page and "Too small to say" in page
    assert Delivery.objects.filter(campaign=campaign, status="sent").count() == 5


@pytest.mark.django_db
def test_campaign_pages_are_scoped_to_the_merchant_and_closed_to_cashiers(merchant, marketer, cashier):
    other = factories.MerchantFactory(name="Other")
    theirs = Campaign.objects.create(merchant=other, name="x", body="x", channels=["email"])
    client = login(marketer)
    for name in ("campaign_detail", "campaign_edit", "campaign_progress"):
        assert client.get(reverse(name, args=[theirs.pk])).status_code == 404
    assert client.post(reverse("campaign_cancel", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "draft"
    assert login(cashier).get(reverse("campaign_list")).status_code == 403
