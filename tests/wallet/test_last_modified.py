"""Issue 8, defect 1: the pass's Last-Modified through the real PassKit web
service (a live HTTP server, so responses carry a real Date header), for a
merchant east and one west of UTC. Changes are purchases through the POS API,
which runs in the merchant's time zone. Last-Modified must never be later than
the response's Date, must grow with every change (a device holding the
previous pass never gets a 304), and must not depend on the time zone."""

# ruff: noqa: F811  (fixtures imported from support modules)

from __future__ import annotations

import time
import uuid

import pytest
import requests
from django.utils.http import parse_http_date

from loyalty.wallet.passes import wallet_pass_for
from tests import factories
from tests.loyalty.api_support import PosClient
from tests.wallet.pipeline_support import eager_celery, wallet_settings  # noqa: F401

TYPE = "pass.com.example.loyalty"


@pytest.fixture(params=["Asia/Vladivostok", "America/Los_Angeles"], ids=["east", "west"])
def zoned_merchant(request, transactional_db, pki, wallet_settings):
    from loyalty.program.services import program_for, save_program
    from loyalty.wallet import credentials as wallet_credentials
    from merchants.services import api_key_create

    merchant = factories.MerchantFactory(name="Кофейня «Зерно»", time_zone=request.param)
    location = factories.LocationFactory(merchant=merchant, name="Тверская")
    owner = factories.UserFactory(merchant=merchant, role="owner", email=f"owner-{uuid.uuid4().hex[:6]}@zerno.test")
    wallet_credentials.upload_apple_certificate(merchant=merchant, data=pki.pass_cert.p12(b"pw"), password="pw")
    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, welcome_bonus=0, returning_after_days=None)
    key = api_key_create(merchant=merchant, location=location, name="Till 1", actor=owner)
    return merchant, location, PosClient(key.secret)


def test_last_modified_follows_each_change_and_is_never_ahead_of_date(zoned_merchant, live_server, eager_celery):
    from loyalty.enrollment.services import enroll_customer

    merchant, location, pos = zoned_merchant
    card = enroll_customer(merchant=merchant, phone="+79161234567", name="Анна", location=location)
    wallet_pass = wallet_pass_for(card=card)
    url = f"{live_server.url}/wallet/passkit/v1/passes/{TYPE}/{wallet_pass.serial_number}"
    auth = {"Authorization": f"ApplePass {wallet_pass.authentication_token}"}

    def fetch(since: str | None = None) -> requests.Response:
        headers = dict(auth, **({"If-Modified-Since": since} if since else {}))
        response = requests.get(url, headers=headers, timeout=30)
        assert response.status_code in (200, 304), response.status_code
        # Never later than the response's own Date (both whole seconds).
        assert parse_http_date(response.headers["Last-Modified"]) <= parse_http_date(response.headers["Date"])
        return response

    def buy(bill: str) -> None:
        body = {"card_number": card.number, "bill_amount": bill, "receipt_id": uuid.uuid4().hex[:12]}
        response = pos.post("/purchases/", body)
        assert response.status_code == 201, response.content

    first = fetch()
    assert first.status_code == 200
    held = first.headers["Last-Modified"]
    assert fetch(held).status_code == 304
    for _ in range(3):
        # Start at the top of a second, so the two changes below usually share
        # one second with the fetch between them (the case a device hits when
        # it fetches right after a push).
        while time.time() % 1 > 0.05:
            time.sleep(0.01)
        for bill in ("100.00", "40.00"):
            buy(bill)
            changed = fetch(held)
            assert changed.status_code == 200, "the device holding the previous pass got 304 for a changed pass"
            assert parse_http_date(changed.headers["Last-Modified"]) > parse_http_date(held)
            held = changed.headers["Last-Modified"]
        assert fetch(held).status_code == 304


def test_a_device_holding_a_date_from_the_future_gets_the_pass_again(db, pki, wallet_settings):
    """Before the fix, passes east of UTC ran hours ahead and their devices hold
    such a Last-Modified; an If-Modified-Since later than now is ignored."""
    from django.test import Client
    from django.utils.http import http_date

    from loyalty.enrollment.services import enroll_customer
    from loyalty.program.services import program_for
    from loyalty.wallet import credentials as wallet_credentials

    merchant = factories.MerchantFactory(time_zone="Europe/Moscow")
    location = factories.LocationFactory(merchant=merchant)
    wallet_credentials.upload_apple_certificate(merchant=merchant, data=pki.pass_cert.p12(b"pw"), password="pw")
    program_for(merchant=merchant)
    wallet_pass = wallet_pass_for(card=enroll_customer(merchant=merchant, phone="+79161234567", location=location))
    held = http_date(time.time() + 3 * 3600)
    response = Client().get(
        f"/wallet/passkit/v1/passes/{TYPE}/{wallet_pass.serial_number}",
        headers={"Authorization": f"ApplePass {wallet_pass.authentication_token}", "If-Modified-Since": held},
    )
    assert response.status_code == 200
    assert parse_http_date(response["Last-Modified"]) <= time.time()
