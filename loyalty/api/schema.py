"""drf-spectacular hooks for the POS API schema."""

from __future__ import annotations

from typing import Any

from loyalty.serializers import POSITIVE_MONEY_PATTERN, ZERO_MONEY_PATTERN


def require_request_bodies(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Every POS API write needs its JSON body (an empty one is a 400), but drf-spectacular marks a
    body required only when its component lists required properties, which a ``oneOf`` (the refund)
    does not. Say so for every operation that has a body."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return result


def free_item_purchases(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """A purchase's bill is more than 0.00, or exactly 0.00 for a free item that a reward pays
    (``redeem_rewards`` ≥ 1 and no points): the same rule the server checks, as a ``oneOf``."""
    purchase = result.get("components", {}).get("schemas", {}).get("PurchaseInput")
    if purchase is not None:
        purchase["oneOf"] = [
            {"properties": {"bill_amount": {"pattern": POSITIVE_MONEY_PATTERN}}},
            {
                "properties": {
                    "bill_amount": {"pattern": ZERO_MONEY_PATTERN},
                    "redeem_rewards": {"minimum": 1},
                    "redeem_points": {"maximum": 0},
                },
                "required": ["redeem_rewards"],
            },
        ]
    return result
