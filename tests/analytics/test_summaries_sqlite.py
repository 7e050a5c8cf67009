"""The summaries on the embedded SQLite default (the quick start): the same refresh and nightly
rebuild as on PostgreSQL (a few fragments switched by vendor, analytics/summaries.py), so the
home and the analytics page show the same figures. The hand-made history of test_metrics is
built on a fresh SQLite file in a subprocess and every one of its PostgreSQL expectations is
checked there: after the incremental refresh, after a rerun (which adds nothing) and after
the nightly rebuild; then test_predictions' checks of the nightly fit."""

from __future__ import annotations

import json

import pytest

from tests.quickstart_manage import quickstart_manage

SCRIPT = """
import json, traceback
from datetime import timedelta
from django.db import connection
from django.test import Client
from analytics import summaries
from analytics.models import BuyerCount, CustomerMonthStats, DailyLocationStats
from tests import factories
from tests.analytics import test_metrics as expected
assert connection.vendor == "sqlite"
merchant = factories.MerchantFactory(name="Кофейня «Зерно»")
location = factories.LocationFactory(merchant=merchant, name="Тверская")
owner = factories.UserFactory(merchant=merchant, role="owner", email="owner@zerno.test")
history = expected.make_history(merchant=merchant, owner=owner, location=location)
checks = [getattr(expected, name) for name in dir(expected)
          if name.startswith("test_") and name != "test_other_merchants_rows_are_not_counted"]
def run_checks():
    failures = {}
    for check in checks:
        try:
            check(merchant, history)
        except Exception:
            failures[check.__name__] = traceback.format_exc()[-1500:]
    return failures
def counts():
    return [DailyLocationStats.objects.count(), CustomerMonthStats.objects.count(), BuyerCount.objects.count()]
refreshed = run_checks()
after_refresh = counts()
rerun = summaries.refresh(now=expected.NOW, lag=timedelta(0))
rerun_failures = run_checks()
summaries.rebuild(now=expected.NOW, lag=timedelta(0))
summaries.rebuild_cohorts(now=expected.NOW)
rebuilt = run_checks()
after_rebuild = counts()
other = factories.MerchantFactory(name="Barbershop Other")
try:
    expected.test_other_merchants_rows_are_not_counted(merchant, history, other)
    other_failure = ""
except Exception:
    other_failure = traceback.format_exc()[-1500:]
from tests.analytics import test_predictions as predicted
fits = {}
for check in (predicted.test_the_summary_counts_purchase_days_in_the_merchants_time_zone,
              predicted.test_too_little_history_stores_the_reason_and_no_predictions,
              predicted.test_the_fit_stores_a_prediction_per_customer_and_a_backtest):
    extra = [factories.MerchantFactory(name="Other")] if "other_merchant" in check.__code__.co_varnames else []
    try:
        check(factories.MerchantFactory(name=check.__name__[:40]), *extra)
    except Exception:
        fits[check.__name__] = traceback.format_exc()[-1500:]
client = Client(HTTP_HOST="localhost")
client.force_login(owner)
pages = [client.get(url).status_code for url in ("/dashboard/", "/dashboard/analytics/?from=2026-02&to=2026-03")]
print("RESULT", json.dumps({
    "checks": len(checks), "refreshed": refreshed, "rerun": [rerun.changed, rerun_failures],
    "rebuilt": rebuilt, "counts": [after_refresh, after_rebuild], "other": other_failure, "pages": pages,
    "predictions": fits,
}))
"""


def _output(result) -> str:
    return result.stdout + result.stderr


@pytest.mark.timeout(1200)
def test_summaries_and_figures_on_sqlite(tmp_path):
    migrated = _output(quickstart_manage(tmp_path, "migrate", "--noinput", "-v", "0"))
    # A newcomer's `make run` shows no WARNINGS block (W047: the SQLite unique indexes stand in).
    checked = _output(quickstart_manage(tmp_path, "check"))
    assert "WARNINGS" not in checked and "WARNINGS" not in migrated, checked
    output = _output(quickstart_manage(tmp_path, "shell", "-c", SCRIPT))
    result = json.loads(output.split("RESULT ", 1)[1].splitlines()[0])
    assert result["checks"] == 7
    assert result["refreshed"] == {}, "\n".join(result["refreshed"].values())
    assert result["rerun"] == [False, {}], result["rerun"]
    assert result["rebuilt"] == {}, "\n".join(result["rebuilt"].values())
    # The rebuild recounts the same rows as the refresh kept (no duplicate of a NULL-location key).
    after_refresh, after_rebuild = result["counts"]
    assert after_refresh == after_rebuild and all(after_refresh), result["counts"]
    assert result["other"] == "", result["other"]
    assert result["pages"] == [200, 200]
    # The nightly prediction too, with the PostgreSQL tests' expectations (test_predictions).
    assert result["predictions"] == {}, "\n".join(result["predictions"].values())


def test_the_local_calendar_functions_cross_midnight_and_month_ends():
    from merchants.local_calendar import local_day, local_month

    # 22:30 UTC on 28 February is 01:30 on 1 March in Moscow, still 28 February in New York.
    assert local_day("2026-02-28 22:30:00", "Europe/Moscow") == "2026-03-01"
    assert local_month("2026-02-28 22:30:00.123456", "Europe/Moscow") == "2026-03-01"
    assert local_day("2026-02-28 22:30:00", "America/New_York") == "2026-02-28"
    assert local_month("2026-02-28 22:30:00", "America/New_York") == "2026-02-01"
    assert local_day(None, "Europe/Moscow") is None
