"""A marketer in a real browser: creates a win-back automation and switches it on, creates a
broadcast, reads its preview, sends it (the real tasks, Celery eager, through a local SMTP
server), follows the progress and opens the report. In Russian and in English.
Screenshots: artifacts/campaigns-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign, CampaignSettings, Delivery
from tests.browser import logged_in_page, screenshot
from tests.campaigns.conftest import make_customer
from tests.wallet.pipeline_support import eager_celery  # noqa: F401 (fixture)

DESKTOP = {"width": 1280, "height": 900}

WORDS = {
    "ru-RU": {
        "audience": "5 клиентов в аудитории.",
        "switched_on": "Активна",
        "done": "Отправлена",
        "too_small": "Пока рано судить",
    },
    "en-US": {
        "audience": "5 customers in the audience.",
        "switched_on": "Active",
        "done": "Sent",
        "too_small": "Too small to say",
    },
}


@pytest.mark.browser
@pytest.mark.usefixtures("eager_celery")
@pytest.mark.parametrize("locale", ["ru-RU", "en-US"])
def test_marketer_builds_an_automation_and_sends_a_broadcast(
    live_server, transactional_db, browser, marketer, merchant, smtp_server, locale
):
    words = WORDS[locale]
    tag = locale[:2]
    CampaignSettings.objects.update_or_create(
        merchant=merchant, defaults={"quiet_start": "00:00", "quiet_end": "00:00"}
    )
    for n in range(1, 6):
        make_customer(merchant, n, name=f"Гость{n}")
    page = logged_in_page(browser, live_server, marketer, viewport=DESKTOP, locale=locale)

    # A win-back automation: no purchase for 60 days, 100 points for 14 days.
    page.goto(f"{live_server.url}/dashboard/campaigns/new/")
    form = page.get_by_test_id("campaign-form")
    form.locator("[name=name]").fill("Скучаем")
    form.locator("[name=kind]").select_option("automation")
    form.locator("[name=trigger]").select_option("win_back")
    form.locator("[name=trigger_days]").fill("60")
    form.locator("[name=channel_1]").select_option("wallet")
    form.locator("[name=channel_2]").select_option("email")
    form.locator("[name=subject]").fill("Мы скучаем")
    form.locator("[name=body]").fill("{first_name}, давно не виделись! Дарим {balance} + 100 баллов.")
    form.locator("[name=offer_points]").fill("100")
    form.locator("[name=offer_valid_days]").fill("14")
    # Only the automation's fields: no send time.
    expect(form.locator("[name=send_at_local]")).to_be_hidden()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, f"campaigns-01-win-back-form-{tag}")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("preview")).to_be_visible()
    screenshot(page, f"campaigns-02-win-back-preview-{tag}")
    page.get_by_test_id("activate").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text(words["switched_on"])
    automation = Campaign.objects.get(merchant=merchant, name="Скучаем")
    assert (automation.kind, automation.trigger, automation.trigger_days) == ("automation", "win_back", 60)
    assert automation.channels == ["wallet", "email"] and automation.offer_points == 100

    # A broadcast by e-mail to everyone with consent, nobody held out.
    page.goto(f"{live_server.url}/dashboard/campaigns/new/")
    form = page.get_by_test_id("campaign-form")
    form.locator("[name=name]").fill("Осенние новости")
    form.locator("[name=kind]").select_option("broadcast")
    expect(form.locator("[name=trigger]")).to_be_hidden()
    form.locator("[name=channel_1]").select_option("email")
    form.locator("[name=subject]").fill("Новости")
    form.locator("[name=body]").fill("{first_name}, у вас {balance} баллов")
    form.locator("[name=holdout_percent]").fill("0")
    form.locator("button[type=submit]").click()
    preview = page.get_by_test_id("preview")
    expect(preview).to_contain_text(words["audience"])
    expect(page.get_by_test_id("sample")).to_have_count(3)
    expect(page.get_by_test_id("sample").first).to_contain_text("Гость")
    expect(page.get_by_test_id("sample").first).to_contain_text("у вас 100 баллов")
    screenshot(page, f"campaigns-03-broadcast-preview-{tag}")

    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text(words["done"])
    progress = page.get_by_test_id("progress")
    expect(progress.locator("[data-key=sent]")).to_have_text("5")
    expect(progress.locator("[data-key=remaining]")).to_have_text("0")
    expect(page.get_by_test_id("report")).to_be_visible()
    expect(page.get_by_test_id("verdict")).to_contain_text(words["too_small"])
    screenshot(page, f"campaigns-04-broadcast-report-{tag}")
    broadcast = Campaign.objects.get(merchant=merchant, name="Осенние новости")
    assert Delivery.objects.filter(campaign=broadcast, status="sent").count() == 5
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [f"c{n}@example.test" for n in range(1, 6)]

    page.goto(f"{live_server.url}/dashboard/campaigns/")
    expect(page.locator("main")).to_contain_text("Осенние новости")
    expect(page.locator("main")).to_contain_text("Скучаем")
    screenshot(page, f"campaigns-05-list-{tag}")
