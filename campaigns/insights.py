"""What campaigns add to the analytics pages (registered with
``analytics.sections`` from ``CampaignsConfig.ready``, so analytics never
imports campaigns):

- on the analytics page, the RFM grid (recency × frequency counts, each cell
  opening a pre-filled segment) and each measured campaign's uplift (the
  return rate of those who got the message against the hold-out's, with the
  95 % interval of the difference), each with its CSV;
- on the ROI page, what the measured campaigns actually returned: incremental
  revenue, the cost of the bonuses, ROI per campaign and in total.

Every figure comes from ``campaigns.reports.campaign_report`` (and the total ROI
from its ``roi_of``); nothing is recomputed here. A campaign is *measured* when
it has a hold-out; it belongs to a period when its first send started in it.
Reports and the grid's counts are cached for a quarter of an hour (within the merchant's
local hour): the reports read the audience's purchases, the grid counts every scored customer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

from django.core.cache import cache
from django.db.models import Exists, Min, OuterRef
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from campaigns.models import Campaign, Delivery, DeliveryStatus
from campaigns.reports import Report, campaign_report, roi_of
from campaigns.segments.rfm import RfmOverview, rfm_overview
from merchants.models import Merchant

MAX_CAMPAIGNS = 20
CACHE_SECONDS = 15 * 60
HUNDRED = Decimal(100)
TENTH = Decimal("0.1")


@dataclass(frozen=True)
class MeasuredCampaign:
    pk: int
    name: str
    started: date  # local day of its first send
    report: Report


def _percent(share: float | None) -> Decimal | None:
    """A share (0.1234) as percent with one decimal (12.3); percentage points for differences."""
    if share is None or math.isnan(share):
        return None
    return (Decimal(str(share)) * HUNDRED).quantize(TENTH, ROUND_HALF_UP)


def _month_bounds(merchant: Merchant, first_month: date, last_month: date) -> tuple[datetime, datetime]:
    tz = merchant.tzinfo
    after = date(last_month.year + (last_month.month == 12), last_month.month % 12 + 1, 1)
    return datetime.combine(first_month, time.min, tzinfo=tz), datetime.combine(after, time.min, tzinfo=tz)


def measured_campaigns(
    *, merchant: Merchant, first_month: date, last_month: date, now: datetime | None = None
) -> list[MeasuredCampaign]:
    """The merchant's campaigns with a hold-out whose first send started in the
    months given, newest first (at most ``MAX_CAMPAIGNS``), with their reports."""
    now = now or timezone.now()
    start, end = _month_bounds(merchant, first_month, last_month)
    local_hour = timezone.localtime(now, merchant.tzinfo).strftime("%Y%m%d%H")
    key = f"campaigns:measured:{merchant.pk}:{start.date()}:{end.date()}:{local_hour}:{translation.get_language()}"
    found = cache.get(key)
    if found is not None:
        return found
    held_out = Delivery.objects.filter(campaign=OuterRef("pk"), status=DeliveryStatus.HOLDOUT)
    campaigns = (
        Campaign.objects.for_merchant(merchant)
        .filter(Exists(held_out))
        .annotate(started_at=Min("sends__created_at"))
        .filter(started_at__gte=start, started_at__lt=end)
        .order_by("-started_at", "-pk")[:MAX_CAMPAIGNS]
    )
    found = [
        MeasuredCampaign(
            pk=campaign.pk,
            name=campaign.name,
            started=timezone.localtime(campaign.started_at, merchant.tzinfo).date(),
            report=campaign_report(campaign=campaign),
        )
        for campaign in campaigns
    ]
    cache.set(key, found, CACHE_SECONDS)
    return found


# -- the RFM grid ---------------------------------------------------------------


def _rfm(merchant: Merchant, now: datetime | None = None) -> RfmOverview:
    # Two grouped counts over every scored customer: cached like the reports (the scores
    # change nightly; the RFM page itself always reads them fresh).
    local_hour = timezone.localtime(now or timezone.now(), merchant.tzinfo).strftime("%Y%m%d%H")
    key = f"campaigns:rfm:{merchant.pk}:{local_hour}"
    overview = cache.get(key)
    if overview is None:
        overview = rfm_overview(merchant=merchant)
        cache.set(key, overview, CACHE_SECONDS)
    return overview


def rfm_context(*, merchant: Merchant, first_month: date, last_month: date) -> dict:
    return {"overview": _rfm(merchant)}


def rfm_csv(*, merchant: Merchant, first_month: date, last_month: date) -> tuple[list[str], list[list]]:
    overview = _rfm(merchant)
    rows = [[cell.recency, cell.frequency, cell.count, str(cell.group.label)] for row in overview.grid for cell in row]
    return [_("Recency"), _("Frequency"), _("Customers"), _("RFM group")], rows


# -- uplift per campaign -------------------------------------------------------------


def _uplift_row(m: MeasuredCampaign, merchant: Merchant) -> dict:
    r = m.report
    return {
        "pk": m.pk,
        "name": m.name,
        "url": reverse("campaign_detail", args=[m.pk]),
        "started": date_format(m.started, "SHORT_DATE_FORMAT"),
        "started_iso": m.started.isoformat(),
        "treated": r.treated,
        "holdout": r.holdout,
        "treated_rate": _percent(r.treated.return_rate if r.treated.size else None),
        "holdout_rate": _percent(r.holdout.return_rate if r.holdout.size else None),
        "uplift": _percent(r.uplift),
        "uplift_low": _percent(r.uplift_low),
        "uplift_high": _percent(r.uplift_high),
        "too_small": r.too_small,
        "verdict": r.verdict,
    }


def uplift_context(*, merchant: Merchant, first_month: date, last_month: date) -> dict:
    rows = [
        _uplift_row(m, merchant)
        for m in measured_campaigns(merchant=merchant, first_month=first_month, last_month=last_month)
    ]
    # Oldest first on the chart (time reads left to right); the table lists the newest first.
    chart = list(reversed(rows))
    return {
        "rows": rows,
        "chart_data": {
            "labels": [row["name"] for row in chart],
            "treated": [str(row["treated_rate"]) if row["treated_rate"] is not None else None for row in chart],
            "holdout": [str(row["holdout_rate"]) if row["holdout_rate"] is not None else None for row in chart],
            "interval": [
                [str(row["uplift_low"]), str(row["uplift_high"])] if row["uplift_low"] is not None else None
                for row in chart
            ],
            "uplift": [str(row["uplift"]) if row["uplift"] is not None else None for row in chart],
            "treatedLabel": _("Got the message: came back, %"),
            "holdoutLabel": _("Hold-out: came back, %"),
            "intervalLabel": _("Uplift, percentage points (95% interval)"),
            "upliftLabel": _("Uplift, percentage points"),
        },
    }


def uplift_csv(*, merchant: Merchant, first_month: date, last_month: date) -> tuple[list[str], list[list]]:
    header = [
        _("Campaign"),
        _("First sent"),
        _("Got the message"),
        _("Of them came back"),
        _("Return rate, %"),
        _("Hold-out"),
        _("Of them came back"),
        _("Return rate, %"),
        _("Uplift, percentage points"),
        _("95% interval, from"),
        _("95% interval, to"),
        _("Too small to say"),
    ]
    rows = []
    for m in measured_campaigns(merchant=merchant, first_month=first_month, last_month=last_month):
        row = _uplift_row(m, merchant)
        rows.append(
            [
                row["name"],
                row["started_iso"],
                row["treated"].size,
                row["treated"].returned,
                row["treated_rate"],
                row["holdout"].size,
                row["holdout"].returned,
                row["holdout_rate"],
                row["uplift"],
                row["uplift_low"],
                row["uplift_high"],
                _("yes") if row["too_small"] else _("no"),
            ]
        )
    return header, [["" if v is None else v for v in row] for row in rows]


# -- what the campaigns returned (ROI page) ------------------------------------------


def _roi_percent(roi: float | None) -> Decimal | None:
    return None if roi is None else (Decimal(str(roi)) * HUNDRED).quantize(Decimal(1), ROUND_HALF_UP)


def returns_context(*, merchant: Merchant, first_month: date, last_month: date) -> dict:
    measured = measured_campaigns(merchant=merchant, first_month=first_month, last_month=last_month)
    rows = [
        {
            "pk": m.pk,
            "name": m.name,
            "url": reverse("campaign_detail", args=[m.pk]),
            "started": m.started,
            "incremental_revenue": m.report.incremental_revenue,
            "bonus_cost": m.report.bonus_cost,
            "roi_percent": _roi_percent(m.report.roi),
            "too_small": m.report.too_small,
        }
        for m in measured
    ]
    incremental = [m.report.incremental_revenue for m in measured if m.report.incremental_revenue is not None]
    total_incremental = sum(incremental, Decimal(0)) if incremental else None
    total_cost = sum((m.report.bonus_cost for m in measured), Decimal(0))
    return {
        "rows": rows,
        "total": {
            "incremental_revenue": total_incremental,
            "bonus_cost": total_cost,
            "roi_percent": _roi_percent(roi_of(total_incremental, total_cost)),
            "too_small": sum(1 for m in measured if m.report.too_small),
        },
        "first_month": first_month,
        "last_month": last_month,
    }
