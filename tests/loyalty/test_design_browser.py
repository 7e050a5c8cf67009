"""The card designer in a real browser: the preview follows the form as the
merchant types, publishing stores what the preview showed. Screenshots:
artifacts/design-*.png.

The full-height screenshot and the Russian interface here are shared with the
enrolment browser test; Chromium and the staff login come from tests/browser.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from loyalty.models import CardDesign
from loyalty.program.services import program_for, save_program
from tests.browser import PHONE, logged_in_page, screenshot

DESKTOP = {"width": 1360, "height": 900}


def shot(page, name: str) -> Path:
    """The whole page, taken with a viewport as tall as the page so sticky bars stay where they belong."""
    size = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    path = screenshot(page, name, full_page=False)
    page.set_viewport_size(size)
    return path


@pytest.fixture
def russian(settings):
    """The Russian interface, from the project's compiled catalogue."""
    settings.LANGUAGE_CODE = "ru"


def computed(locator, prop: str) -> str:
    return locator.evaluate(f"el => getComputedStyle(el).getPropertyValue('{prop}')")


@pytest.mark.browser
def test_preview_follows_the_form(live_server, transactional_db, browser, russian, owner, merchant, location):
    program_for(merchant=merchant)
    page = logged_in_page(browser, live_server, owner, viewport=DESKTOP)
    page.goto(f"{live_server.url}/dashboard/design/")
    apple = page.locator(".pass-apple")
    google = page.locator(".gpass")
    expect(apple).to_be_visible()
    expect(google).to_be_visible()
    expect(apple).to_have_css("background-color", "rgb(59, 42, 32)")  # the default #3b2a20
    shot(page, "design-01-default")

    # Typing a colour and a title changes the preview at once, before any save.
    page.locator("#id_background_color").fill("#1e5631")
    page.locator("#id_program_name").fill("Зерно Club")
    expect(apple.locator("[data-bind=program_name]")).to_have_text("Зерно Club")
    expect(google.locator("[data-bind=program_name]")).to_have_text("Зерно Club")
    # (expect retries: the card fades to its new colour in 0.2 s)
    expect(apple).to_have_css("background-color", "rgb(30, 86, 49)")
    expect(google).to_have_css("background-color", "rgb(30, 86, 49)")
    assert computed(page.locator("input[type=color][data-colour-for=id_background_color]"), "display") != "none"
    assert page.locator("input[type=color][data-colour-for=id_background_color]").input_value() == "#1e5631"

    # A light background: Google switches to dark text by itself, Apple keeps the chosen text colour.
    page.locator("#id_background_color").fill("#f4e7d3")
    page.locator("#id_foreground_color").fill("#3b2a20")
    expect(google).to_have_css("color", "rgb(31, 31, 31)")
    expect(apple).to_have_css("color", "rgb(59, 42, 32)")
    # The default pale labels on a pale background: the page warns.
    expect(page.locator("[data-contrast-warning]")).to_be_visible()
    page.locator("#id_label_color").fill("#8a5a2b")
    expect(page.locator("[data-contrast-warning]")).to_be_hidden()

    # Toggles and the barcode type.
    page.get_by_label("Уровень", exact=True).uncheck()
    expect(apple.locator("[data-show=show_tier]")).to_be_hidden()
    page.get_by_text("PDF417 — ").click()
    expect(apple.locator("[data-barcode=pdf417]")).to_be_visible()
    expect(apple.locator("[data-barcode=qr]")).to_be_hidden()

    # The lock-screen message shows the sample balance in place of %@.
    page.locator("#id_change_message").fill("У вас %@ баллов ☕")
    expect(page.locator(".lock-notice [data-bind=change_message]")).to_have_text("У вас 350 баллов ☕")
    page.locator("#id_website").fill("https://zerno.example")
    shot(page, "design-02-edited")

    # Publish: the version is stored with what the preview showed.
    page.get_by_role("button", name="Опубликовать").click()
    expect(page.locator(".message.success")).to_be_visible()
    design = CardDesign.objects.get(merchant=merchant, version=1)
    assert (design.background_color, design.program_name, design.barcode_format) == ("#f4e7d3", "Зерно Club", "pdf417")
    assert not design.show_tier
    shot(page, "design-03-published")

    # A bad colour is explained next to its field and nothing is saved.
    page.locator("#id_background_color").fill("коричневый")
    page.get_by_role("button", name="Сохранить черновик").click()
    expect(page.locator(".colour-field.has-error .field-errors")).to_be_visible()
    shot(page, "design-04-error")
    assert CardDesign.objects.get(merchant=merchant, published_at__isnull=True).background_color == "#f4e7d3"


@pytest.mark.browser
def test_designer_on_a_phone(live_server, transactional_db, browser, russian, marketer, merchant, owner):
    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, mechanic="stamps", stamps_per_reward=6, reward_description="Капучино")
    page = logged_in_page(browser, live_server, marketer, viewport=PHONE)
    page.goto(f"{live_server.url}/dashboard/design/")
    strip = page.locator(".pass-apple [data-stamp-strip]")
    expect(strip).to_be_visible()
    page.locator("#id_background_color").fill("#7a1f3d")
    expect(strip).to_have_attribute("src", re.compile(r"bg=%237a1f3d"))
    page.wait_for_function("() => document.querySelector('.pass-apple [data-stamp-strip]').complete")
    assert strip.evaluate("img => img.naturalWidth") == 750
    # Nothing sticks out sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "design-05-phone-stamps")
