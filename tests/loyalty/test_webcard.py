"""The web card at /card/<web_token>/: live balance, tier, barcode and history
in the merchant's time zone; unguessable; nothing cached."""

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from PIL import Image

from loyalty import ledger
from loyalty.design import services as design_services
from loyalty.enrollment.services import enroll_customer
from loyalty.models import CardDesign
from loyalty.program.services import program_for, save_program
from loyalty.wallet.passes import wallet_pass_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(merchant):
    program_for(merchant=merchant)
    return enroll_customer(
        merchant=merchant, phone="+79161234567", name="Анна", now=datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    )


@pytest.fixture
def url(card):
    return reverse("webcard", args=[wallet_pass_for(card=card).web_token])


def test_shows_live_balance_after_a_purchase(client, merchant, location, card, url):
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "data-balance>100<" in page  # welcome bonus
    assert "Welcome bonus" in page

    ledger.purchase(
        merchant=merchant,
        card=card,
        location=location,
        bill_amount=Decimal("1000.00"),
        receipt_id="R-1",
        idempotency_key="k-1",
        now=datetime(2026, 3, 11, 18, 30, tzinfo=UTC),
    )
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert "data-balance>150<" in page  # 5 % cashback of 1000 = 50 points
    assert "+50" in page and "Purchase" in page
    # Times in the merchant's zone: 18:30 UTC is 21:30 in Moscow.
    assert "03/11/2026 9:30 p.m." in page and "6:30" not in page
    assert "11.03.2026 21:30" in client.get(url, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Бронза" in page and "Анна" in page
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Robots-Tag"].startswith("noindex")


def test_shows_the_barcode_with_the_card_payload(client, card, url):
    page = client.get(url).content.decode()
    assert 'class="barcode-svg qr"' in page
    spaced = " ".join(card.number[i : i + 4] for i in range(0, len(card.number), 4))
    assert spaced in page


@pytest.mark.parametrize("fmt, css", [("pdf417", "barcode-svg pdf417"), ("code128", "barcode-svg code128")])
def test_barcode_follows_the_published_design(client, merchant, owner, card, url, fmt, css):
    design_services.draft_for(merchant=merchant)
    CardDesign.objects.for_merchant(merchant).update(barcode_format=fmt, background_color="#0b3d91")
    design_services.publish(merchant=merchant, actor=owner)
    page = client.get(url).content.decode()
    assert css in page
    assert "#0b3d91" in page


def test_draft_design_is_not_shown_to_customers(client, merchant, card, url):
    design_services.draft_for(merchant=merchant)
    CardDesign.objects.for_merchant(merchant).update(background_color="#ff00ff")
    response = client.get(url)
    assert "#ff00ff" not in response.content.decode()
    # The customer does see the card, in the default colours.
    assert response.status_code == 200
    page = response.content.decode()
    assert " ".join(card.number[i : i + 4] for i in range(0, len(card.number), 4)) in page
    assert 'class="barcode-svg qr"' in page


def test_unknown_token_is_404(client, card):
    for token in ("nope", "x" * 200, wallet_pass_for(card=card).web_token[:-1]):
        assert client.get(f"/card/{token}/").status_code == 404
        assert client.get(f"/card/{token}/welcome/").status_code == 404


def test_blocked_card_hides_the_barcode(client, merchant, owner, card, url):
    ledger.set_card_blocked(merchant=merchant, card=card, blocked=True, reason="lost", actor=owner)
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "blocked" in page
    assert "barcode-svg" not in page


def test_stamp_card_shows_its_stamps(client, merchant, owner, location, url, card):
    save_program(merchant=merchant, actor=owner, mechanic="stamps", stamps_per_reward=6, reward_description="капучино")
    for i in range(2):
        ledger.purchase(
            merchant=merchant, card=card, location=location, bill_amount=Decimal("300"),
            receipt_id=f"S-{i}", idempotency_key=f"s-{i}",
        )  # fmt: skip
    page = client.get(url).content.decode()
    assert "2 / 6" in page
    strip = client.get(reverse("webcard_stamps", args=[wallet_pass_for(card=card).web_token]))
    assert strip.status_code == 200 and strip["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(strip.content)).size == (750, 246)


def test_published_logo_and_strip_are_served_to_customer_pages(client, merchant, owner, card, url):
    from django.core.files.base import ContentFile

    from loyalty.design import services as design_services

    draft = design_services.draft_for(merchant=merchant)
    buffer = io.BytesIO()
    Image.new("RGBA", (600, 200), (200, 120, 40, 255)).save(buffer, "PNG")
    draft.logo.save("logo.png", ContentFile(buffer.getvalue()))
    draft.strip.save("strip.png", ContentFile(buffer.getvalue()))
    # Only published pictures are public.
    assert client.get(reverse("enroll_logo", args=[merchant.slug])).status_code == 404
    design_services.publish(merchant=merchant, actor=owner)
    for name in ("enroll_logo", "enroll_strip"):
        response = client.get(reverse(name, args=[merchant.slug]))
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
    page = client.get(url).content.decode()
    assert (
        reverse("enroll_logo", args=[merchant.slug]) in page and reverse("enroll_strip", args=[merchant.slug]) in page
    )


def test_web_card_query_count_does_not_grow_with_history(
    client, merchant, location, card, url, django_assert_max_num_queries
):
    for i in range(15):
        ledger.purchase(
            merchant=merchant, card=card, location=location, bill_amount=Decimal("300"),
            receipt_id=f"Q-{i}", idempotency_key=f"q-{i}",
        )  # fmt: skip
    client.get(url)
    with django_assert_max_num_queries(6):
        assert client.get(url).status_code == 200


def test_stamp_card_says_which_visit_is_free(client, merchant, owner, location, url, card):
    """Defect 14 on the web card: with N = 6 the card says "pay for 5, the next is
    free", and after the 5th paid visit that the next visit is free."""
    save_program(merchant=merchant, actor=owner, mechanic="stamps", stamps_per_reward=6, reward_description="капучино")
    page = client.get(url, headers={"Accept-Language": "ru"}).content.decode()
    assert "Оплатите 5 визитов — следующий бесплатно" in page
    assert "Следующий визит — бесплатно" not in page
    for i in range(5):
        ledger.purchase(
            merchant=merchant, card=card, location=location, bill_amount=Decimal("300"),
            receipt_id=f"S-{i}", idempotency_key=f"s-{i}",
        )  # fmt: skip
    page = client.get(url, headers={"Accept-Language": "ru"}).content.decode()
    assert "0 / 6" in page and "капучино. Следующий визит — бесплатно." in page
    english = client.get(url, headers={"Accept-Language": "en"}).content.decode()
    assert "Pay for 5 visits, the next one is free" in english and "Your next visit is free." in english
