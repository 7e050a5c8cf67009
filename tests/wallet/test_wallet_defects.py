"""Issue 8, the wallet defects 4, 6, 7, 8 and 10, each through the real stack:
the PassKit log endpoint, the .pkpass a customer downloads, the credentials
page, and the fake Google Wallet."""

# ruff: noqa: F811  (fixtures imported from support modules)

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from loyalty.design import services as design_services
from loyalty.enrollment.services import enroll_customer
from loyalty.models import CardDesign, DeviceLog, WalletCredentials
from loyalty.program.services import program_for
from loyalty.wallet import passes
from tests import factories
from tests.loyalty.api_support import pos, pos_card, pos_key, pos_program  # noqa: F401
from tests.wallet.pipeline_support import (  # noqa: F401
    ISSUER_ID,
    apple_merchant,
    eager_celery,
    google_merchant,
    unzip,
    wallet_settings,
)

pytestmark = pytest.mark.django_db

LOG_URL = "/wallet/passkit/v1/log"


def post_log(client: Client, lines: list, address: str):
    return client.post(LOG_URL, json.dumps({"logs": lines}), content_type="application/json", REMOTE_ADDR=address)


# --- 4: the device log endpoint ---------------------------------------------------------------------


def test_device_log_is_rate_limited_per_address(wallet_settings):
    wallet_settings.PASSKIT_LOG_RATE_LIMIT_PER_ADDRESS = (5, 600)
    client = Client(enforce_csrf_checks=True)
    for _ in range(5):
        assert post_log(client, ["Register task encountered error"], "203.0.113.7").status_code == 200
    refused = post_log(client, ["one more"], "203.0.113.7")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert DeviceLog.objects.count() == 5
    # Another address is counted on its own.
    assert post_log(client, ["from another phone"], "203.0.113.8").status_code == 200
    assert DeviceLog.objects.count() == 6


def test_device_log_caps_lines_and_characters_per_request(wallet_settings):
    client = Client(enforce_csrf_checks=True)
    assert post_log(client, ["x" * 1500] * 40, "198.51.100.1").status_code == 200
    stored = list(DeviceLog.objects.values_list("message", flat=True))
    # What a device sends on one error is a few lines: 20 lines, 20,000 characters in all are plenty.
    assert 0 < len(stored) <= 20
    assert sum(len(line) for line in stored) <= 20_000
    # A body far beyond what a device sends is refused unread.
    huge = json.dumps({"logs": ["y" * 1000] * 1000})
    response = client.post(LOG_URL, huge, content_type="application/json", REMOTE_ADDR="198.51.100.2")
    assert response.status_code == 413
    assert DeviceLog.objects.count() == len(stored)


# --- 6 and 7: what the pass shows without a design, and with a published default design -------------


def download(wallet_pass) -> dict[str, bytes]:
    response = Client().get(reverse("wallet_apple_pass", args=[wallet_pass.web_token]))
    assert response.status_code == 200, response.content
    return unzip(response.content)


def strings(files: dict[str, bytes], language: str) -> dict[str, str]:
    text = files[f"{language}.lproj/pass.strings"].decode("utf-8")
    return dict(re.findall(r'^"((?:[^"\\]|\\.)*)" = "((?:[^"\\]|\\.)*)";$', text, re.M))


def fields(pass_json: dict, kind: str) -> list[dict]:
    return pass_json["storeCard"].get(kind, [])


@pytest.fixture
def card(apple_merchant, location):
    program_for(merchant=apple_merchant)
    # A second geocoded location, and one without coordinates (never on the lock screen).
    factories.LocationFactory(merchant=apple_merchant, name="Арбат", address="Арбат, 10", latitude="55.7520")
    factories.LocationFactory(merchant=apple_merchant, name="Склад", address="", latitude=None, longitude=None)
    return enroll_customer(merchant=apple_merchant, phone="+79161112233", name="Анна", location=location)


def test_messages_on_the_pass_follow_the_customer_language(apple_merchant, card, owner):
    wallet_pass = passes.wallet_pass_for(card=card)
    passes.post_card_message(card=card, header="", body="Кофе дня — раф")
    files = download(wallet_pass)
    pass_json = json.loads(files["pass.json"])
    points = fields(pass_json, "primaryFields")[0]
    # A key of pass.strings, resolved on the phone in its own language.
    assert points["changeMessage"] == "Balance: %@"
    assert strings(files, "en")["Balance: %@"] == "Balance: %@"
    assert strings(files, "ru")["Balance: %@"] == "Баланс: %@"
    message = next(f for f in fields(pass_json, "backFields") if f["value"] == "Кофе дня — раф")
    assert strings(files, "en")[message["label"]] == "Message"
    assert strings(files, "ru")[message["label"]] == "Сообщение"

    # A design published with the defaults says the same.
    design_services.draft_for(merchant=apple_merchant, actor=owner)
    design_services.publish(merchant=apple_merchant, actor=owner)
    points = fields(json.loads(download(wallet_pass)["pass.json"]), "primaryFields")[0]
    assert points["changeMessage"] == "Balance: %@"

    # The merchant's own message stays as they wrote it.
    draft = design_services.draft_for(merchant=apple_merchant, actor=owner)
    draft.change_message = "Теперь у вас %@ баллов"
    design_services.save_draft(merchant=apple_merchant, design=draft, locations=[], actor=owner)
    design_services.publish(merchant=apple_merchant, actor=owner)
    points = fields(json.loads(download(wallet_pass)["pass.json"]), "primaryFields")[0]
    assert points["changeMessage"] == "Теперь у вас %@ баллов"


def designer_form(client) -> dict:
    """The designer's form as a browser submits it unchanged."""
    response = client.get(reverse("design"))
    assert response.status_code == 200
    form, data = response.context["form"], {}
    for name in form.fields:
        value = form[name].value()
        if name in ("logo", "icon", "strip") or value is False:
            continue
        if name == "locations":
            data[name] = [str(getattr(v, "pk", v)) for v in (value or [])]
        else:
            data[name] = "on" if value is True else ("" if value is None else value)
    return data


def test_without_a_design_the_pass_is_what_a_published_default_design_gives(apple_merchant, card, owner):
    wallet_pass = passes.wallet_pass_for(card=card)
    before = json.loads(download(wallet_pass)["pass.json"])
    # The merchant's geocoded active locations are on the lock screen, and on the back.
    assert len(before["locations"]) == 2
    back = {f["key"]: f["value"] for f in fields(before, "backFields")}
    assert "Тверская" in back["contacts"] and "Арбат, 10" in back["contacts"]

    # The owner opens the designer and publishes it as it comes.
    designer = logged_in(owner)
    assert designer.post(reverse("design"), dict(designer_form(designer), action="publish")).status_code == 302
    assert CardDesign.objects.get(merchant=apple_merchant).version == 1
    after = json.loads(download(wallet_pass)["pass.json"])
    assert after["locations"] == before["locations"]
    assert after["storeCard"] == before["storeCard"]


# --- 8: a .cer without its key ------------------------------------------------------------------------


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_certificate_without_its_key_says_the_key_is_missing(merchant, owner, pki, wallet_settings):
    from cryptography.hazmat.primitives import serialization

    cer = pki.pass_cert.cert.public_bytes(serialization.Encoding.DER)  # what Apple's portal gives
    response = logged_in(owner).post(
        reverse("wallet_apple_upload"), {"certificate": SimpleUploadedFile("pass.cer", cer), "password": ""}
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "private key is missing" in text
    assert "password is wrong" not in text
    assert not WalletCredentials.objects.filter(merchant=merchant, apple_certificate__isnull=False).exists()


@pytest.mark.parametrize(
    "language, words",
    [
        ("en", ["Certificate Signing Request", "Pass Type ID", ".p12", "Keychain Access"]),
        ("ru", ["запрос на подпись сертификата", "Pass Type ID", ".p12", "«Связк"]),
    ],
)
def test_credentials_page_explains_how_to_get_a_pass_certificate(owner, wallet_settings, language, words):
    client = logged_in(owner)
    client.cookies["django_language"] = language
    page = client.get(reverse("wallet_settings"), headers={"Accept-Language": language})
    assert page.status_code == 200
    steps = re.search(r'<ol[^>]*data-testid="apple-howto"[^>]*>(.*?)</ol>', page.content.decode(), re.S)
    assert steps, "no how-to steps on the page"
    assert len(re.findall(r"<li", steps.group(1))) >= 3
    for word in words:
        assert word in steps.group(1), word


# --- 10: Google Wallet, a publish reaches objects already saved ----------------------------------------


def test_publish_reaches_google_objects_already_saved(
    google_merchant, owner, location, pos_card, fake_google, eager_celery, django_capture_on_commit_callbacks
):
    wallet_pass = passes.wallet_pass_for(card=pos_card)
    assert Client().get(reverse("wallet_google_save", args=[wallet_pass.web_token])).status_code == 302
    object_id = f"{ISSUER_ID}.{wallet_pass.serial_number}"
    class_id = fake_google.objects[object_id]["classId"]
    fake_google.objects[object_id]["hasUsers"] = True  # the customer saved it

    draft = design_services.draft_for(merchant=google_merchant, actor=owner)
    draft.background_color = "#123456"
    draft.program_name = "Зерно Клуб"
    design_services.save_draft(merchant=google_merchant, design=draft, locations=[], actor=owner)
    fake_google.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        design_services.publish(merchant=google_merchant, actor=owner)

    # The saved object stays in its class, and that class now shows the new design.
    assert fake_google.objects[object_id]["classId"] == class_id
    assert not [c for c in fake_google.calls_to("PATCH", "/walletobjects/v1/loyaltyObject") if "classId" in c.body
                and c.body["classId"] != class_id]  # fmt: skip
    assert fake_google.classes[class_id]["hexBackgroundColor"] == "#123456"
    assert fake_google.classes[class_id]["programName"] == "Зерно Клуб"
    assert list(fake_google.classes) == [class_id], "one class per program"

    # A customer who saves the card after the publish joins the same class.
    newcomer = enroll_customer(merchant=google_merchant, phone="+79160001122", location=location)
    second = passes.wallet_pass_for(card=newcomer)
    assert Client().get(reverse("wallet_google_save", args=[second.web_token])).status_code == 302
    assert fake_google.objects[f"{ISSUER_ID}.{second.serial_number}"]["classId"] == class_id
