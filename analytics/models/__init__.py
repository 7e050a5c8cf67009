"""The analytics app's tables. Each module is one topic; import new ones here."""

from .imports import ImportJob, ImportRowError
from .predictions import CustomerPrediction, PredictionFit
from .settings import AnalyticsSettings
from .summaries import (
    BuyerCount,
    CohortCell,
    CustomerMonthStats,
    CustomerStats,
    DailyLocationStats,
    DailyMerchantStats,
    SummaryState,
    TierCount,
)

__all__ = [
    "AnalyticsSettings",
    "CustomerPrediction",
    "ImportJob",
    "ImportRowError",
    "PredictionFit",
    "BuyerCount",
    "CohortCell",
    "CustomerMonthStats",
    "CustomerStats",
    "DailyLocationStats",
    "DailyMerchantStats",
    "SummaryState",
    "TierCount",
]
