"""A support task in Russian, in a real browser (issue 13): a support agent logs in
to admin, finds a customer by a phone typed with spaces and dashes, opens the
customer page, adjusts the balance with a reason, and sees the entry in the
ledger and in the audit log. Screenshots: artifacts/i13-support-*.png."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from loyalty.enrollment.services import enroll_customer
from loyalty.models import LedgerEntry
from loyalty.program.services import program_for
from merchants.models import AuditEvent
from merchants.platform_roles import SUPPORT_AGENT
from tests import factories
from tests.browser import screenshot
from tests.factories import PASSWORD
from tests.two_factor import current_code, device_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_support_agent_finds_a_customer_by_phone_and_adjusts_the_balance(browser, live_server):
    merchant = factories.MerchantFactory(name="Кофейня «Зерно»", time_zone="Asia/Yekaterinburg")
    program_for(merchant=merchant)
    card = enroll_customer(
        merchant=merchant, phone="+79165550606", name="Галина", location=factories.LocationFactory(merchant=merchant)
    )
    balance = card.balance
    agent = factories.UserFactory(email="agent@platform.test", merchant=None, role="", is_staff=True)
    agent.groups.add(Group.objects.get(name=SUPPORT_AGENT))

    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU").new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", agent.email)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", current_code(device_for(agent)))  # admin asks platform staff for the second factor
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()

    page.goto(f"{live_server.url}/admin/loyalty/customer/")
    page.fill("#searchbar", "8 916 555-06-06")
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.click("#result_list a:text('открыть')")
    expect(page.locator("#customer-summary")).to_contain_text("+79165550606")
    screenshot(page, "i13-support-customer")

    page.click("#customer-cards a:text('Изменить баланс')")
    page.fill("#id_points", "250")
    page.fill("#id_reason", "Компенсация за сломанную кофемашину")
    page.click("input[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("Компенсация за сломанную кофемашину")

    page.goto(f"{live_server.url}/admin/loyalty/customer/{card.customer_id}/support/")
    ledger = page.locator("#customer-ledger")
    expect(ledger.locator("tr").nth(1)).to_contain_text("Компенсация за сломанную кофемашину")
    expect(ledger.locator("tr").nth(1)).to_contain_text("250")
    expect(page.locator("#customer-cards .balance")).to_have_text(str(balance + 250))
    audit = page.locator("#customer-audit")
    expect(audit).to_contain_text("Баланс скорректирован")
    expect(audit).to_contain_text("agent@platform.test")
    screenshot(page, "i13-support-adjusted")

    entry = LedgerEntry.objects.get(card=card, reason="Компенсация за сломанную кофемашину")
    assert entry.points == 250 and entry.actor_id == agent.pk
    event = AuditEvent.objects.get(action="balance.adjusted", target_id=str(card.pk))
    assert event.ip_address == "127.0.0.1" and event.source == "admin"
