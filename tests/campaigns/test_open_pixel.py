"""The e-mail open pixel: each e-mail carries a 1×1 image with a signed token (the delivery's id,
no personal data); loading it marks that delivery opened once, and the report counts opens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client

from campaigns import reports
from campaigns.models import Delivery
from tests.campaigns.conftest import make_customer
from tests.campaigns.support import campaign_for, run_send

NOON_MOSCOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def pixel_path(mail) -> str:
    [url] = re.findall(r'<img src="([^"]+)" width="1" height="1"', mail.part("text/html"))
    return urlsplit(url).path


def test_loading_the_pixel_marks_the_delivery_opened_once(merchant, smtp_server, public_base):
    anna = make_customer(merchant, 1, name="Анна Петрова", email="anna@example.test")
    boris = make_customer(merchant, 2, name="Борис", email="boris@example.test")
    campaign = campaign_for(merchant, channels=["email"])
    with time_machine.travel(NOON_MOSCOW, tick=False):
        run_send(campaign)
    [mail] = smtp_server.to(anna.email)
    path = pixel_path(mail)
    # The link names nobody: no address, phone or name in it.
    for private in (anna.email, "anna", anna.phone.lstrip("+"), "Анна"):
        assert private.lower() not in path.lower()
    assert reports.campaign_report(campaign=campaign).opened == 0

    client = Client()
    opened_at = NOON_MOSCOW + timedelta(hours=1)
    with time_machine.travel(opened_at, tick=False):
        response = client.get(path)
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a") and len(response.content) == 43
    with time_machine.travel(opened_at + timedelta(hours=5), tick=False):
        assert client.get(path).status_code == 200
    rows = {d.customer_id: d for d in Delivery.objects.filter(campaign=campaign)}
    assert rows[anna.pk].opened_at == opened_at  # the first load, not the second
    assert rows[boris.pk].opened_at is None
    assert reports.campaign_report(campaign=campaign).opened == 1


def test_a_forged_or_damaged_token_changes_nothing(merchant, smtp_server, public_base):
    anna = make_customer(merchant, 1, email="anna@example.test")
    campaign = campaign_for(merchant, channels=["email"])
    with time_machine.travel(NOON_MOSCOW, tick=False):
        run_send(campaign)
    delivery = Delivery.objects.get(campaign=campaign, customer=anna)
    path = pixel_path(smtp_server.to(anna.email)[0])
    token = path.rstrip("/").rsplit("/", 1)[1]
    client = Client()
    for bad in (f"{delivery.pk}", token[:-2] + "xx", "MQ:forged:sig", token.replace(token[0], "Z", 1)):
        response = client.get(f"/o/{bad}/")
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    # A valid token signed for another purpose (the feedback link's salt) is not an open either.
    from campaigns.feedback import feedback_token

    assert client.get(f"/o/{feedback_token(delivery_id=delivery.pk)}/").status_code == 200
    delivery.refresh_from_db()
    assert delivery.opened_at is None


def test_the_report_page_shows_opens_for_email(merchant, owner, smtp_server, public_base):
    anna = make_customer(merchant, 1, email="anna@example.test")
    campaign = campaign_for(merchant, channels=["email"])
    with time_machine.travel(NOON_MOSCOW, tick=False):
        run_send(campaign)
    Client().get(pixel_path(smtp_server.to(anna.email)[0]))
    client = Client(headers={"Accept-Language": "ru"})
    client.force_login(owner)
    html = client.get(f"/dashboard/campaigns/{campaign.pk}/").content.decode()
    assert re.search(r'data-testid="opened">[^<]*: 1<', html), html[-3000:]
