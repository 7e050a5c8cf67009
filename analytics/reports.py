"""What the analytics pages show, assembled from ``analytics.metrics`` and
cached: the key holds the summaries' version (it changes with every refresh
that found new rows) and the merchant's local date and hour (the "as of now"
figures move with the clock), so a cached page is never older than the
summaries it came from or than an hour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.core.cache import cache
from django.utils import timezone

from analytics import metrics
from analytics.summaries import summary_version
from merchants.models import Location

CACHE_SECONDS = 15 * 60


@dataclass
class AnalyticsReport:
    period: metrics.Period
    location_id: int | None
    figures: metrics.Figures
    standing: metrics.Standing | None
    series: list[metrics.SeriesPoint]
    cohorts: list[metrics.CohortRow]
    tiers: list[tuple[str, int]]
    summaries_at: datetime | None


def _key(*parts) -> str:
    return "analytics:" + ":".join(str(p) for p in parts)


def _stamp(merchant, now: datetime) -> str:
    local = timezone.localtime(now, merchant.tzinfo)
    return f"{summary_version()}:{local:%Y%m%d%H}"


def analytics_report(*, merchant, period: metrics.Period, location: Location | None, now: datetime | None = None):
    now = now or timezone.now()
    location_id = location.pk if location is not None else None
    key = _key("report", merchant.pk, location_id, period.first_month, period.last_month, _stamp(merchant, now))
    report = cache.get(key)
    if report is None:
        report = build_report(merchant=merchant, period=period, location=location, now=now)
        cache.set(key, report, CACHE_SECONDS)
    return report


def build_report(*, merchant, period: metrics.Period, location: Location | None, now: datetime) -> AnalyticsReport:
    from analytics.models import SummaryState

    state = SummaryState.objects.filter(key="summaries").first()
    return AnalyticsReport(
        period=period,
        location_id=location.pk if location is not None else None,
        figures=metrics.period_figures(merchant=merchant, period=period, location=location),
        standing=metrics.standing(merchant=merchant, period=period, now=now) if location is None else None,
        series=metrics.revenue_series(merchant=merchant, period=period, location=location),
        cohorts=metrics.cohort_triangle(merchant=merchant, last_month=period.last_month),
        tiers=[(t.tier_name, t.cards) for t in metrics.tier_distribution(merchant=merchant)],
        summaries_at=state.refreshed_at if state else None,
    )


def home_report(*, merchant, now: datetime | None = None) -> metrics.HomeFigures:
    now = now or timezone.now()
    key = _key("home", merchant.pk, _stamp(merchant, now))
    report = cache.get(key)
    if report is None:
        report = metrics.home_figures(merchant=merchant, now=now)
        cache.set(key, report, CACHE_SECONDS)
    return report


def default_period(*, merchant, now: datetime | None = None) -> metrics.Period:
    this = metrics.month_start(metrics.local_today(merchant, now))
    return metrics.Period(metrics.add_months(this, -11), this)


def parse_month(value: str) -> date | None:
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        return None
