"""Plain input and output serializers: the wire shapes of cards, quotes, purchases
and refunds, shared by the POS API and the till's JSON views.

Amounts travel as decimal strings with the merchant currency's decimals
("450.00" RUB, "450" JPY, "450.250" KWD), never as floats; points, stamps
and rewards as integers. An input amount may carry up to three decimals on the
wire; the ledger refuses one that its currency cannot hold (1.5 JPY: a 422).
Input serializers only check shapes and ranges; the rules (caps, balances,
blocked cards, the currency's decimals) are the services' job.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, TypedDict

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty.money import fits_currency, precision_message, wire_amount


class MoneyOptions(TypedDict):
    max_digits: int
    decimal_places: int
    coerce_to_string: bool


# A TypedDict, so that each ``DecimalField(**MONEY)`` is type-checked keyword by keyword.
MONEY: MoneyOptions = {"max_digits": 13, "decimal_places": 3, "coerce_to_string": True}
MAX_POINTS = 10**12
MAX_ID = 2**63 - 1


# What an amount looks like on the wire: "0" or digits without a leading zero, optionally a point
# and one to three decimals (three: KWD, BHD, OMR…; whether the merchant's currency has that many
# is the ledger's check). The schema says the same, so a request is valid for both or for neither.
MONEY_PATTERN = r"^(?:0|[1-9]\d{0,9})(?:\.\d{1,3})?$"
POSITIVE_MONEY_PATTERN = r"^(?:[1-9]\d{0,9}(?:\.\d{1,3})?|0\.(?:[1-9]\d{0,2}|0[1-9]\d?|00[1-9]))$"
ZERO_MONEY_PATTERN = r"^0(?:\.0{1,3})?$"
# More decimals than any currency has: refused with that reason rather than "not a number".
_TOO_PRECISE_PATTERN = r"^(?:0|[1-9]\d{0,9})\.\d{4,}$"


def _merchant_currency(field: serializers.Field) -> str | None:
    merchant = field.context.get("merchant") if isinstance(field.context, dict) else None
    return getattr(merchant, "currency", None)


class CurrencyAmountField(serializers.DecimalField):
    """An amount that must fit the merchant currency's minor unit (``context["merchant"]``):
    "1.5" is refused for JPY, "1.234" accepted for KWD, "1.2345" refused for everyone."""

    def to_internal_value(self, data: Any) -> Decimal:
        amount = super().to_internal_value(data)
        currency = _merchant_currency(self)
        if currency and not fits_currency(amount, currency):
            raise serializers.ValidationError(precision_message(currency), code="invalid")
        return amount


class MoneyInputField(CurrencyAmountField):
    """An amount sent as a decimal string ("450.00"), held to the schema's pattern: DRF's own
    parsing would also take "", "1.", " 1" or "0450", which the schema does not describe."""

    def __init__(self, *, pattern: str = MONEY_PATTERN, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pattern = pattern

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, str) and not re.fullmatch(self.pattern, data):
            if re.fullmatch(MONEY_PATTERN, data):
                self.fail("min_value", min_value=self.min_value)
            if re.fullmatch(_TOO_PRECISE_PATTERN, data):
                self.fail("max_decimal_places", max_decimal_places=self.decimal_places)
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "format": "decimal", "pattern": POSITIVE_MONEY_PATTERN})
class PositiveMoneyInputField(MoneyInputField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(pattern=POSITIVE_MONEY_PATTERN, min_value=Decimal("0.001"), **kwargs)


@extend_schema_field({"type": "string", "format": "decimal", "pattern": MONEY_PATTERN})
class AnyMoneyInputField(MoneyInputField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(pattern=MONEY_PATTERN, min_value=Decimal("0.00"), **kwargs)


def money_input(**kwargs: Any) -> serializers.DecimalField:
    """An amount greater than zero."""
    return PositiveMoneyInputField(**MONEY, **kwargs)


# Text as the server takes it: DRF trims what str.strip() calls whitespace (so some other
# character must be there) and refuses NUL. Spelled out rather than \s, which JSON Schema
# tools read differently (some take U+001F for a letter). The schema says the same.
_BLANK = r"\u0000\t\n\u000b\u000c\r\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NON_BLANK_TEXT_PATTERN = rf"^[^\u0000]*[^{_BLANK}][^\u0000]*$"


class NonBlankTextField(serializers.CharField):
    """Required text: at least one character that is not whitespace, and no NUL."""

    def __init__(self, *, min_length: int = 1, max_length: int, **kwargs: Any) -> None:
        super().__init__(min_length=min_length, max_length=max_length, **kwargs)


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 64, "pattern": NON_BLANK_TEXT_PATTERN})
class ReceiptIdField(NonBlankTextField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=64, **kwargs)


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 32, "pattern": NON_BLANK_TEXT_PATTERN})
class CardNumberField(NonBlankTextField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=32, **kwargs)


class MoneyOutputField(serializers.DecimalField):
    """An amount written with its currency's decimals: "450.00" RUB, "450" JPY, "450.250" KWD.

    The currency is the merchant's (``context["merchant"]``), else the one the object being
    serialized names (a quote, a purchase, or a refund's purchase)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**MONEY, **kwargs)

    def _currency(self) -> str | None:
        currency = _merchant_currency(self)
        if currency is not None:
            return currency
        root = self.root.instance
        currency = getattr(root, "currency", None)
        if currency is None:
            currency = getattr(getattr(root, "purchase", None), "currency", None)
        return currency

    def to_representation(self, value: Any) -> str:
        return wire_amount(Decimal(value), self._currency())


# --- errors (for the schema) ------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("Stable machine-readable code, e.g. card_not_found."))
    message = serializers.CharField(help_text=_("Human-readable explanation, in the request's language."))
    # The wire name is "fields". DRF's metaclass moves declared fields out of the
    # class body, so this never shadows Serializer.fields at run time; the stubs
    # cannot know that.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text=_("Problems per input field; empty when the error is not about one field."),
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


# --- inputs ----------------------------------------------------------------------------


class QueryInputSerializer(serializers.Serializer):
    """Query parameters: one that is present must have a value. (DRF treats ``?before=`` as
    absent for an optional field; the schema says a value is required, so the server does too.)"""

    def to_internal_value(self, data):
        blank: dict[str, list[str]] = {
            str(name): [str(_("This field may not be blank."))] for name in self.fields if data.get(name, None) == ""
        }
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)


class CardLookupInputSerializer(QueryInputSerializer):
    phone = serializers.CharField(required=False, min_length=1, max_length=32, help_text=_("In any common spelling."))
    card_number = serializers.CharField(
        required=False, min_length=1, max_length=32, help_text=_("Spaces and dashes ignored.")
    )
    barcode = serializers.CharField(
        required=False, min_length=1, max_length=128, help_text=_("The scanned barcode payload.")
    )

    def validate(self, attrs):
        given = [name for name in ("phone", "card_number", "barcode") if attrs.get(name)]
        if len(given) != 1:
            raise serializers.ValidationError(_("Give exactly one of: phone, card_number, barcode."))
        return attrs


class EnrollInputSerializer(serializers.Serializer):
    phone = serializers.CharField(min_length=1, max_length=32)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    birthday = serializers.DateField(required=False, allow_null=True, default=None)
    marketing_consent = serializers.BooleanField(required=False, default=False)
    consent_text_version = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    referral_code = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")


class CardRefInputSerializer(serializers.Serializer):
    card_number = CardNumberField(help_text=_("The card's number (or scan → lookup first)."))


class QuoteInputSerializer(CardRefInputSerializer):
    bill_amount = money_input(help_text=_('The bill before discount and points, e.g. "450.00".'))
    redeem_points = serializers.IntegerField(min_value=0, max_value=MAX_POINTS, required=False, default=0)


# The code of the free-item rule's errors: their words are written for people already.
FREE_ITEM_CODE = "free_item_bill"


def check_free_item_bill(attrs):
    """A bill of 0.00 is a free item paid with a reward and nothing else: it
    needs ``redeem_rewards`` ≥ 1 and no ``redeem_points``. Any other bill must be
    at least 0.01 (the field allows 0.00 only for this case)."""
    if attrs.get("bill_amount") == 0:
        if not attrs.get("redeem_rewards"):
            raise serializers.ValidationError(
                {
                    "bill_amount": _(
                        "The bill must be greater than zero; it can be 0.00 only when a reward pays for the purchase."
                    )
                },
                code=FREE_ITEM_CODE,
            )
        if attrs.get("redeem_points"):
            raise serializers.ValidationError(
                {"redeem_points": _("Points cannot pay a bill of 0.00.")}, code=FREE_ITEM_CODE
            )
    return attrs


class PurchaseInputSerializer(QuoteInputSerializer):
    bill_amount = AnyMoneyInputField(
        **MONEY,
        help_text=_(
            'The bill before discount and points, e.g. "450.00". "0.00" only with redeem_rewards ≥ 1 and no '
            "redeem_points: a free item paid with a reward."
        ),
    )
    redeem_rewards = serializers.IntegerField(min_value=0, max_value=10_000, required=False, default=0)
    receipt_id = ReceiptIdField(help_text=_("The till's receipt id, unique per merchant."))

    def validate(self, attrs):
        return check_free_item_bill(attrs)


class RefundInputSerializer(serializers.Serializer):
    purchase_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    receipt_id = serializers.CharField(min_length=1, max_length=64, required=False)
    amount = money_input(
        required=False, allow_null=True, help_text=_("Part of the bill to refund; omit for all that is left.")
    )

    def validate(self, attrs):
        if ("purchase_id" in attrs) == bool(attrs.get("receipt_id")):
            raise serializers.ValidationError(_("Give exactly one of: purchase_id, receipt_id."))
        return attrs


# The refund's two shapes, for the schema only (``oneOf``: exactly one of purchase_id / receipt_id);
# RefundInputSerializer validates the same rule on the server.
class RefundByPurchaseIdSerializer(serializers.Serializer):
    purchase_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    amount = money_input(
        required=False, allow_null=True, help_text=_("Part of the bill to refund; omit for all that is left.")
    )


class RefundByReceiptIdSerializer(serializers.Serializer):
    receipt_id = ReceiptIdField()
    amount = money_input(
        required=False, allow_null=True, help_text=_("Part of the bill to refund; omit for all that is left.")
    )


class HistoryInputSerializer(QueryInputSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=50)
    before = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text=_("Entry id from the previous page's next_before.")
    )


# --- outputs -----------------------------------------------------------------------------


class CustomerOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()


class CardOutputSerializer(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField()
    customer = CustomerOutputSerializer()
    tier = serializers.SerializerMethodField()
    balance = serializers.IntegerField(help_text=_("All points on the card (may be negative while in debt)."))
    spendable_points = serializers.IntegerField(help_text=_("Points that can be redeemed now."))
    pending_points = serializers.IntegerField(help_text=_("Points earned but not yet spendable."))
    stamps = serializers.IntegerField()
    rewards_available = serializers.IntegerField()
    currency = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_tier(self, card) -> str | None:
        return card.tier.name if card.tier_id else None

    def get_currency(self, card) -> str:
        return self.context["merchant"].currency


class CardSummaryOutputSerializer(serializers.Serializer):
    """The card's counters after a write."""

    number = serializers.CharField()
    balance = serializers.IntegerField()
    spendable_points = serializers.IntegerField()
    pending_points = serializers.IntegerField()
    stamps = serializers.IntegerField()
    rewards_available = serializers.IntegerField()
    tier = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_tier(self, card) -> str | None:
        return card.tier.name if card.tier_id else None


class QuoteOutputSerializer(serializers.Serializer):
    currency = serializers.CharField()
    mechanic = serializers.CharField()
    bill_amount = MoneyOutputField()
    tier = serializers.CharField(help_text=_("Tier name (empty if the program has no tiers)."))
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True)
    discount_amount = MoneyOutputField()
    amount_after_discount = MoneyOutputField()
    max_redeem_points = serializers.IntegerField(help_text=_("Most points this bill can take (cap and balance)."))
    redeem_points = serializers.IntegerField()
    point_value = MoneyOutputField()
    points_amount = MoneyOutputField(help_text=_("Money value of redeem_points."))
    amount_to_pay = MoneyOutputField()
    points_to_earn = serializers.IntegerField(help_text=_("Points earned if redeem_points are redeemed."))
    earn_if_no_redeem = serializers.IntegerField()
    earn_if_max_redeem = serializers.IntegerField()
    balance = serializers.IntegerField()
    spendable_points = serializers.IntegerField()
    pending_points = serializers.IntegerField()
    stamps = serializers.IntegerField()
    stamps_per_reward = serializers.IntegerField()
    stamp_to_earn = serializers.BooleanField()
    rewards_available = serializers.IntegerField()


class PurchaseOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    receipt_id = serializers.CharField()
    currency = serializers.CharField()
    bill_amount = MoneyOutputField()
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True)
    discount_amount = MoneyOutputField()
    points_redeemed = serializers.IntegerField()
    points_amount = MoneyOutputField(help_text=_("Money paid with points."))
    amount_paid = MoneyOutputField(help_text=_("Money paid by the customer."))
    points_earned = serializers.IntegerField()
    stamps_earned = serializers.IntegerField()
    rewards_redeemed = serializers.IntegerField()
    refunded_amount = MoneyOutputField()
    created_at = serializers.DateTimeField()
    card = CardSummaryOutputSerializer()


class RefundPurchaseOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    receipt_id = serializers.CharField()
    bill_amount = MoneyOutputField()
    refunded_amount = MoneyOutputField()
    refundable_amount = MoneyOutputField()


class RefundOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = MoneyOutputField()
    points_reversed = serializers.IntegerField(help_text=_("Earned points taken back."))
    points_restored = serializers.IntegerField(help_text=_("Redeemed points given back."))
    stamps_reversed = serializers.IntegerField()
    rewards_restored = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    purchase = RefundPurchaseOutputSerializer()
    card = CardSummaryOutputSerializer()


class LedgerEntryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    kind_display = serializers.CharField(source="get_kind_display")
    points = serializers.IntegerField()
    stamps = serializers.IntegerField()
    rewards = serializers.IntegerField()
    receipt_id = serializers.SerializerMethodField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_receipt_id(self, entry) -> str | None:
        return entry.purchase.receipt_id if entry.purchase_id else None


class HistoryOutputSerializer(serializers.Serializer):
    card_number = serializers.CharField()
    entries = LedgerEntryOutputSerializer(many=True)
    next_before = serializers.IntegerField(
        allow_null=True, help_text=_("Pass as ?before= for the next (older) page; null on the last page.")
    )
