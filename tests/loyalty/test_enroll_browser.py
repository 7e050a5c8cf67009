"""Enrolment in a real browser on a phone (390×844): from the QR code's URL to
the web card. Screenshots: artifacts/enroll-*.png."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from loyalty.models import Card, CardDesign, Customer, PersonalDataConsent
from loyalty.program.services import program_for
from merchants.models import Location
from tests.browser import PHONE, logged_in_page
from tests.loyalty.test_design_browser import DESKTOP, russian, shot  # noqa: F401
from tests.loyalty.test_enroll import IPHONE, wallets_on  # noqa: F401

pytestmark = pytest.mark.browser


def _cafe_design(merchant):
    from loyalty.design import services

    services.draft_for(merchant=merchant)
    CardDesign.objects.for_merchant(merchant).update(
        background_color="#3b2a20",
        foreground_color="#ffffff",
        label_color="#e8c9a0",
        program_name="Зерно Club",
        phone="+7 495 123-45-67",
        website="https://zerno.example",
        terms="1 балл = 1 ₽. Баллами можно оплатить до 30% чека.",
    )
    services.publish(merchant=merchant, actor=None)


@pytest.mark.django_db(transaction=True)
def test_from_qr_to_web_card_on_a_phone(live_server, browser, russian, wallets_on, merchant, location):  # noqa: F811
    program_for(merchant=merchant)
    _cafe_design(merchant)
    context = browser.new_context(viewport=PHONE, locale="ru-RU", user_agent=IPHONE, device_scale_factor=2)
    page = context.new_page()

    # The URL the location's QR code carries.
    page.goto(f"{live_server.url}/join/{merchant.slug}/{location.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Карта лояльности")
    expect(page.locator(".join-offer")).to_contain_text("+100")
    shot(page, "enroll-01-form")

    # Forgetting the consent is explained next to the checkbox; nothing is created.
    page.get_by_label("Ваше имя").fill("Анна")
    page.get_by_label("Номер телефона").fill("8 916 123-45-67")
    page.get_by_role("button", name="Получить карту").click()
    expect(page.locator("#id_personal_data_consent_error")).to_be_visible()
    assert not Customer.objects.exists()
    shot(page, "enroll-02-error")

    page.get_by_label("Номер телефона").fill("8 916 123-45-67")
    page.locator("#id_personal_data_consent").check()
    page.get_by_role("button", name="Получить карту").click()

    # The success page: Apple first on an iPhone, then Google, and the web card.
    expect(page.locator(".welcome h1")).to_contain_text("Анна")
    buttons = page.locator(".wallet-button")
    expect(buttons).to_have_count(2)
    expect(buttons.first).to_contain_text("Apple Wallet")
    expect(page.locator(".welcome-lead")).to_contain_text("100")
    shot(page, "enroll-03-success")

    page.get_by_role("link", name="Открыть карту в браузере").click()
    expect(page.locator("[data-balance]")).to_have_text("100")
    expect(page.locator(".barcode-svg")).to_be_visible()
    expect(page.locator(".history-list")).to_contain_text("Приветственный бонус")
    shot(page, "enroll-04-web-card")

    customer = Customer.objects.get(phone="+79161234567")
    assert customer.source == "qr" and customer.joined_location == Location.objects.get(pk=location.pk)
    assert PersonalDataConsent.objects.get(customer=customer).text_version == "default-2"
    assert Card.objects.get(customer=customer).balance == 100

    # The same phone again: the card is not shown; it can be sent to the e-mail on file.
    Customer.objects.filter(pk=customer.pk).update(email="anna@example.com")
    page.goto(f"{live_server.url}/join/{merchant.slug}/")
    page.get_by_label("Ваше имя").fill("Кто-то")
    page.get_by_label("Номер телефона").fill("+7 916 123 45 67")
    page.locator("#id_personal_data_consent").check()
    page.get_by_role("button", name="Получить карту").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("уже есть карта")
    assert "anna@example.com" not in page.content()
    shot(page, "enroll-05-already-registered")
    page.get_by_role("button", name="Отправить карту на e-mail").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("почту")
    assert [m.to for m in mail.outbox] == [["anna@example.com"]]
    context.close()


@pytest.mark.django_db(transaction=True)
def test_qr_page_and_poster(live_server, browser, russian, owner, merchant, location):  # noqa: F811
    program_for(merchant=merchant)
    _cafe_design(merchant)
    page = logged_in_page(browser, live_server, owner, viewport=DESKTOP)
    page.goto(f"{live_server.url}/dashboard/qr/")
    expect(page.locator(".qr-target")).to_have_count(2)
    shot(page, "enroll-06-qr-page")

    with page.expect_popup() as popup:
        page.locator(".qr-target").nth(1).get_by_role("link", name="Плакат A4").click()
    poster = popup.value
    expect(poster.locator(".qr-frame svg")).to_be_visible()
    expect(poster.locator("h1")).to_contain_text("Карта лояльности")
    size = poster.locator(".sheet").bounding_box()
    # 210 × 297 mm at 96 dpi.
    assert abs(size["width"] - 793.7) < 2 and abs(size["height"] - 1122.5) < 2
    shot(poster, "enroll-07-poster")
    # Printed, it is exactly one A4 page.
    pdf = poster.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1


@pytest.mark.django_db(transaction=True)
def test_stamp_card_and_english_form_on_a_phone(live_server, browser, russian, merchant, owner, location):  # noqa: F811
    from decimal import Decimal

    from loyalty import ledger
    from loyalty.design import services as design_services
    from loyalty.enrollment.services import enroll_customer
    from loyalty.program.services import save_program
    from loyalty.wallet.passes import wallet_pass_for

    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, mechanic="stamps", stamps_per_reward=6, reward_description="капучино")
    design_services.draft_for(merchant=merchant)
    CardDesign.objects.for_merchant(merchant).update(
        background_color="#7a1f3d", foreground_color="#ffffff", label_color="#f6c9d6", program_name="Зерно Club"
    )
    design_services.publish(merchant=merchant, actor=owner)
    card = enroll_customer(merchant=merchant, phone="+79165550011", name="Мария")
    for i in range(8):
        ledger.purchase(
            merchant=merchant, card=card, location=location, bill_amount=Decimal("250"),
            receipt_id=f"R-{i}", idempotency_key=f"k-{i}",
        )  # fmt: skip
    card.refresh_from_db()
    context = browser.new_context(viewport=PHONE, locale="ru-RU", device_scale_factor=2)
    page = context.new_page()
    page.goto(f"{live_server.url}/card/{wallet_pass_for(card=card).web_token}/")
    expect(page.locator(".pass-strip.stamps img")).to_be_visible()
    expect(page.locator(".pass-fields")).to_contain_text(f"{card.stamps} / 6")
    expect(page.locator(".reward-banner")).to_contain_text("капучино")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "enroll-08-web-card-stamps")

    english = browser.new_context(viewport=PHONE, locale="en-US", device_scale_factor=2).new_page()
    english.goto(f"{live_server.url}/join/{merchant.slug}/")
    expect(english.get_by_role("heading", level=1)).to_contain_text("Your loyalty card")
    # Every 6th visit is free (issue 8, defect 14): the 5 paid visits before it collect the stamps.
    expect(english.locator(".join-offer")).to_contain_text("Collect 5 stamps")
    shot(english, "enroll-09-form-english")
    context.close()
