"""The analytics app's tables. Each module is one topic; import new ones here."""

from .imports import ImportJob, ImportRowError
from .predictions import CustomerPrediction, PredictionFit
from .settings import AnalyticsSettings
from .summaries import (
    CohortCell,
    CustomerMonthStats,
    CustomerStats,
    DailyLocationStats,
    DailyMerchantStats,
    PeriodBuyers,
    SummaryState,
    TierCount,
)

__all__ = [
    "AnalyticsSettings",
    "CustomerPrediction",
    "ImportJob",
    "ImportRowError",
    "PredictionFit",
    "CohortCell",
    "CustomerMonthStats",
    "CustomerStats",
    "DailyLocationStats",
    "DailyMerchantStats",
    "PeriodBuyers",
    "SummaryState",
    "TierCount",
]
