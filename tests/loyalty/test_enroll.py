"""Enrolment by QR: the public form, consent versions, referrals, an already
registered phone, rate limits, and the dashboard's QR codes and posters."""

import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from PIL import Image

from loyalty.enrollment import services as enroll_services
from loyalty.enrollment.services import enroll_customer
from loyalty.models import Card, ConsentRecord, ConsentText, Customer, PersonalDataConsent, WalletPass
from loyalty.program.services import program_for, save_program
from loyalty.wallet.passes import wallet_pass_for
from tests import factories
from tests.fakes.pki import make_pki

pytestmark = pytest.mark.django_db

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
ANDROID = "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile"


@pytest.fixture(autouse=True)
def _fresh_limits():
    # Rate-limit counters live in the (process-wide) cache.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def program(merchant):
    return program_for(merchant=merchant)


@pytest.fixture
def join_url(merchant):
    return reverse("enroll", args=[merchant.slug])


def good_data(**overrides):
    data = {
        "name": "Анна",
        "phone": "+7 916 123-45-67",
        "birthday": "1990-05-17",
        "email": "anna@example.com",
        "personal_data_consent": "on",
        "marketing_consent": "on",
        "ref": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def wallets_on(settings, tmp_path):
    """A platform Apple certificate and Google service account, as production sets them."""
    pki = make_pki()
    (tmp_path / "pass.pem").write_bytes(pki.pass_cert.cert_pem)
    (tmp_path / "pass.key").write_bytes(pki.pass_cert.key_pem())
    settings.APPLE_PASS_CERT_FILE = str(tmp_path / "pass.pem")
    settings.APPLE_PASS_KEY_FILE = str(tmp_path / "pass.key")
    settings.PUBLIC_BASE_URL = "https://loyalty.example"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info = {
        "type": "service_account",
        "project_id": "loyalty-test",
        "private_key_id": "k1",
        "private_key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "client_email": "wallet@loyalty-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "http://127.0.0.1:9/token",
    }
    (tmp_path / "google.json").write_text(json.dumps(info))
    settings.GOOGLE_WALLET_ISSUER_ID = "3388000000012345678"
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = str(tmp_path / "google.json")


# --- the public form ---------------------------------------------------------------------------


def test_form_shows_merchant_offer_and_current_consent(client, merchant, program, join_url):
    response = client.get(join_url)
    assert response.status_code == 200
    html = response.content.decode()
    assert merchant.name.replace("«", "&laquo;").replace("»", "&raquo;") in html or "Зерно" in html
    assert "+100" in html  # the welcome bonus of the default program
    assert "152-FZ" in html or "152-ФЗ" in html  # a Russian merchant's default personal-data consent
    assert 'name="personal_data_consent"' in html and 'name="marketing_consent"' in html
    assert 'type="tel"' in html and 'type="date"' in html
    assert response["Cache-Control"] if "Cache-Control" in response else True
    # The form carries this visitor's CSRF token: no shared cache may keep it for the next one.
    assert "Cache-Control" in response, dict(response.headers)
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_unknown_or_suspended_merchant_is_404(client, merchant, location, other_merchant):
    assert client.get("/join/no-such-shop/").status_code == 404
    # Another merchant's location under this merchant's slug does not exist.
    foreign = factories.LocationFactory(merchant=other_merchant)
    assert client.get(reverse("enroll_location", args=[merchant.slug, foreign.pk])).status_code == 404
    merchant.is_active = False
    merchant.save()
    assert client.get(reverse("enroll", args=[merchant.slug])).status_code == 404


def test_happy_path_creates_customer_card_and_consents(client, merchant, location, program):
    url = reverse("enroll_location", args=[merchant.slug, location.pk])
    response = client.post(url, good_data())
    assert response.status_code == 302
    customer = Customer.objects.for_merchant(merchant).get()
    card = Card.objects.for_merchant(merchant).get()
    wallet_pass = WalletPass.objects.get(card=card)
    assert response["Location"] == reverse("webcard_welcome", args=[wallet_pass.web_token])
    assert (customer.name, customer.phone, customer.email) == ("Анна", "+79161234567", "anna@example.com")
    assert customer.birthday.isoformat() == "1990-05-17"
    assert customer.source == "qr"
    assert customer.joined_location == location
    assert card.balance == 100  # welcome bonus
    # Both consents carry the version of the text the customer saw.
    data_consent = PersonalDataConsent.objects.get(customer=customer)
    assert (data_consent.text_version, data_consent.channel) == ("default-2", "qr")
    marketing = ConsentRecord.objects.get(customer=customer)
    assert (marketing.granted, marketing.channel, marketing.text_version) == (True, "qr", "default-2")
    assert customer.marketing_consent is True

    welcome = client.get(response["Location"])
    assert welcome.status_code == 200
    page = welcome.content.decode()
    assert "Анна" in page and "100" in page
    assert reverse("webcard", args=[wallet_pass.web_token]) in page
    assert welcome["Cache-Control"] == "no-store" or "no-store" in welcome["Cache-Control"]
    assert welcome["Referrer-Policy"] == "no-referrer"


def test_merchant_consent_text_version_is_stored(client, merchant, program, owner, join_url):
    enroll_services.save_consent_text(
        merchant=merchant, personal_data_text="Текст согласия v1", marketing_text="Рассылка v1", actor=owner
    )
    enroll_services.save_consent_text(
        merchant=merchant,
        personal_data_text="Согласие на обработку ПДн, редакция 2",
        marketing_text="Акции",
        actor=owner,
    )
    page = client.get(join_url).content.decode()
    assert "Согласие на обработку ПДн, редакция 2" in page and "Текст согласия v1" not in page
    assert client.post(join_url, good_data(marketing_consent=None)).status_code == 302
    customer = Customer.objects.for_merchant(merchant).get()
    assert PersonalDataConsent.objects.get(customer=customer).text_version == "v2"
    assert not ConsentRecord.objects.filter(customer=customer).exists()  # no marketing consent given
    assert customer.marketing_consent is False
    assert ConsentText.objects.for_merchant(merchant).get(version=1).personal_data_text == "Текст согласия v1"


def test_referral_code_from_the_url(client, merchant, program, join_url):
    friend = enroll_customer(merchant=merchant, phone="+79160000001", name="Борис").customer
    page = client.get(join_url, {"ref": friend.referral_code.lower()}).content.decode()
    assert f'value="{friend.referral_code}"' in page
    assert "friend" in page.lower() or "друг" in page.lower()
    response = client.post(join_url, good_data(ref=friend.referral_code))
    assert response.status_code == 302
    assert Customer.objects.get(phone="+79161234567").referred_by == friend


def test_bad_referral_code_is_explained(client, merchant, program, join_url):
    page = client.get(join_url, {"ref": "NOSUCH12"}).content.decode()
    assert 'value="NOSUCH12"' not in page
    assert "not valid" in page or "недействительна" in page
    response = client.post(join_url, good_data(ref="NOSUCH12"))
    assert response.status_code == 400
    assert not Customer.objects.filter(phone="+79161234567").exists()


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"phone": "12"}, "phone", "phone number"),
        ({"phone": "+7 916 abc"}, "phone", "phone number"),
        ({"phone": ""}, "phone", "phone number"),
        ({"personal_data_consent": None}, "personal_data_consent", "consent"),
        ({"birthday": "2999-01-01"}, "birthday", "future"),
        ({"birthday": "1850-01-01"}, "birthday", "year"),
        ({"birthday": "31.02.1990"}, "birthday", "date"),
        ({"email": "anna@"}, "email", "e-mail"),
        ({"name": "   "}, "name", "name"),
    ],
)
def test_bad_input_is_explained_next_to_the_field_and_creates_nothing(
    client, merchant, program, join_url, changes, field, message
):
    response = client.post(join_url, good_data(**changes), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    errors = response.context["form"].errors[field]
    assert any(message in e for e in errors), errors
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not Customer.objects.for_merchant(merchant).exists()
    assert not Card.objects.for_merchant(merchant).exists()
    assert not PersonalDataConsent.objects.exists()


def test_russian_messages(client, merchant, program, join_url):
    response = client.post(join_url, good_data(phone="12"), HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 400
    page = response.content.decode()
    assert 'lang="ru"' in page
    russian = "Это не похоже на номер телефона. Введите его с кодом, например +7 916 123-45-67."
    assert response.context["form"].errors["phone"] == [russian]
    assert russian in page
    assert "doesn't look like" not in page and "doesn&#x27;t look like" not in page


# --- a phone that already has a card ---------------------------------------------------------


def test_registered_phone_never_reveals_the_card(client, merchant, program, join_url):
    existing = enroll_customer(merchant=merchant, phone="+79161234567", name="Анна", email="anna.old@example.com")
    token = wallet_pass_for(card=existing).web_token
    assert token
    response = client.post(join_url, good_data(email="intruder@example.com"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    assert "already has a card" in page
    for secret in ("anna.old", existing.number, existing.barcode, "/card/"):
        assert secret not in page
    assert token not in page
    assert Customer.objects.for_merchant(merchant).count() == 1
    assert Customer.objects.get().email == "anna.old@example.com"  # unchanged

    # "Send it to my e-mail" goes to the address on file, never to the one typed.
    send_token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    done = client.post(reverse("enroll_send_card", args=[merchant.slug]), {"token": send_token})
    assert done.status_code == 200
    assert "anna.old" not in done.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["anna.old@example.com"]
    web_token = WalletPass.objects.get(card=existing).web_token
    assert f"/card/{web_token}/" in message.body

    # Asking again at once sends nothing more (but says the same).
    again = client.post(reverse("enroll_send_card", args=[merchant.slug]), {"token": send_token})

    def without_per_response_tokens(response):
        # The CSRF token and the Content-Security-Policy nonce change with every response and say nothing.
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
        return re.sub(r'nonce="[^"]+"', "", page)

    assert again.status_code == 200 and without_per_response_tokens(again) == without_per_response_tokens(done)
    assert len(mail.outbox) == 1


def test_registered_phone_without_email_gets_the_same_answer(client, merchant, program, join_url):
    enroll_customer(merchant=merchant, phone="+79161234567", name="Анна")
    page = client.post(join_url, good_data()).content.decode()
    send_token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    done = client.post(reverse("enroll_send_card", args=[merchant.slug]), {"token": send_token})
    assert done.status_code == 200
    assert mail.outbox == []


def test_send_card_token_is_checked(client, merchant, other_merchant, program):
    url = reverse("enroll_send_card", args=[merchant.slug])
    assert client.post(url, {"token": "forged"}).status_code == 400
    from django.core import signing

    from loyalty.enrollment.views import SEND_CARD_SALT

    foreign = signing.dumps({"m": other_merchant.pk, "p": "+79161234567"}, salt=SEND_CARD_SALT)
    assert client.post(url, {"token": foreign}).status_code == 404
    assert mail.outbox == []


# --- rate limits ----------------------------------------------------------------------------


def test_flood_from_one_address_gets_429(client, merchant, program, join_url, monkeypatch, one_rate_limit_window):
    from loyalty.enrollment import ratelimit

    # A script that drops its cookies (each post a new "device"); a small address limit keeps the test short.
    monkeypatch.setattr(ratelimit, "ENROLL_PER_IP", ratelimit.Limit(15, 600))
    ENROLL_PER_IP = ratelimit.ENROLL_PER_IP
    for i in range(ENROLL_PER_IP.count):
        client.cookies.pop(ratelimit.DEVICE_COOKIE, None)
        response = client.post(join_url, good_data(phone=f"+7916765{i:04d}"))
        assert response.status_code == 302
    response = client.post(join_url, good_data(phone="+79169999999"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 429
    assert "try again" in response.content.decode().lower()
    assert response["Retry-After"]
    assert not Customer.objects.filter(phone="+79169999999").exists()
    # Another address is not blocked.
    other = client.post(join_url, good_data(phone="+79169999999"), REMOTE_ADDR="10.0.0.7")
    assert other.status_code == 302


def test_flood_spread_over_addresses_hits_the_merchant_limit(
    client, merchant, program, join_url, monkeypatch, one_rate_limit_window
):
    from loyalty.enrollment import ratelimit

    monkeypatch.setattr(ratelimit, "ENROLL_PER_MERCHANT", ratelimit.Limit(3, 600))
    for i in range(3):
        assert client.post(join_url, good_data(phone=f"+7916111{i:04d}"), REMOTE_ADDR=f"10.1.0.{i}").status_code == 302
    assert client.post(join_url, good_data(phone="+79162220000"), REMOTE_ADDR="10.2.0.1").status_code == 429


def test_rate_limit_window(settings):
    from loyalty.enrollment.ratelimit import Limit, hit

    limit = Limit(2, 60)
    assert hit("k", limit, now=1000) and hit("k", limit, now=1001)
    assert not hit("k", limit, now=1002)
    assert hit("k", limit, now=1000 + 60)  # the next window


# --- wallet buttons -----------------------------------------------------------------------------


def _welcome(client, merchant, join_url, agent):
    response = client.post(join_url, good_data(), HTTP_USER_AGENT=agent)
    return client.get(response["Location"], HTTP_USER_AGENT=agent).content.decode()


def test_wallet_buttons_hidden_when_wallets_are_off(client, merchant, program, join_url, settings):
    settings.APPLE_PASS_CERT_FILE = ""
    settings.GOOGLE_WALLET_ISSUER_ID = ""
    page = _welcome(client, merchant, join_url, IPHONE)
    assert "wallet-button" not in page
    assert "/card/" in page  # the web card is always offered


@pytest.mark.parametrize("agent, first", [(IPHONE, "apple"), (ANDROID, "google")])
def test_the_fitting_wallet_comes_first(client, merchant, program, join_url, wallets_on, agent, first):
    page = _welcome(client, merchant, join_url, agent)
    kinds = re.findall(r'class="wallet-button (apple|google)"', page)
    assert kinds[0] == first and set(kinds) == {"apple", "google"}
    token = WalletPass.objects.get().web_token
    assert reverse("wallet_apple_pass", args=[token]) in page
    assert reverse("wallet_google_save", args=[token]) in page


# --- dashboard: QR codes and posters ---------------------------------------------------------


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def test_qr_page_lists_merchant_and_location_urls(logged_in, merchant, location, program, settings):
    response = logged_in.get(reverse("enroll_qr"))
    assert response.status_code == 200
    page = response.content.decode()
    assert settings.PUBLIC_BASE_URL + f"/join/{merchant.slug}/" in page
    assert settings.PUBLIC_BASE_URL + f"/join/{merchant.slug}/{location.pk}/" in page
    assert reverse("enroll_poster_location", args=[location.pk]) in page
    assert reverse("enroll_qr_location_svg", args=[location.pk]) in page


def test_cashier_has_no_qr_page(client, cashier):
    client.force_login(cashier)
    assert client.get(reverse("enroll_qr")).status_code == 403
    assert client.get(reverse("enroll_qr_png")).status_code == 403


def test_qr_downloads_are_valid_svg_and_png(logged_in, merchant, location, program):
    for url in (reverse("enroll_qr_svg"), reverse("enroll_qr_location_svg", args=[location.pk])):
        response = logged_in.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/svg+xml"
        assert "attachment" in response["Content-Disposition"] and ".svg" in response["Content-Disposition"]
        root = ET.fromstring(response.content)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    for url in (reverse("enroll_qr_png"), reverse("enroll_qr_location_png", args=[location.pk])):
        response = logged_in.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(response.content))
        image.verify()
        assert image.format == "PNG" and image.size[0] >= 500


def test_qr_png_encodes_the_enrollment_url(logged_in, merchant, location, program, settings):
    import segno

    url = settings.PUBLIC_BASE_URL + f"/join/{merchant.slug}/{location.pk}/"
    expected = io.BytesIO()
    segno.make_qr(url, error="m", boost_error=True).save(expected, kind="png", scale=20, border=4)
    assert logged_in.get(reverse("enroll_qr_location_png", args=[location.pk])).content == expected.getvalue()


def test_another_merchants_location_qr_is_404(client, other_owner, location):
    client.force_login(other_owner)
    for name in ("enroll_qr_location_svg", "enroll_qr_location_png", "enroll_poster_location"):
        assert client.get(reverse(name, args=[location.pk])).status_code == 404


def test_poster_renders_print_ready(logged_in, merchant, location, program):
    response = logged_in.get(reverse("enroll_poster_location", args=[location.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<svg" in page  # the QR code, inline
    assert "css/poster.css" in page
    assert "+100" in page  # the welcome bonus
    assert location.name in page
    assert page.count("<li>") >= 3


def test_consent_wording_saved_as_a_new_version(logged_in, merchant, program):
    url = reverse("enroll_qr")
    bad = logged_in.post(url, {"personal_data_text": "", "marketing_text": "x"})
    assert bad.status_code == 400 and not ConsentText.objects.exists()
    ok = logged_in.post(url, {"personal_data_text": "Согласие v1", "marketing_text": "Акции v1", "policy_url": ""})
    assert ok.status_code == 302
    text = ConsentText.objects.for_merchant(merchant).get()
    assert (text.version, text.personal_data_text, text.created_by.email) == (1, "Согласие v1", "owner@zerno.test")


def test_stamp_program_offer(client, merchant, owner, program, join_url):
    # Every 7th visit is free (defect 14): the 6 paid visits before it collect the stamps.
    save_program(merchant=merchant, actor=owner, mechanic="stamps", stamps_per_reward=7, reward_description="капучино")
    page = client.get(join_url).content.decode()
    assert "капучино" in page and "6" in page
    # The offer itself says how many stamps earn the reward (not just any "6" on the page).
    offer = re.search(r'<p class="join-offer">(.*?)</p>', page, re.S)
    assert offer, page
    assert "капучино" in offer.group(1) and re.search(r"(?<!\d)6(?!\d)", offer.group(1)), offer.group(1)


@pytest.mark.parametrize(
    ("stamps_per_reward", "language", "words"),
    [
        (6, "en", "Collect 5 stamps — get капучино as a gift"),
        (2, "en", "Collect 1 stamp — get капучино as a gift"),
        (6, "ru", "Соберите 5 штампов — капучино в подарок"),
        (3, "ru", "Соберите 2 штампа — капучино в подарок"),
        (22, "ru", "Соберите 21 штамп — капучино в подарок"),
    ],
)
def test_join_offer_counts_the_paid_visits_before_the_free_one(
    client, merchant, owner, program, join_url, stamps_per_reward, language, words
):
    # "Every N-th visit is free" (issue 8, defect 14): the N - 1 paid visits collect the stamps.
    save_program(
        merchant=merchant, actor=owner, mechanic="stamps", stamps_per_reward=stamps_per_reward,
        reward_description="капучино",
    )  # fmt: skip
    page = client.get(join_url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert words in " ".join(page.split())


def test_a_new_enrolment_stores_the_version_of_the_reworded_default_consent(client, merchant, program, join_url):
    # Issue 12 reworded the built-in consent ("согласие компании «…»"), so the customer who
    # agrees to it now agreed to default-2, not to the default-1 text of earlier customers.
    merchant.name = "Кофейня «Зерно»"
    merchant.save()
    page = " ".join(client.get(join_url, HTTP_ACCEPT_LANGUAGE="ru").content.decode().split())
    assert "согласие компании «Кофейня „Зерно“»" in page
    assert client.post(join_url, good_data(), HTTP_ACCEPT_LANGUAGE="ru").status_code == 302
    customer = Customer.objects.for_merchant(merchant).get()
    assert PersonalDataConsent.objects.get(customer=customer).text_version == "default-2"
    assert ConsentRecord.objects.get(customer=customer).text_version == "default-2"
