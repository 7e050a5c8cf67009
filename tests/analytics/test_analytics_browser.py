"""The owner's numbers in a real browser: the home and the analytics page of a
demo-like café (the demo generator, 14 months of history, two locations), in
Russian and English, on a phone and a desktop; the figures shown are checked
against sums taken straight from the purchases, refunds and cards (not from the
summaries the pages read). The demo's campaigns (a broadcast and a win-back, each
with a hold-out) and the RFM scores give the RFM grid, the uplift chart and the
ROI page's "what the campaigns returned" something to show; their figures are
checked against the scores' rows and the campaigns' reports.
Screenshots: artifacts/analytics-*.png."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db.models import Count, Sum
from django.utils import formats, timezone, translation
from playwright.sync_api import expect

from analytics import summaries
from analytics.metrics import add_months, month_end
from campaigns.models import Campaign, RfmScore
from campaigns.reports import campaign_report
from campaigns.segments.rfm import recompute_rfm
from loyalty.demo import generate, run_extra_steps
from loyalty.models import Card, Purchase, Refund
from merchants.templatetags.merchant_format import money
from tests import factories
from tests.browser import PHONE, logged_in_page, screenshot

DESKTOP = {"width": 1280, "height": 900}
LOCALES = {"ru": "ru-RU", "en": "en-US"}
TEXT = {
    "ru": {
        "numbers": "Ваши показатели",
        "analytics": "Аналитика",
        "csv": "Скачать CSV",
        "roi": "Калькулятор окупаемости",
    },
    "en": {"numbers": "Your numbers", "analytics": "Analytics", "csv": "Download CSV", "roi": "ROI calculator"},
}


def _bounds(merchant, first, last):
    tz = merchant.tzinfo
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(month_end(last) + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return start, end


def _truth(merchant, first, last, location=None):
    """Visits and revenue over whole local months, straight from the ledger's rows."""
    start, end = _bounds(merchant, first, last)
    purchases = Purchase.objects.for_merchant(merchant).filter(created_at__gte=start, created_at__lt=end)
    refunds = Refund.objects.for_merchant(merchant).filter(created_at__gte=start, created_at__lt=end)
    if location is not None:
        purchases = purchases.filter(location=location)
        refunds = refunds.filter(purchase__location=location)
    bills = purchases.aggregate(s=Sum("bill_amount"))["s"] or Decimal(0)
    back = refunds.aggregate(s=Sum("amount"))["s"] or Decimal(0)
    return purchases.count(), bills - back


def _pct(part: int, whole: int) -> Decimal:
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@pytest.mark.browser
def test_home_and_analytics_show_the_ledgers_figures(live_server, transactional_db, browser, merchant, owner, location):
    second = factories.LocationFactory(merchant=merchant, name="Арбат")
    generate(merchant, customers=50, months=14, seed=5, end=timezone.now() - timedelta(minutes=5), visit_rate=0.7)
    summaries.refresh(lag=timedelta(0))
    summaries.rebuild_cohorts()
    this = timezone.localtime(timezone.now(), merchant.tzinfo).date().replace(day=1)
    month_visits, month_revenue = _truth(merchant, this, this)
    last_visits, last_revenue = _truth(merchant, add_months(this, -1), add_months(this, -1))
    year_visits, year_revenue = _truth(merchant, add_months(this, -11), this)
    customers = Card.objects.for_merchant(merchant).count()
    assert year_visits > 100, "the demo history is too thin to check anything"
    # The demo's campaigns and the nightly RFM scores.
    run_extra_steps(merchant)
    recompute_rfm(merchant=merchant)
    rfm_cells = {
        (row["recency"], row["frequency"]): row["n"]
        for row in RfmScore.objects.filter(merchant=merchant).values("recency", "frequency").annotate(n=Count("pk"))
    }
    campaigns = list(Campaign.objects.for_merchant(merchant).filter(deliveries__status="holdout").distinct())
    # The broadcast always holds out 10 %; the small win-back audience may hold out nobody.
    assert campaigns, "the demo should have a measured campaign"
    reports = {c.pk: campaign_report(campaign=c) for c in campaigns}

    for language, locale in LOCALES.items():
        t = TEXT[language]
        for width, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            with translation.override(language):
                shown = {
                    "month_revenue": money(month_revenue, merchant),
                    "last_revenue": money(last_revenue, merchant),
                    "year_revenue": money(year_revenue, merchant),
                }
            page = logged_in_page(browser, live_server, owner, viewport=viewport, locale=locale)
            page.goto(f"{live_server.url}/dashboard/")
            panel = page.get_by_test_id("home-figures")
            expect(panel.get_by_role("heading", name=t["numbers"])).to_be_visible()
            revenue_row = panel.locator("tr[data-metric=revenue]")
            expect(revenue_row.get_by_test_id("now")).to_have_text(shown["month_revenue"])
            expect(revenue_row.get_by_test_id("last-month")).to_have_text(shown["last_revenue"])
            visits_row = panel.locator("tr[data-metric=visits]")
            expect(visits_row.get_by_test_id("now")).to_have_text(str(month_visits))
            expect(visits_row.get_by_test_id("last-month")).to_have_text(str(last_visits))
            # The getting-started checklist stays on the home.
            expect(page.get_by_test_id("checklist")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            screenshot(page, f"analytics-home-{language}-{width}")

            if width == "desktop":
                page.locator("#main-nav").get_by_role("link", name=t["analytics"], exact=True).click()
            else:  # the phone's menu is folded: go straight to the page
                page.goto(f"{live_server.url}/dashboard/analytics/")
            figures = page.get_by_test_id("figures")
            expect(figures.locator("[data-metric=customers_total] dd")).to_have_text(str(customers))
            expect(figures.locator("[data-metric=visits] dd")).to_have_text(str(year_visits))
            expect(figures.locator("[data-metric=revenue] dd")).to_have_text(shown["year_revenue"])
            # The charts drew (Chart.js from static/vendor, no CDN) and have their numbers in tables.
            expect(page.locator("html[data-charts-ready='1']")).to_have_count(1)
            assert page.locator("#chart-revenue").bounding_box()["height"] > 100
            expect(page.get_by_test_id("cohort-table").locator("tbody tr").first).to_be_visible()
            expect(page.get_by_test_id("tier-table")).to_be_visible()
            # The RFM grid: every cell's count is the scores' count.
            grid = page.get_by_test_id("analytics-rfm")
            for r in range(1, 6):
                for f in range(1, 6):
                    cell = grid.get_by_test_id(f"rfm-cell-{r}-{f}").locator(".rfm-n")
                    expect(cell).to_have_text(str(rfm_cells.get((r, f), 0)))
            # Each measured campaign's uplift: the rates are the report's, in the reader's number format.
            expect(page.locator("html[data-uplift-chart-ready='1']")).to_have_count(1)
            assert page.locator("#chart-uplift-rates").bounding_box()["height"] > 100
            assert page.locator("#chart-uplift-diff").bounding_box()["height"] > 100
            table = page.get_by_test_id("uplift-table")
            expect(table.locator("tbody tr")).to_have_count(len(campaigns))
            for pk, report in reports.items():
                row = table.locator(f"tr[data-campaign='{pk}']")
                with translation.override(language):
                    treated = formats.localize(_pct(report.treated.returned, report.treated.size))
                    held = formats.localize(_pct(report.holdout.returned, report.holdout.size))
                expect(row.get_by_test_id("treated-rate")).to_have_text(f"{treated}%")
                expect(row.get_by_test_id("holdout-rate")).to_have_text(f"{held}%")
                expect(row.get_by_test_id("too-small")).to_have_count(1 if report.too_small else 0)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            screenshot(page, f"analytics-page-{language}-{width}")
            with page.expect_download() as download:
                page.locator("#uplift").get_by_role("link", name=t["csv"]).click()
            lines = download.value.path().read_text(encoding="utf-8-sig").splitlines()
            assert len(lines) == 1 + len(campaigns)

            # The ROI page: beside the calculator, what the measured campaigns returned.
            if width == "desktop":
                page.get_by_test_id("analytics-tools").get_by_role("link", name=t["roi"]).click()
            else:
                page.goto(f"{live_server.url}/dashboard/analytics/roi/")
            returns = page.get_by_test_id("campaign-returns-table")
            for pk, report in reports.items():
                row = returns.locator(f"tr[data-campaign='{pk}']")
                with translation.override(language):
                    cost = money(report.bonus_cost, merchant)
                    incremental = money(report.incremental_revenue, merchant)
                expect(row.get_by_test_id("bonus-cost")).to_have_text(cost)
                expect(row.get_by_test_id("incremental")).to_have_text(incremental)
                expect(row.get_by_test_id("too-small")).to_have_count(1 if report.too_small else 0)
            with translation.override(language):
                total = money(sum(r.incremental_revenue for r in reports.values()), merchant)
            expect(page.get_by_test_id("campaign-returns-total").get_by_test_id("incremental")).to_have_text(total)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            screenshot(page, f"analytics-roi-{language}-{width}")
            if width == "desktop":
                # A grid cell opens the segment builder with that cell's customers.
                page.goto(f"{live_server.url}/dashboard/analytics/")
                r, f = max(rfm_cells, key=rfm_cells.get)
                page.get_by_test_id("analytics-rfm").get_by_test_id(f"rfm-cell-{r}-{f}").click()
                expect(page.get_by_test_id("segment-count")).to_contain_text(str(rfm_cells[(r, f)]))

            # One location, one month: the same figures from the rows of that location only.
            loc_visits, loc_revenue = _truth(merchant, add_months(this, -1), add_months(this, -1), second)
            prev = f"{add_months(this, -1):%Y-%m}"
            page.goto(f"{live_server.url}/dashboard/analytics/?from={prev}&to={prev}&location={second.pk}")
            with translation.override(language):
                expected_revenue = money(loc_revenue, merchant)
            expect(page.get_by_test_id("figures").locator("[data-metric=visits] dd")).to_have_text(str(loc_visits))
            expect(page.get_by_test_id("figures").locator("[data-metric=revenue] dd")).to_have_text(expected_revenue)
            with page.expect_download() as download:
                page.locator("#revenue").get_by_role("link", name=t["csv"]).click()
            lines = download.value.path().read_text(encoding="utf-8-sig").splitlines()
            assert sum(int(line.rsplit(",", 1)[1]) for line in lines[1:]) == loc_visits
            if width == "desktop":
                screenshot(page, f"analytics-location-{language}")
            page.context.close()


def test_analytics_is_for_owners_and_marketers(client, merchant, cashier, marketer):
    client.force_login(cashier)
    assert client.get("/dashboard/analytics/").status_code == 403
    assert client.get("/dashboard/analytics/csv/?chart=revenue").status_code == 403
    assert b"home-figures" not in client.get("/dashboard/").content
    client.force_login(marketer)
    assert client.get("/dashboard/analytics/").status_code == 200
    assert b"home-figures" in client.get("/dashboard/").content


def test_another_merchants_location_is_a_404(client, merchant, owner, other_merchant):
    theirs = factories.LocationFactory(merchant=other_merchant)
    client.force_login(owner)
    assert client.get(f"/dashboard/analytics/?location={theirs.pk}").status_code == 404
    assert client.get(f"/dashboard/analytics/csv/?chart=revenue&location={theirs.pk}").status_code == 404
    assert client.get("/dashboard/analytics/csv/?chart=nope").status_code == 404
