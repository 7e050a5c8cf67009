"""Fixtures and helpers shared by the POS API and cashier tests (imported by
those modules): an API key for the location, a client that sends it, a card,
and a snapshot of the tables a write touches."""

from __future__ import annotations

import uuid

import pytest
from django.http import HttpResponse
from django.test import Client
from django.test.client import ClientHandler

from loyalty.api import lane
from loyalty.enrollment.services import enroll_customer
from loyalty.models import Card, Customer, IdempotentRequest, LedgerEntry, Lot, Purchase, Refund
from loyalty.program.services import program_for, save_program
from merchants.services import api_key_create

API = "/api/pos/v1"


class _LaneHandler(ClientHandler):
    """The test client's handler with the POS purchase lane in front, as in production
    (config/wsgi.py): what the lane answers never reaches Django, the rest does."""

    def __call__(self, environ):
        answered = lane.answer(environ)
        if answered is None:
            response = super().__call__(environ)
            lane.learn(environ, f"{response.status_code} {response.reason_phrase}", response.items())
            return response
        status_line, headers, body = answered
        response = HttpResponse(body, status=int(status_line[:3]))
        for name in list(response.headers):
            del response.headers[name]
        for name, value in headers:
            response.headers[name] = value
        response.answered_by_lane = True
        return response


class LaneClient(Client):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.handler = _LaneHandler(enforce_csrf_checks=False)


class PosClient:
    """Django's test client (with the POS purchase lane in front) with the API key and JSON bodies."""

    def __init__(self, secret: str | None) -> None:
        self.client = LaneClient()
        self.secret = secret

    def _headers(self, headers: dict | None, key: str | None) -> dict:
        result = {}
        if self.secret:
            result["Authorization"] = f"Bearer {self.secret}"
        if key:
            result["Idempotency-Key"] = key
        result.update(headers or {})
        return result

    def get(self, path: str, params: dict | None = None, headers: dict | None = None):
        return self.client.get(API + path, params or {}, headers=self._headers(headers, None))

    def post(self, path: str, body=None, *, key: str | None = "auto", raw: str | None = None, headers=None):
        if key == "auto":
            key = str(uuid.uuid4())
        import json

        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(API + path, data, content_type="application/json", headers=self._headers(headers, key))


def table_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Customer, Card, Purchase, Refund, LedgerEntry, Lot, IdempotentRequest)
    }


@pytest.fixture
def pos_program(merchant, owner):
    """5 % cashback, points pay at most 30 % of a bill, no welcome bonus, no
    returning-customer boost: simple numbers."""
    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, welcome_bonus=0, returning_after_days=None)
    return program_for(merchant=merchant)


@pytest.fixture
def pos_key(merchant, location, owner):
    return api_key_create(merchant=merchant, location=location, name="Till 1", actor=owner)


@pytest.fixture
def pos(pos_key, pos_program):
    return PosClient(pos_key.secret)


@pytest.fixture
def pos_card(merchant, location, pos_program):
    return enroll_customer(merchant=merchant, phone="+79161234567", name="Анна", location=location)


@pytest.fixture
def other_pos(other_merchant, other_owner):
    from tests import factories

    other_location = factories.LocationFactory(merchant=other_merchant, name="Other till")
    issued = api_key_create(merchant=other_merchant, location=other_location, name="Other", actor=other_owner)
    program_for(merchant=other_merchant)
    return PosClient(issued.secret)


def give_points(merchant, location, card: Card, bill: str = "2000.00") -> Purchase:
    """Earn points the ordinary way (5 % of the bill)."""
    from loyalty.ledger import purchase

    return purchase(
        merchant=merchant,
        card=card,
        location=location,
        bill_amount=bill,
        receipt_id=f"seed-{uuid.uuid4().hex[:10]}",
        idempotency_key=f"seed-{uuid.uuid4().hex}",
    )
