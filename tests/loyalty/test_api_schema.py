"""The OpenAPI schema: it validates, it is served with its docs from the
project itself (no CDN), and a property-based run of schemathesis against a
live server finds no 5xx and no write on a 4xx."""

# The fixtures are imported from api_support, so pytest arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.management import call_command
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from loyalty.ledger import purchase
from loyalty.models import Card
from loyalty.serializers import MONEY_PATTERN, POSITIVE_MONEY_PATTERN
from tests.loyalty.api_support import (  # noqa: F401  (fixtures)
    give_points,
    pos,
    pos_card,
    pos_key,
    pos_program,
    table_counts,
)

# The card number used in the schema's examples, so that generated requests reach real data too.
EXAMPLE_CARD = "412345678903"


@pytest.mark.django_db
def test_schema_validates_without_warnings(tmp_path):
    # drf-spectacular validates against the OpenAPI 3 JSON schema; --fail-on-warn makes any
    # unannotated field or view an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    text = (tmp_path / "schema.yaml").read_text()
    for path in ("/api/pos/v1/purchases/", "/api/pos/v1/refunds/", "/api/pos/v1/quotes/", "/api/pos/v1/customers/"):
        assert path in text
    assert "Idempotency-Key" in text and "PosApiKey" in text


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/pos/v1/schema/?format=json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["components"]["securitySchemes"]["PosApiKey"]["scheme"] == "bearer"
    assert set(document["paths"]) == {
        "/api/pos/v1/cards/lookup/",
        "/api/pos/v1/cards/{card_number}/",
        "/api/pos/v1/cards/{card_number}/history/",
        "/api/pos/v1/customers/",
        "/api/pos/v1/quotes/",
        "/api/pos/v1/purchases/",
        "/api/pos/v1/refunds/",
    }
    purchase = document["paths"]["/api/pos/v1/purchases/"]["post"]
    header = next(p for p in purchase["parameters"] if p["name"] == "Idempotency-Key")
    assert header["in"] == "header" and header["required"] is True
    assert {"201", "400", "401", "404", "409", "422", "429"} <= set(purchase["responses"])
    amount = document["components"]["schemas"]["PurchaseInput"]["properties"]["bill_amount"]
    assert amount["type"] == "string" and amount["format"] == "decimal"

    docs = client.get("/api/pos/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    # …and those files ship with the project (drf-spectacular-sidecar), collected like any static file.
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


@pytest.mark.django_db
def test_schema_is_as_strict_as_the_server(client):
    """Issue 8, defect 9: the refund's "exactly one of purchase_id / receipt_id" is a oneOf, and
    required strings (and optional ones, when given) may not be empty."""
    document = client.get("/api/pos/v1/schema/?format=json").json()
    schemas = document["components"]["schemas"]
    refund = document["paths"]["/api/pos/v1/refunds/"]["post"]["requestBody"]["content"]["application/json"]
    assert refund["schema"] == {"$ref": "#/components/schemas/RefundInput"}
    for path in ("/api/pos/v1/refunds/", "/api/pos/v1/purchases/", "/api/pos/v1/customers/", "/api/pos/v1/quotes/"):
        assert document["paths"][path]["post"]["requestBody"]["required"] is True, path
    variants = [ref["$ref"].rsplit("/", 1)[1] for ref in schemas["RefundInput"]["oneOf"]]
    assert [schemas[name]["required"] for name in variants] == [["purchase_id"], ["receipt_id"]]
    for component, field in [
        ("PurchaseInput", "card_number"),
        ("PurchaseInput", "receipt_id"),
        ("QuoteInput", "card_number"),
        ("EnrollInput", "phone"),
        ("RefundByReceiptId", "receipt_id"),
    ]:
        assert schemas[component]["properties"][field]["minLength"] == 1, (component, field)
    (lookup,) = document["paths"]["/api/pos/v1/cards/lookup/"]["get"]["parameters"]
    assert (lookup["in"], lookup["style"], lookup["explode"], lookup["required"]) == ("query", "form", True, True)
    variants = lookup["schema"]["oneOf"]
    assert [variant["required"] for variant in variants] == [["phone"], ["card_number"], ["barcode"]]
    assert [next(iter(v["properties"].values()))["minLength"] for v in variants] == [1, 1, 1]
    # Amounts: the server's own pattern; a quote's bill is positive, a purchase's may be 0.00 only
    # for a free item paid with a reward (a oneOf over the whole body).
    assert schemas["QuoteInput"]["properties"]["bill_amount"]["pattern"] == POSITIVE_MONEY_PATTERN
    assert schemas["PurchaseInput"]["properties"]["bill_amount"]["pattern"] == MONEY_PATTERN
    paid, free = schemas["PurchaseInput"]["oneOf"]
    assert paid["properties"]["bill_amount"]["pattern"] == POSITIVE_MONEY_PATTERN
    assert free["properties"]["redeem_rewards"] == {"minimum": 1} and free["required"] == ["redeem_rewards"]


# --- property-based: schemathesis against a live server ---------------------------------
#
# schemathesis' pytest plugin (``from_fixture``/``parametrize``) does not work with pytest 9 yet
# (it sets ``node._nodeid``), so the test drives its Hypothesis strategies directly: for every
# operation, schema-valid (positive) and schema-invalid (negative) requests, over real HTTP.

EXAMPLES_PER_OPERATION_AND_MODE = 20


@pytest.mark.django_db(transaction=True)
def test_no_5xx_and_no_write_on_4xx(live_server, pos, pos_card, merchant, location, settings):
    settings.POS_API_THROTTLE_RATE = "100000/min"
    # A card with the number the schema's examples use, and points to redeem.
    Card.objects.filter(pk=pos_card.pk).update(number=EXAMPLE_CARD)
    card = Card.objects.get(pk=pos_card.pk)
    give_points(merchant, location, card, "5000.00")
    purchase(
        merchant=merchant, card=card, location=location, bill_amount="1000.00", receipt_id="T1-000100",
        idempotency_key="seed-T1-000100",
    )  # fmt: skip
    api = schemathesis.openapi.from_url(f"{live_server.url}/api/pos/v1/schema/?format=json")
    auth = {"Authorization": f"Bearer {pos.secret}"}
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    seen: dict[str, set[int]] = {}

    def exercise(case) -> None:
        before = table_counts()
        response = case.call(base_url=live_server.url, headers=auth)
        seen.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)
        case.validate_response(response, checks=checks)
        if 400 <= response.status_code < 500:
            assert table_counts() == before, (case.method, case.path, response.status_code, response.text)

    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == 7
    example_settings = hypothesis_settings(
        max_examples=5, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    for operation in operations:
        # The schema's own examples first (they reach real cards and purchases) …
        for strategy in api.get_strategies_from_examples(operation):
            example_settings(given(case=strategy)(exercise))()
        # … then generated requests, valid and invalid by the schema.
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = given(case=operation.as_strategy(generation_mode=mode))(exercise)
            settings_ = hypothesis_settings(
                max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],
            )
            settings_(run)()
    # The run reached past validation: some requests were accepted, some refused.
    statuses = set().union(*seen.values())
    for operation in (
        "POST /api/pos/v1/purchases/",
        "POST /api/pos/v1/refunds/",
        "POST /api/pos/v1/customers/",
        "POST /api/pos/v1/quotes/",
        "GET /api/pos/v1/cards/{card_number}/",
    ):
        assert any(200 <= status < 300 for status in seen[operation]), seen
    assert 400 in statuses and 404 in statuses, seen


def test_purchase_and_quote_docs_state_how_the_crossing_purchase_earns(client):
    """Defect 18 (and 15): the OpenAPI description says which rate the purchase that
    crosses a tier threshold earns, and when a bill of 0.00 is accepted."""
    document = client.get("/api/pos/v1/schema/?format=json").json()
    for path in ("/api/pos/v1/purchases/", "/api/pos/v1/quotes/"):
        description = document["paths"][path]["post"]["description"]
        assert "earns at the rate, and gets the discount, of the tier the card was on before it" in description
        assert "the new tier applies from the next purchase" in description
        assert "minimum bill to earn is checked against that money too" in description
    bill = document["components"]["schemas"]["PurchaseInput"]["properties"]["bill_amount"]
    assert "redeem_rewards" in bill["description"]


# --- every phase (stateful included), every check: schemathesis' own runner -----------------------
#
# The CLI runs the examples, coverage, fuzzing and stateful phases with ``--checks all``; it exits
# non-zero on any finding. 422 is the documented answer to a well-formed request that breaks a
# business rule (insufficient points, a blocked card), which no schema can express, so it is an
# accepted answer for schema-valid data.

SCHEMATHESIS_MAX_EXAMPLES = 30


@pytest.mark.django_db(transaction=True)
def test_schemathesis_all_phases_and_checks_find_nothing(live_server, pos, pos_card, merchant, location, settings):
    import subprocess
    import sys
    from pathlib import Path

    settings.POS_API_THROTTLE_RATE = "100000/min"
    Card.objects.filter(pk=pos_card.pk).update(number=EXAMPLE_CARD)
    card = Card.objects.get(pk=pos_card.pk)
    give_points(merchant, location, card, "5000.00")
    purchase(
        merchant=merchant, card=card, location=location, bill_amount="1000.00", receipt_id="T1-000100",
        idempotency_key="seed-T1-000100",
    )  # fmt: skip
    config = Path(settings.BASE_DIR) / "tests" / "loyalty" / "schemathesis.toml"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file", str(config),
            "run", f"{live_server.url}/api/pos/v1/schema/?format=json",
            "--url", live_server.url,
            "-H", f"Authorization: Bearer {pos.secret}",
            "--checks", "all",
            "--phases", "examples,coverage,fuzzing,stateful",
            "--max-examples", str(SCHEMATHESIS_MAX_EXAMPLES),
            "--seed", "8",
            "--generation-deterministic",
            "--no-color",
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
