"""The POS API: one APIView per operation. Each view authenticates (the API
key decides the merchant and the location), validates, calls one service or
selector, and serializes. Writes run through ``run_idempotent``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty import ledger
from loyalty import serializers as s
from loyalty.enrollment import services as enrollment
from loyalty.idempotency import HEADER as IDEMPOTENCY_HEADER
from loyalty.idempotency import MAX_KEY_LENGTH, idempotency_key_from_headers, request_fingerprint, run_idempotent
from loyalty.json_body import MAX_BODY_BYTES, MAX_DEPTH
from loyalty.ledger import selectors
from merchants.models import ApiKey, Merchant

from . import lane
from .auth import ApiKeyAuthentication, HasApiKey, bearer_secret, remembered_api_key
from .errors import pos_exception_handler
from .parsers import PosJsonParser
from .throttling import ApiKeyRateThrottle

TAG = "POS"
EXAMPLE_CARD_NUMBER = "412345678903"
CARD_NUMBER_PARAMETER = OpenApiParameter(
    name="card_number",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.PATH,
    description="The card's number (spaces and dashes are ignored).",
    examples=[OpenApiExample("Card", value=EXAMPLE_CARD_NUMBER)],
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(s.ErrorSerializer, description=description)


COMMON_ERRORS = {
    400: _error("Malformed JSON or invalid fields (see error.fields)."),
    401: _error("Missing, unknown or revoked API key."),
    429: _error("Too many requests for this API key; see Retry-After."),
}
# Request bodies: at most MAX_BODY_BYTES, lists and objects nested at most MAX_DEPTH levels.
BODY_ERRORS = {
    400: _error(f"Malformed JSON, nested more than {MAX_DEPTH} levels, or invalid fields (see error.fields)."),
    413: _error(f"request_too_large: the body is longer than {MAX_BODY_BYTES} bytes."),
}
WRITE_ERRORS = {
    **COMMON_ERRORS,
    **BODY_ERRORS,
    400: _error(
        f"Malformed JSON, nested more than {MAX_DEPTH} levels, invalid fields, or a missing/invalid Idempotency-Key."
    ),
    409: _error(
        "idempotency_key_reused: the key was used for a different request; "
        "duplicate_receipt / already_enrolled: the object exists."
    ),
}
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=IDEMPOTENCY_HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    pattern=rf"^[!-~]{{1,{MAX_KEY_LENGTH}}}$",
    description=(
        "A new unique key per operation (e.g. a UUID), 1–128 printable ASCII characters. Retrying with the "
        "same key and the same body returns the first response (with `Idempotent-Replayed: true`) and "
        "writes nothing; the same key with a different body is refused with 409 `idempotency_key_reused`. "
        "A concurrent duplicate waits for the first request and gets its response. Error responses are not "
        "stored: after a 4xx, a corrected request may reuse the key."
    ),
)


# How a purchase earns, stated once for the quote and the purchase (the ledger
# follows it: loyalty/ledger/quotes.py ``calculate``).
EARNING_RULES = (
    "**How a purchase earns.** Points are earned on the money paid: the bill after the tier discount, minus "
    "the part paid with points, rounded down to whole points. The program's minimum bill to earn is checked "
    "against that money too. The daily earning cap counts the points earned that day and kept (points a refund "
    "took back do not count).\n\n"
    "**Crossing a tier threshold.** The purchase that reaches a higher tier's threshold earns at the rate, and "
    "gets the discount, of the tier the card was on before it; the card is promoted after the purchase and the "
    "new tier applies from the next purchase. The quote shows the same: its `tier` is the tier this purchase "
    "earns at, and `points_to_earn` is what the purchase will earn.\n\n"
    '**Stamps.** `stamps_per_reward` is N in "every N-th visit is free": each paid visit earns a stamp, the '
    "(N − 1)-th stamp turns into a reward, and the reward pays for the N-th visit.\n\n"
    '**A free item.** `bill_amount` "0.00" is accepted only with `redeem_rewards` ≥ 1 and no `redeem_points`: '
    "it earns no points and no stamp."
)


class PosApiView(APIView):
    parser_classes = [PosJsonParser]
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]
    throttle_classes = [ApiKeyRateThrottle]

    def get_exception_handler(self):
        return pos_exception_handler

    @property
    def api_key(self) -> ApiKey:
        return self.request.auth

    @property
    def merchant(self) -> Merchant:
        return self.request.auth.merchant

    def context(self) -> dict[str, Any]:
        return {"merchant": self.merchant, "request": self.request}

    def validated(self, serializer_class, data) -> dict[str, Any]:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def idempotent(self, request: Request, serializer_class, write) -> Any:
        """Check the Idempotency-Key, validate the body, then run
        ``write(key, data)`` once per key (it returns status and JSON data)."""
        key = idempotency_key_from_headers(request.headers)
        fingerprint = request_fingerprint(method=request.method, path=request.path, data=request.data)
        data = self.validated(serializer_class, request.data)
        result = run_idempotent(
            merchant=self.merchant, key=key, fingerprint=fingerprint, write=lambda: write(key, dict(data))
        )
        return result.as_http_response()


def _lookup_variant(name: str, max_length: int, description: str) -> dict:
    return {
        "type": "object",
        "title": name,
        "properties": {
            # DRF trims whitespace before it checks a value, so one that is only whitespace is blank.
            name: {
                "type": "string",
                "minLength": 1,
                "maxLength": max_length,
                "pattern": s.NON_BLANK_TEXT_PATTERN,
                "description": description,
            }
        },
        "required": [name],
        "additionalProperties": False,
    }


# "Exactly one of phone / card_number / barcode", in the schema: one query object (form style,
# exploded, so ``?phone=…``) that is one of three shapes. The server checks the same rule.
LOOKUP_PARAMETER = OpenApiParameter(
    name="lookup",
    location=OpenApiParameter.QUERY,
    required=True,
    style="form",
    explode=True,
    type={
        "oneOf": [
            _lookup_variant("phone", 32, "In any common spelling."),
            _lookup_variant("card_number", 32, "Spaces and dashes ignored."),
            _lookup_variant("barcode", 128, "The scanned barcode payload."),
        ]
    },
    description="Exactly one of: phone, card_number, barcode.",
)


class CardLookupApi(PosApiView):
    @extend_schema(
        tags=[TAG],
        operation_id="card_lookup",
        summary="Find a card by phone, card number or scanned barcode",
        parameters=[LOOKUP_PARAMETER],
        responses={
            200: s.CardOutputSerializer,
            **COMMON_ERRORS,
            404: _error("card_not_found"),
            422: _error("invalid_phone: the phone number cannot be a real one"),
        },
    )
    def get(self, request: Request) -> Response:
        data = self.validated(s.CardLookupInputSerializer, request.query_params)
        card = selectors.card_lookup(merchant=self.merchant, **data)
        return Response(s.CardOutputSerializer(card, context=self.context()).data)


class CustomerEnrollApi(PosApiView):
    @extend_schema(
        tags=[TAG],
        operation_id="customer_enroll",
        summary="Enrol a customer and issue their card",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=s.EnrollInputSerializer,
        responses={201: s.CardOutputSerializer, **WRITE_ERRORS, 422: _error("invalid_phone and other rules")},
        examples=[
            OpenApiExample(
                "Enrol with consent",
                request_only=True,
                value={
                    "phone": "+7 916 123-45-00",
                    "name": "Анна",
                    "marketing_consent": True,
                    "consent_text_version": "2026-01",
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        def write(key: str, data: dict):
            card = enrollment.enroll_customer(
                merchant=self.merchant,
                location=self.api_key.location,
                source="cashier",
                consent_channel="pos",
                api_key=self.api_key,
                **data,
            )
            return status.HTTP_201_CREATED, s.CardOutputSerializer(card, context=self.context()).data

        return self.idempotent(request, s.EnrollInputSerializer, write)


class CardDetailApi(PosApiView):
    @extend_schema(
        tags=[TAG],
        operation_id="card_balance",
        summary="Card balance, tier and rewards",
        parameters=[CARD_NUMBER_PARAMETER],
        responses={200: s.CardOutputSerializer, **COMMON_ERRORS, 404: _error("card_not_found")},
    )
    def get(self, request: Request, card_number: str) -> Response:
        card = selectors.card_lookup(merchant=self.merchant, card_number=card_number)
        return Response(s.CardOutputSerializer(card, context=self.context()).data)


class CardHistoryApi(PosApiView):
    @extend_schema(
        tags=[TAG],
        operation_id="card_history",
        summary="Card ledger history, newest first",
        parameters=[CARD_NUMBER_PARAMETER, s.HistoryInputSerializer],
        responses={200: s.HistoryOutputSerializer, **COMMON_ERRORS, 404: _error("card_not_found")},
    )
    def get(self, request: Request, card_number: str) -> Response:
        data = self.validated(s.HistoryInputSerializer, request.query_params)
        card = selectors.card_lookup(merchant=self.merchant, card_number=card_number)
        entries = selectors.card_history_page(
            merchant=self.merchant, card=card, before_id=data.get("before"), limit=data["limit"]
        )
        page = entries[: data["limit"]]
        payload = {
            "card_number": card.number,
            "entries": page,
            "next_before": page[-1].pk if len(entries) > data["limit"] else None,
        }
        return Response(s.HistoryOutputSerializer(payload, context=self.context()).data)


class QuoteApi(PosApiView):
    @extend_schema(
        tags=[TAG],
        operation_id="quote",
        summary="What a purchase would do: discount, redeemable points, points to earn",
        description="Read-only; raises the same errors a purchase with this redemption would.\n\n" + EARNING_RULES,
        request=s.QuoteInputSerializer,
        examples=[
            OpenApiExample(
                "Quote",
                request_only=True,
                value={"card_number": EXAMPLE_CARD_NUMBER, "bill_amount": "450.00", "redeem_points": 50},
            )
        ],
        responses={
            200: s.QuoteOutputSerializer,
            **COMMON_ERRORS,
            **BODY_ERRORS,
            404: _error("card_not_found"),
            422: _error("card_blocked, insufficient_points, redemption_cap_exceeded, negative_balance, …"),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.QuoteInputSerializer, request.data)
        card = selectors.card_for_write(merchant=self.merchant, card_number=data["card_number"])
        quote = ledger.quote(
            merchant=self.merchant, card=card, bill_amount=data["bill_amount"], redeem_points=data["redeem_points"]
        )
        return Response(s.QuoteOutputSerializer(quote).data)


def _quick_purchase_response(request: HttpRequest) -> HttpResponse | None:
    """A purchase the quick way (``lane.quick_answer``), or None when the
    request needs the general path: anything but a plain, valid accrual from a
    key this worker has verified lately. The general path then answers it
    exactly as before (errors, 401, 429, redemption …). Nothing is written
    before None is returned. (In production the purchase lane in front of
    Django answers most of these; this is its way in for requests it has not
    learnt to answer yet, and for Django's test client.)"""
    secret = bearer_secret(request.META)
    api_key = remembered_api_key(secret) if secret else None
    if api_key is None or request.content_type != "application/json":
        return None
    if request.META.get("HTTP_ACCEPT") not in lane.PLAIN_ACCEPT:
        return None
    try:
        if not 0 < int(request.META.get("CONTENT_LENGTH") or 0) <= MAX_BODY_BYTES:
            return None
    except ValueError:
        return None
    result = lane.quick_answer(api_key=api_key, meta=request.META, body=request.body, path=request.path)
    if result is None:
        return None
    if not result.replayed:
        # The lane learns the headers of this answer (Django's middleware adds them) for requests like it.
        request.META[lane.QUICK_ANSWER] = translation.get_language()
    return result.as_http_response()


class PurchaseCreateApi(PosApiView):
    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST":
            response = _quick_purchase_response(request)
            if response is not None:
                response["Allow"] = ", ".join(self.allowed_methods)
                return response
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG],
        operation_id="purchase_create",
        summary="Record a purchase: optional redemption and accrual, atomically",
        description=EARNING_RULES,
        parameters=[IDEMPOTENCY_PARAMETER],
        request=s.PurchaseInputSerializer,
        responses={
            201: s.PurchaseOutputSerializer,
            **WRITE_ERRORS,
            404: _error("card_not_found"),
            422: _error("card_blocked, insufficient_points, redemption_cap_exceeded, negative_balance, …"),
        },
        examples=[
            OpenApiExample(
                "Accrue",
                request_only=True,
                value={"card_number": EXAMPLE_CARD_NUMBER, "bill_amount": "450.00", "receipt_id": "T1-000123"},
            ),
            OpenApiExample(
                "Redeem and accrue",
                request_only=True,
                value={
                    "card_number": EXAMPLE_CARD_NUMBER,
                    "bill_amount": "450.00",
                    "redeem_points": 100,
                    "receipt_id": "T1-000124",
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        def write(key: str, data: dict):
            card = selectors.card_for_write(merchant=self.merchant, card_number=data.pop("card_number"))
            purchase = ledger.purchase(
                merchant=self.merchant,
                card=card,
                location=self.api_key.location,
                idempotency_key=key,
                api_key=self.api_key,
                **data,
            )
            if purchase.card.tier_id == card.tier_id:
                # The service returns the locked card without its tier; unless
                # this purchase promoted it, reuse the one already loaded.
                purchase.card.tier = card.tier
            return status.HTTP_201_CREATED, s.PurchaseOutputSerializer(purchase, context=self.context()).data

        return self.idempotent(request, s.PurchaseInputSerializer, write)


class RefundCreateApi(PosApiView):
    @extend_schema(
        tags=[TAG],
        operation_id="refund_create",
        summary="Refund a purchase, fully or partly",
        description=(
            "Earned points are taken back and redeemed points given back in proportion. "
            "If the earned points were already spent, the balance may go negative."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        # Exactly one of purchase_id / receipt_id, as the server checks it.
        request=PolymorphicProxySerializer(
            component_name="RefundInput",
            serializers=[s.RefundByPurchaseIdSerializer, s.RefundByReceiptIdSerializer],
            resource_type_field_name=None,
        ),
        examples=[
            OpenApiExample("Partial refund", request_only=True, value={"receipt_id": "T1-000100", "amount": "100.00"}),
            OpenApiExample("Full refund", request_only=True, value={"purchase_id": 1}),
        ],
        responses={
            201: s.RefundOutputSerializer,
            **WRITE_ERRORS,
            404: _error("purchase_not_found"),
            422: _error("refund_exceeds_purchase (including an already fully refunded purchase)"),
        },
    )
    def post(self, request: Request) -> Response:
        def write(key: str, data: dict):
            purchase = selectors.purchase_lookup(
                merchant=self.merchant, purchase_id=data.get("purchase_id"), receipt_id=data.get("receipt_id", "")
            )
            refund = ledger.refund(
                merchant=self.merchant,
                purchase=purchase,
                amount=data.get("amount"),
                idempotency_key=key,
                api_key=self.api_key,
            )
            return status.HTTP_201_CREATED, s.RefundOutputSerializer(refund, context=self.context()).data

        return self.idempotent(request, s.RefundInputSerializer, write)


class NotFoundApi(PosApiView):
    """Unknown paths under the API answer 404 in the API's error shape."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    @extend_schema(exclude=True)
    def get(self, request: Request, *args, **kwargs) -> Response:
        raise NotFound(_("There is no such API endpoint."))

    post = put = patch = delete = get
