"""The customer import and the ROI calculator in Chromium, in Russian and English,
on a phone and a desktop: upload a file with good and bad rows, check the preview
and the guessed columns, import, watch the progress finish, read the report; the
ROI page computes from the figures typed in. Screenshots: artifacts/clv-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from analytics.models import ImportJob
from analytics.tasks import import_customers_task
from loyalty.models import Card, Customer
from tests.browser import PHONE, logged_in_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
FILE = (
    "Телефон;Имя;Дата рождения;Баланс\n"
    "+79161234567;Анна;31.12.1990;150\n"
    "12345;Борис;;1\n"
    "+79167654321;Вера;32.13.1990;\n"
    "+79165550000;Глеб;;\n"
)

WORDS = {
    "ru": {
        "locale": "ru-RU",
        "upload": "Загрузить и посмотреть",
        "import": "Импорт",
        "phone": "Телефон",
        "not_phone": "Это не номер телефона.",
        "bad_date": "Это не дата",
        "calculate": "Рассчитать",
        "break_even": "Сколько дополнительных вернувшихся клиентов в месяц нужно, чтобы выйти в ноль",
        "payback": "2,21 мес.",
    },
    "en": {
        "locale": "en-US",
        "upload": "Upload and preview",
        "import": "Import",
        "phone": "Phone",
        "not_phone": "Not a phone number.",
        "bad_date": "Not a date",
        "calculate": "Calculate",
        "break_even": "Extra returning customers a month to break even",
        "payback": "2.21 months",
    },
}


@pytest.mark.parametrize(("lang", "viewport"), [("ru", PHONE), ("en", DESKTOP)])
def test_import_customers_in_the_browser(live_server, browser, merchant, owner, tmp_path, lang, viewport):
    words = WORDS[lang]
    path = tmp_path / "clients.csv"
    path.write_text(FILE, encoding="utf-8")
    page = logged_in_page(browser, live_server, owner, viewport=viewport, locale=words["locale"])
    page.goto(f"{live_server.url}/dashboard/customers/import/")
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_role("button", name=words["upload"]).click()

    preview = page.get_by_test_id("preview")
    expect(preview).to_contain_text("+79161234567")
    expect(preview.locator("tbody tr")).to_have_count(4)
    expect(page.get_by_label(words["phone"], exact=True)).to_have_value("0")  # guessed from "Телефон"
    screenshot(page, f"clv-import-1-preview-{lang}")

    page.get_by_role("button", name=words["import"], exact=True).click()
    job = ImportJob.objects.for_merchant(merchant).get()
    expect(page.get_by_test_id("progress")).to_be_visible()
    assert job.status == ImportJob.Status.QUEUED
    import_customers_task(job.pk)  # what the Celery worker does; the page polls and reloads when done

    expect(page.get_by_test_id("row-errors")).to_be_visible(timeout=15_000)
    expect(page.locator('[data-metric="created"] dd')).to_have_text("2")
    expect(page.locator('[data-metric="errors"] dd')).to_have_text("2")
    errors = page.get_by_test_id("row-errors")
    expect(errors.locator('tr[data-code="bad_phone"]')).to_contain_text(words["not_phone"])
    expect(errors.locator('tr[data-code="bad_date"]')).to_contain_text(words["bad_date"])
    screenshot(page, f"clv-import-2-report-{lang}")
    assert sorted(Customer.objects.for_merchant(merchant).values_list("phone", flat=True)) == [
        "+79161234567",
        "+79165550000",
    ]
    assert Card.objects.for_merchant(merchant).get(customer__phone="+79161234567").balance == 150


@pytest.mark.parametrize(("lang", "viewport"), [("ru", PHONE), ("en", DESKTOP)])
def test_roi_calculator_in_the_browser(live_server, browser, owner, lang, viewport):
    words = WORDS[lang]
    page = logged_in_page(browser, live_server, owner, viewport=viewport, locale=words["locale"])
    page.goto(f"{live_server.url}/dashboard/analytics/roi/")
    expect(page.get_by_test_id("prefill-note")).to_be_visible()
    form = page.get_by_test_id("roi-form")
    for name, value in {
        "average_check": "250",
        "margin_percent": "40",
        "customers_per_month": "300",
        "return_rate_percent": "35",
        "subscription_price": "1990",
        "uplift_points": "3",
    }.items():
        form.locator(f'[name="{name}"]').fill(value)
    page.get_by_role("button", name=words["calculate"]).click()

    result = page.get_by_test_id("roi-result")
    expect(result.locator('[data-metric="break_even"] dt')).to_have_text(words["break_even"])
    expect(result.locator('[data-metric="break_even"] dd')).to_have_text("20")
    expect(result.locator('[data-metric="payback"] dd')).to_have_text(words["payback"])
    expect(result.locator('[data-metric="annual_roi"] dd')).to_contain_text("54")
    screenshot(page, f"clv-roi-{lang}")
