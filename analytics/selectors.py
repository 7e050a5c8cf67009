"""What analytics publishes for other domains to read (campaigns' segments):
plain querysets scoped to one merchant, nothing computed here. Other domains
import this module only, never the summaries or the fitting code (an
import-linter contract in pyproject.toml)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from analytics.models import CustomerPrediction

if TYPE_CHECKING:
    from merchants.models import Merchant


def customer_predictions(*, merchant: Merchant) -> QuerySet[CustomerPrediction]:
    """The latest nightly prediction of each of the merchant's customers (one
    row per customer; customers the fit could not predict have none):
    ``p_alive`` (0–1), ``expected_purchases_90d``, ``expected_spend_90d`` (in
    the merchant's currency)."""
    return CustomerPrediction.objects.filter(merchant_id=merchant.pk)
