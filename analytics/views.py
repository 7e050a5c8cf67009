"""The analytics pages: thin interfaces over ``analytics.reports``. Every
figure is read for ``self.merchant`` only; a location of another merchant is
a 404, exactly like a missing one."""

from __future__ import annotations

import csv
from datetime import date

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from analytics import metrics
from analytics.reports import AnalyticsReport, analytics_report, default_period, home_report, parse_month
from analytics.sections import csv_section, render_sections
from merchants.models import Location
from merchants.permissions import CAN_SEE_ANALYTICS, MerchantStaffRequiredMixin

MAX_MONTHS = 60

HOME_LABELS = {
    "revenue": gettext_lazy("Revenue from card holders"),
    "visits": gettext_lazy("Visits"),
    "average_check": gettext_lazy("Average check"),
    "active_month": gettext_lazy("Active customers (bought in the month)"),
    "active_3_months": gettext_lazy("Active customers (bought in 3 months)"),
    "new_customers": gettext_lazy("New customers"),
    "repeat_rate": gettext_lazy("Repeat purchase rate"),
    "liability": gettext_lazy("Points liability"),
}


def month_label(month: date) -> str:
    return formats.date_format(month, "YEAR_MONTH_FORMAT")


def _query(request, merchant) -> tuple[metrics.Period, Location | None]:
    default = default_period(merchant=merchant)
    first = parse_month(request.GET.get("from", "")) or default.first_month
    last = parse_month(request.GET.get("to", "")) or default.last_month
    last = min(last, default.last_month)
    if first > last:
        first, last = last, first
    if metrics.months_between(first, last) > MAX_MONTHS:
        first = metrics.add_months(last, -(MAX_MONTHS - 1))
    location = None
    location_id = request.GET.get("location", "")
    if location_id:
        if not location_id.isdigit():
            raise Http404
        location = get_object_or_404(Location.objects.for_merchant(merchant), pk=int(location_id))
    return metrics.Period(first, last), location


def _series_rows(report: AnalyticsReport) -> list[tuple[str, object, object]]:
    daily = report.period.months == 1
    return [
        (formats.date_format(p.label, "SHORT_DATE_FORMAT") if daily else month_label(p.label), p.revenue, p.visits)
        for p in report.series
    ]


def home_panel_context(request, merchant) -> dict:
    figures = home_report(merchant=merchant)
    this = figures.this_month
    return {
        "rows": [(HOME_LABELS[row.key], row) for row in figures.rows],
        "this_month": month_label(this),
        "last_month": month_label(metrics.add_months(this, -1)),
        "last_year": month_label(metrics.add_months(this, -12)),
    }


class AnalyticsView(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_SEE_ANALYTICS
    template_name = "analytics/analytics.html"

    def get(self, request):
        period, location = _query(request, self.merchant)
        report = analytics_report(merchant=self.merchant, period=period, location=location)
        this = default_period(merchant=self.merchant).last_month
        presets = [
            (_("This month"), this, this),
            (_("Last month"), metrics.add_months(this, -1), metrics.add_months(this, -1)),
            (_("Last 3 months"), metrics.add_months(this, -2), this),
            (_("Last 12 months"), metrics.add_months(this, -11), this),
            (_("This year"), this.replace(month=1), this),
        ]
        series = _series_rows(report)
        context = {
            "report": report,
            "figures": report.figures,
            "standing": report.standing,
            "location": location,
            "locations": Location.objects.for_merchant(self.merchant),
            "period_from": f"{period.first_month:%Y-%m}",
            "period_to": f"{period.last_month:%Y-%m}",
            "period_label": month_label(period.first_month)
            if period.months == 1
            else f"{month_label(period.first_month)} — {month_label(period.last_month)}",
            "presets": [
                {
                    "label": label,
                    "from": f"{a:%Y-%m}",
                    "to": f"{b:%Y-%m}",
                    "active": (a, b) == (period.first_month, period.last_month),
                }
                for label, a, b in presets
            ],
            "query": request.GET.urlencode(),
            "series": series,
            "cohort_offsets": list(range(12)),
            "cohorts": [(month_label(row.cohort), row) for row in report.cohorts],
            "tiers": report.tiers,
            # What other apps add (campaigns: the RFM grid and each campaign's uplift).
            "sections": render_sections(
                "analytics", merchant=self.merchant, first_month=period.first_month, last_month=period.last_month
            ),
            "chart_data": {
                "revenue": {
                    "labels": [label for label, _r, _v in series],
                    "revenue": [str(r) for _l, r, _v in series],
                    "visits": [v for _l, _r, v in series],
                    "revenueLabel": _("Revenue"),
                    "visitsLabel": _("Visits"),
                },
                "tiers": {
                    "labels": [name or _("No tier") for name, _n in report.tiers],
                    "cards": [n for _t, n in report.tiers],
                },
            },
        }
        return TemplateResponse(request, self.template_name, context)


class AnalyticsCsvView(MerchantStaffRequiredMixin, View):
    """The numbers of one chart (``?chart=revenue|cohorts|tiers|figures``, or the key of
    a section another app added) as CSV, for the same period and location as the page."""

    allowed_roles = CAN_SEE_ANALYTICS

    def get(self, request):
        chart = request.GET.get("chart", "")
        section = csv_section(chart)
        if chart not in {"revenue", "cohorts", "tiers", "figures"} and section is None:
            raise Http404
        period, location = _query(request, self.merchant)
        if section is not None and section.csv is not None:
            header, rows = section.csv(
                merchant=self.merchant, first_month=period.first_month, last_month=period.last_month
            )
            return _csv_response(f"{chart}-{period.first_month:%Y-%m}-{period.last_month:%Y-%m}.csv", header, rows)
        report = analytics_report(merchant=self.merchant, period=period, location=location)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{chart}-{period.first_month:%Y-%m}-{period.last_month:%Y-%m}.csv"'
        )
        response.write("\ufeff")  # Excel reads UTF-8 only with the mark
        writer = csv.writer(response)
        if chart == "revenue":
            writer.writerow([_("Period"), _("Revenue") + f" ({self.merchant.currency})", _("Visits")])
            for point in report.series:
                writer.writerow([point.label.isoformat(), point.revenue, point.visits])
        elif chart == "cohorts":
            writer.writerow(
                [_("Cohort"), _("Customers"), _("LTV") + f" ({self.merchant.currency})"] + [str(k) for k in range(12)]
            )
            for row in report.cohorts:
                writer.writerow(
                    [row.cohort.isoformat(), row.size, row.ltv] + ["" if c is None else c for c in row.counts]
                )
        elif chart == "tiers":
            writer.writerow([_("Tier"), _("Cards")])
            for name, cards in report.tiers:
                writer.writerow([name or _("No tier"), cards])
        else:
            for label, value in figure_rows(report, self.merchant):
                writer.writerow([label, value])
        return response


def _csv_response(filename: str, header, rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # Excel reads UTF-8 only with the mark
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def figure_rows(report: AnalyticsReport, merchant) -> list[tuple[str, object]]:
    """The figures table as plain (label, value) pairs for the CSV."""
    f = report.figures
    rows: list[tuple[str, object]] = [
        (_("Customers, total"), f.customers_total),
        (_("New customers"), f.customers_new),
        (_("Active customers (bought in the period)"), f.buyers),
        (_("Repeat purchase rate, %"), f.repeat_rate),
        (_("Purchase frequency"), f.purchase_frequency),
        (_("Average check"), f.average_check),
        (_("Revenue from card holders"), f.revenue),
        (_("Visits"), f.visits),
        (_("Points issued"), f.points_issued),
        (_("Points redeemed"), f.points_redeemed),
        (_("Points expired"), f.points_expired),
        (_("Redemption rate, %"), f.redemption_rate),
        (_("Bills paid partly with points, %"), f.points_bill_share),
        (_("Points liability (points)"), f.liability_points),
        (_("Points liability"), f.liability_money),
    ]
    if report.standing is not None:
        s = report.standing
        rows += [
            (_("Historical LTV"), s.ltv),
            (_("Churn rate, %"), s.churn_rate),
            (_("Lost in the period"), s.lost_in_period),
        ]
    return [(label, "" if value is None else value) for label, value in rows]
