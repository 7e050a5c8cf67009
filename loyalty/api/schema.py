"""drf-spectacular hooks for the POS API schema."""

from __future__ import annotations

from typing import Any


def require_request_bodies(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Every POS API write needs its JSON body (an empty one is a 400), but drf-spectacular marks a
    body required only when its component lists required properties, which a ``oneOf`` (the refund)
    does not. Say so for every operation that has a body."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return result
