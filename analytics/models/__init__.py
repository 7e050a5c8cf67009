"""The analytics app's tables. Each module is one topic; import new ones here."""

from .settings import AnalyticsSettings
from .summaries import (
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
    "CohortCell",
    "CustomerMonthStats",
    "CustomerStats",
    "DailyLocationStats",
    "DailyMerchantStats",
    "SummaryState",
    "TierCount",
]
