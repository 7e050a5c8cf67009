"""Domain errors of the loyalty app. Each carries a machine ``code`` (snake_case,
stable: the POS API returns it), a translated human ``message`` and, where the
error is about one input, the ``field`` it concerns."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class LoyaltyError(Exception):
    default_code = "invalid"
    default_message = _("The request is invalid.")
    default_field: str | None = None

    def __init__(self, message=None, *, code: str | None = None, field: str | None = None) -> None:
        self.message = str(message if message is not None else self.default_message)
        self.code = code or self.default_code
        self.field = field if field is not None else self.default_field
        super().__init__(self.message)


class CardNotFound(LoyaltyError):
    default_code = "card_not_found"
    default_message = _("No card was found.")


class CardBlocked(LoyaltyError):
    default_code = "card_blocked"
    default_message = _("This card is blocked.")


class InsufficientPoints(LoyaltyError):
    default_code = "insufficient_points"
    default_message = _("The card does not have enough points.")
    default_field = "redeem_points"


class RedemptionCapExceeded(LoyaltyError):
    default_code = "redemption_cap_exceeded"
    default_message = _("Points cannot pay for that much of this bill.")
    default_field = "redeem_points"


class NegativeBalance(LoyaltyError):
    default_code = "negative_balance"
    default_message = _("The card balance is negative; points cannot be redeemed until it is repaid.")
    default_field = "redeem_points"


class BelowMinimumBalance(LoyaltyError):
    default_code = "below_min_balance"
    default_message = _("The balance is below the minimum needed to redeem points.")
    default_field = "redeem_points"


class InsufficientRewards(LoyaltyError):
    default_code = "insufficient_rewards"
    default_message = _("The card does not have that many rewards.")
    default_field = "redeem_rewards"


class RedemptionNotAvailable(LoyaltyError):
    default_code = "redemption_not_available"
    default_message = _("This program has no points to redeem.")
    default_field = "redeem_points"


class InvalidAmount(LoyaltyError):
    default_code = "invalid_amount"
    default_message = _("Enter a valid amount.")
    default_field = "amount"


class PurchaseNotFound(LoyaltyError):
    default_code = "purchase_not_found"
    default_message = _("No purchase was found.")


class RefundExceedsPurchase(LoyaltyError):
    default_code = "refund_exceeds_purchase"
    default_message = _("The refund is larger than what is left of the purchase.")
    default_field = "amount"


class DuplicateReceipt(LoyaltyError):
    default_code = "duplicate_receipt"
    default_message = _("A purchase with this receipt number already exists.")
    default_field = "receipt_id"


class IdempotencyKeyReused(LoyaltyError):
    default_code = "idempotency_key_reused"
    default_message = _("This idempotency key was already used for a different request.")
    default_field = "idempotency_key"


class AlreadyEnrolled(LoyaltyError):
    default_code = "already_enrolled"
    default_message = _("A customer with this phone number already has a card.")
    default_field = "phone"


class InvalidPhone(LoyaltyError):
    default_code = "invalid_phone"
    default_message = _("Enter a valid phone number.")
    default_field = "phone"


class ReasonRequired(LoyaltyError):
    default_code = "reason_required"
    default_message = _("A reason is required.")
    default_field = "reason"


class InvalidProgram(LoyaltyError):
    """Program rules that do not validate. ``errors`` maps field names to messages."""

    default_code = "invalid_program"
    default_message = _("The program settings are not valid.")

    def __init__(self, message=None, *, errors: dict[str, list[str]] | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.errors = errors or {}
