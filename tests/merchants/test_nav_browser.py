"""The dashboard's top bar in Chromium: for the owner (the most entries), the
marketer and the cashier, in Russian and English, at 360, 390, 1280 and 1440 px,
every menu entry is whole on screen (inside the viewport, not covered, not cut,
no sideways scrolling of the page), the right entry is marked as the current
one, and the settings hub and the customers page render. On a narrow screen
the entries may be folded into a "☰ Section" menu: it is opened first.
Screenshots: artifacts/nav-*.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from loyalty.enrollment.services import enroll_customer
from loyalty.program.services import program_for
from tests.browser import screenshot
from tests.factories import PASSWORD
from tests.loyalty.conftest import T0

HEIGHT = 844
WIDTHS = [1280, 390, 360, 1440]
SHOT_WIDTHS = {1280, 390}

LABELS = {
    "ru": {
        "dashboard": "Главная",
        "customers": "Клиенты",
        "program": "Программа",
        "design": "Дизайн карты",
        "qr": "QR и плакат",
        "till": "Касса",
        "campaigns": "Рассылки",
        "analytics": "Аналитика",
        "settings": "Настройки",
    },
    "en": {
        "dashboard": "Home",
        "customers": "Customers",
        "program": "Program",
        "design": "Card design",
        "qr": "QR & poster",
        "till": "Till",
        "campaigns": "Campaigns",
        "analytics": "Analytics",
        "settings": "Settings",
    },
}
ENTRIES = {
    "owner": ["dashboard", "customers", "program", "design", "qr", "till", "campaigns", "analytics", "settings"],
    "marketer": ["dashboard", "customers", "program", "design", "qr", "till", "campaigns", "analytics"],
    "cashier": ["dashboard", "till"],
}

# Every link's box, and whether the link is what the browser finds at its centre
# (so it is neither covered nor clipped by an overflowing parent).
LINK_BOXES = """els => els.map(e => {
  const r = e.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return {text: e.textContent.trim(), left: r.left, right: r.right, top: r.top, bottom: r.bottom,
          width: r.width, height: r.height, onTop: !!hit && hit.closest('a') === e,
          cut: e.scrollWidth > e.clientWidth + 1};
})"""


@pytest.fixture
def shop(merchant, location, owner, marketer, cashier):
    """A café with a long-ish name and enough customers for two pages."""
    merchant.name = "Кофейня «Зерно» на Покровке"
    merchant.save()
    program_for(merchant=merchant)
    for i in range(30):
        enroll_customer(
            merchant=merchant,
            phone=f"+7916123{i:04d}",
            name=f"Клиент {i}" if i != 7 else "Анна Смирнова",
            location=location,
            now=T0 + timedelta(hours=i),
        )
    return merchant


def log_in(browser, live_server, user, lang: str):
    context = browser.new_context(viewport={"width": 1280, "height": HEIGHT}, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/dashboard/")
    if lang == "en":
        page.click(".lang-switch button[value=en]")
        expect(page.locator("html")).to_have_attribute("lang", "en")
    return context, page


def click_on(page, locator) -> None:
    """Click where ``locator`` is drawn, as a person would (a stretched link covers it)."""
    box = locator.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def resize(page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": HEIGHT})
    # The top bar re-measures on the next animation frame after a resize.
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def assert_nav_whole(page, width: int, expected: list[str], active: str, where: str) -> None:
    bar = page.locator("#topbar")
    opened = "is-menu" in (bar.get_attribute("class") or "")
    if opened:
        toggle = page.locator(".nav-toggle")
        expect(toggle).to_be_visible()
        expect(toggle).to_contain_text(active)  # the folded menu says where you are
        toggle.click()
        expect(page.locator("#main-nav")).to_be_visible()
    boxes = page.locator(".nav a").evaluate_all(LINK_BOXES)
    assert [b["text"] for b in boxes] == expected, where
    for box in boxes:
        label = f"{where}: «{box['text']}»"
        assert box["width"] > 0 and box["height"] > 0, f"{label} is not shown"
        assert box["left"] >= 0 and box["right"] <= width, f"{label} sticks out sideways: {box}"
        assert box["top"] >= 0 and box["bottom"] <= HEIGHT, f"{label} is below the screen: {box}"
        assert box["onTop"], f"{label} is covered or clipped"
        assert not box["cut"], f"{label} has its text cut"
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{where}: the page scrolls sideways"
    if not opened:
        assert page.evaluate("(n => n.scrollWidth <= n.clientWidth + 1)(document.querySelector('.nav'))"), where
    current = page.locator(".nav a[aria-current=page]")
    expect(current).to_have_count(1)
    expect(current).to_have_text(active)
    assert page.locator(".brand").bounding_box()["x"] >= 0
    who = page.locator(".who").bounding_box()
    assert who["x"] + who["width"] <= width, f"{where}: the log-out link sticks out"
    if opened:
        page.keyboard.press("Escape")
        expect(page.locator("#main-nav")).to_be_hidden()


def pages_for(role: str, card_pk: int) -> list[tuple[str, str, str]]:
    """(name, URL, the entry that must be current)."""
    pages = [("home", reverse("dashboard"), "dashboard"), ("till", reverse("till"), "till")]
    if role in ("owner", "marketer"):
        pages += [
            ("customers", reverse("customer_list"), "customers"),
            ("card", reverse("card_detail", args=[card_pk]), "customers"),
            ("program", reverse("program"), "program"),
        ]
    if role == "owner":
        pages += [
            ("settings", reverse("merchant_settings"), "settings"),
            ("locations", reverse("location_create"), "settings"),
            ("wallet", reverse("wallet_settings"), "settings"),
        ]
    return pages


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("role", ["owner", "marketer", "cashier"])
def test_every_nav_entry_is_whole_at_every_width(live_server, browser, request, shop, role, lang):
    user = request.getfixturevalue(role)
    card_pk = shop.cards.order_by("pk").first().pk
    labels = LABELS[lang]
    expected = [labels[key] for key in ENTRIES[role]]
    context, page = log_in(browser, live_server, user, lang)
    for name, url, active in pages_for(role, card_pk):
        page.goto(live_server.url + url)
        for width in WIDTHS:
            resize(page, width)
            assert_nav_whole(page, width, expected, labels[active], f"{role} {lang} {name} @{width}px")
            if name in ("home", "customers", "settings") and width in SHOT_WIDTHS:
                screenshot(page, f"nav-{role}-{lang}-{width}-{name}", full_page=False)
    resize(page, 390)
    page.goto(live_server.url + reverse("dashboard"))
    if role == "owner":
        page.locator(".nav-toggle").click()
        screenshot(page, f"nav-{role}-{lang}-390-menu-open", full_page=False)
    context.close()


@pytest.mark.browser
def test_settings_hub_and_customers_page_render(live_server, browser, shop, owner, marketer):
    context, page = log_in(browser, live_server, owner, "ru")
    page.locator(".nav").get_by_role("link", name="Настройки", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/dashboard/settings/")
    hub = page.get_by_test_id("settings-hub")
    # Locations, staff, API keys, wallet; since issue 12 the business profile and the till settings; since
    # issue 13 the audit log, two-factor log-in and the safeguards (data retention, approvals).
    expect(hub.locator(".hub-card")).to_have_count(9)
    expect(hub).to_contain_text("Персональные данные и подтверждения")
    expect(hub).to_contain_text("Журнал действий")
    expect(hub).to_contain_text("Двухфакторная аутентификация")
    expect(hub).to_contain_text("1 активная точка")
    expect(hub).to_contain_text("3 человека")
    # The whole card is the link: a click anywhere on it opens the page.
    click_on(page, hub.locator(".hub-card").filter(has_text="Сотрудники").locator("p").first)
    expect(page).to_have_url(f"{live_server.url}/dashboard/staff/")
    expect(page.locator(".nav a[aria-current=page]")).to_have_text("Настройки")
    context.close()

    # The marketer on a phone: the customers page, a phone typed the way people say it.
    context, page = log_in(browser, live_server, marketer, "ru")
    resize(page, 390)
    page.locator(".nav-toggle").click()
    page.locator(".nav").get_by_role("link", name="Клиенты", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/dashboard/customers/")
    table = page.get_by_test_id("customers")
    expect(table.locator("tbody tr")).to_have_count(25)
    expect(table.locator("tbody tr").first).to_contain_text("Клиент 29")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "nav-customers-390-ru", full_page=False)
    page.get_by_role("link", name="Далее →").click()
    expect(table.locator("tbody tr")).to_have_count(5)
    page.get_by_role("link", name="← Назад").click()
    expect(table.locator("tbody tr")).to_have_count(25)

    page.get_by_label("Поиск клиентов").fill("8 (916) 123-00-07")
    page.keyboard.press("Enter")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("search-status")).to_contain_text("Телефон +7 916 123-00-07")
    screenshot(page, "nav-customers-390-ru-search", full_page=False)
    # A click anywhere on the row opens the card, and Customers stays the current entry.
    click_on(page, table.locator("tbody tr").first.locator("td").nth(2))
    expect(page.locator("h1")).to_contain_text("Карта")
    expect(page.locator(".nav-toggle")).to_contain_text("Клиенты")
    context.close()

    context, page = log_in(browser, live_server, owner, "en")
    page.goto(f"{live_server.url}/dashboard/customers/")
    expect(page.get_by_test_id("customers").locator("tbody tr")).to_have_count(25)
    screenshot(page, "nav-customers-1280-en", full_page=False)
    context.close()
