import base64
import json

import pytest
from google.auth import crypt, jwt

from loyalty.wallet import google
from loyalty.wallet.google import (
    CredentialsError,
    GoogleWalletClient,
    LoyaltyClassContent,
    LoyaltyObjectContent,
    NotFound,
    QuotaExceeded,
    RetryableError,
    WalletMessage,
)

ISSUER = "3388000000022212345"
CLASS_ID = google.resource_id(ISSUER, "zerno-v1")
OBJECT_ID = google.resource_id(ISSUER, "card-7f3a9c2e")

CLASS = LoyaltyClassContent(
    class_id=CLASS_ID,
    issuer_name="Кофейня «Зерно»",
    program_name="Зерно: бонусы",
    logo_url="https://loyalty.example/media/zerno/google-logo.png",
    hero_url="https://loyalty.example/media/zerno/google-hero.png",
    background_color="#3B2417",
    account_name_label="Владелец",
    rewards_tier_label="Уровень",
    terms="1 балл за каждые 10 ₽",
    website="https://zerno.example",
    phone="+7 (495) 000-00-00",
)
OBJECT = LoyaltyObjectContent(
    object_id=OBJECT_ID,
    class_id=CLASS_ID,
    barcode_value="ZRN-0001-7731",
    barcode_alt_text="0001 7731",
    account_id="0001 7731",
    account_name="Анна",
    points=1250,
    points_label="Баллы",
    tier="Золото",
    tier_label="Уровень",
)


@pytest.fixture
def client(fake_google):
    with GoogleWalletClient(fake_google.service_account_info()) as client:
        yield client


def test_class_json():
    data = google.loyalty_class_json(CLASS)
    assert data["id"] == CLASS_ID
    assert data["hexBackgroundColor"] == "#3b2417"
    assert data["reviewStatus"] == "UNDER_REVIEW"
    assert data["programLogo"]["sourceUri"]["uri"].endswith("google-logo.png")
    assert data["heroImage"]["sourceUri"]["uri"].endswith("google-hero.png")
    assert data["linksModuleData"]["uris"][1]["uri"] == "tel:+74950000000"


def test_object_json_active_and_blocked():
    data = google.loyalty_object_json(OBJECT)
    assert data["state"] == "ACTIVE"
    assert data["loyaltyPoints"] == {"label": "Баллы", "balance": {"int": 1250}}
    assert data["secondaryLoyaltyPoints"]["balance"] == {"string": "Золото"}
    assert data["barcode"] == {"type": "QR_CODE", "value": "ZRN-0001-7731", "alternateText": "0001 7731"}
    from dataclasses import replace

    blocked = google.loyalty_object_json(replace(OBJECT, active=False, barcode_type="code128"))
    assert blocked["state"] == "INACTIVE"
    assert blocked["barcode"]["type"] == "CODE_128"
    stamps = google.loyalty_object_json(replace(OBJECT, points=None, stamps=4, stamps_goal=6))
    assert stamps["loyaltyPoints"]["balance"] == {"string": "4 / 6"}


def test_resource_ids_are_checked():
    with pytest.raises(ValueError):
        google.resource_id(ISSUER, "bad id/with slash")
    with pytest.raises(ValueError):
        google.resource_id("not-digits", "ok")


def test_token_is_fetched_with_a_signed_assertion_then_class_and_object_inserted(client, fake_google):
    created_class = client.insert_class(google.loyalty_class_json(CLASS))
    created = client.insert_object(google.loyalty_object_json(OBJECT))

    assert created_class["id"] == CLASS_ID
    assert created["id"] == OBJECT_ID
    assert fake_google.objects[OBJECT_ID]["loyaltyPoints"]["balance"] == {"int": 1250}
    # The fake verified the RS256 assertion against the service account's public key.
    [assertion] = fake_google.assertions
    assert assertion["scope"] == google.SCOPE
    assert assertion["iss"] == "wallet@loyalty-test.iam.gserviceaccount.com"
    api_calls = [c for c in fake_google.calls if c.path != "/token"]
    assert [c.status for c in api_calls] == [200, 200]
    assert all(c.authorization == f"Bearer {fake_google.tokens_issued[0]}" for c in api_calls)


def test_second_insert_patches_instead(client, fake_google):
    client.insert_class(google.loyalty_class_json(CLASS))
    client.insert_object(google.loyalty_object_json(OBJECT))
    from dataclasses import replace

    again = client.insert_object(google.loyalty_object_json(replace(OBJECT, points=1300)))

    assert again["loyaltyPoints"]["balance"] == {"int": 1300}
    assert [c.status for c in fake_google.calls_to("POST", "/walletobjects/v1/loyaltyObject")] == [200, 409]
    assert len(fake_google.calls_to("PATCH", f"/walletobjects/v1/loyaltyObject/{OBJECT_ID}")) == 1


def test_patch_merges_objects_and_replaces_arrays(client, fake_google):
    client.insert_class(google.loyalty_class_json(CLASS))
    client.insert_object({**google.loyalty_object_json(OBJECT), "textModulesData": [{"id": "a"}, {"id": "b"}]})

    patched = client.patch_object(
        OBJECT_ID, {"loyaltyPoints": {"balance": {"int": 1400}}, "textModulesData": [{"id": "c"}]}
    )

    assert patched["loyaltyPoints"] == {"label": "Баллы", "balance": {"int": 1400}}
    assert patched["textModulesData"] == [{"id": "c"}]
    assert client.get_object(OBJECT_ID)["loyaltyPoints"]["balance"] == {"int": 1400}


def test_unknown_object_is_not_found(client):
    with pytest.raises(NotFound):
        client.get_object(google.resource_id(ISSUER, "missing"))


def test_fourth_notification_in_a_day_is_quota_exceeded(client, fake_google):
    client.insert_class(google.loyalty_class_json(CLASS))
    client.insert_object(google.loyalty_object_json(OBJECT))
    for n in range(3):
        client.add_message(OBJECT_ID, WalletMessage(f"m{n}", "Зерно", "Скидка"), message_type="TEXT_AND_NOTIFY")

    with pytest.raises(QuotaExceeded) as info:
        client.add_message(OBJECT_ID, WalletMessage("m3", "Зерно", "Скидка"), message_type="TEXT_AND_NOTIFY")
    assert info.value.status == 403

    # Silent messages are still accepted.
    client.add_message(OBJECT_ID, WalletMessage("m4", "Зерно", "Скидка"), message_type="TEXT")
    assert [m["id"] for m in fake_google.objects[OBJECT_ID]["messages"]] == ["m0", "m1", "m2", "m4"]


def test_budget_helper():
    assert [google.notification_message_type(n) for n in range(5)] == [
        "TEXT_AND_NOTIFY", "TEXT_AND_NOTIFY", "TEXT_AND_NOTIFY", "TEXT", "TEXT"
    ]  # fmt: skip


def test_send_message_respects_the_budget_and_falls_back_on_quota(client, fake_google):
    client.insert_class(google.loyalty_class_json(CLASS))
    client.insert_object(google.loyalty_object_json(OBJECT))

    assert client.send_message(OBJECT_ID, WalletMessage("a", "h", "b"), sent_last_24h=3) == "TEXT"
    # Our count says 0 but Google has seen three (e.g. sent from elsewhere): fall back to TEXT.
    for n in range(3):
        client.add_message(OBJECT_ID, WalletMessage(f"n{n}", "h", "b"), message_type="TEXT_AND_NOTIFY")
    assert client.send_message(OBJECT_ID, WalletMessage("b", "h", "b"), sent_last_24h=0) == "TEXT"
    types = [m["messageType"] for m in fake_google.objects[OBJECT_ID]["messages"]]
    assert types == ["TEXT", "TEXT_AND_NOTIFY", "TEXT_AND_NOTIFY", "TEXT_AND_NOTIFY", "TEXT"]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_retryable(client, fake_google, status):
    fake_google.fail_next("POST", "/walletobjects/v1/loyaltyClass", status)
    with pytest.raises(RetryableError) as info:
        client.insert_class(google.loyalty_class_json(CLASS))
    assert info.value.status == status
    # And the next attempt goes through.
    assert client.insert_class(google.loyalty_class_json(CLASS))["id"] == CLASS_ID


def test_403_without_quota_is_a_plain_error(client, fake_google):
    fake_google.fail_next("POST", "/walletobjects/v1/loyaltyClass", 403, "The caller does not have permission")
    with pytest.raises(google.GoogleWalletError) as info:
        client.insert_class(google.loyalty_class_json(CLASS))
    assert not isinstance(info.value, QuotaExceeded | RetryableError)


def test_an_assertion_with_a_bad_signature_is_a_credentials_error(fake_google):
    # A known key id, but signed with some other private key: the signature check must catch it.
    stranger = fake_google.service_account_info()
    stranger["private_key"] = fake_google.service_account_info()["private_key"]
    with GoogleWalletClient(stranger) as client, pytest.raises(CredentialsError):
        client.insert_class(google.loyalty_class_json(CLASS))
    assert fake_google.tokens_issued == []
    assert not fake_google.classes


def test_garbage_key_is_refused():
    with pytest.raises(CredentialsError):
        GoogleWalletClient({"type": "service_account", "private_key": "nope"})


def test_unreachable_api_is_retryable(fake_google):
    with GoogleWalletClient(fake_google.service_account_info(), api_url="http://127.0.0.1:9/walletobjects/v1") as c:
        with pytest.raises(RetryableError):
            c.get_object(OBJECT_ID)


def _segment(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_skinny_save_link(fake_google, settings):
    settings.GOOGLE_WALLET_SAVE_URL = "https://pay.google.com/gp/v/save/"
    info = fake_google.service_account_info()

    url = google.save_link(info, [OBJECT_ID])

    assert url.startswith("https://pay.google.com/gp/v/save/")
    assert len(url) <= google.SAVE_LINK_MAX_LENGTH
    token = url.rsplit("/", 1)[1]
    header, claims = (_segment(p) for p in token.split(".")[:2])
    assert header == {"alg": "RS256", "typ": "JWT", "kid": info["private_key_id"]}
    assert claims["iss"] == info["client_email"]
    assert claims["aud"] == "google"
    assert claims["typ"] == "savetowallet"
    assert claims["origins"] == []
    assert claims["payload"] == {"loyaltyObjects": [{"id": OBJECT_ID}]}
    # The signature verifies with the service account's public key.
    verifier = crypt.RSAVerifier.from_string(fake_google.public_key(info["private_key_id"]))
    signed, signature = token.rsplit(".", 1)
    assert verifier.verify(signed.encode(), base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    assert jwt.decode(token, verify=False)["payload"] == claims["payload"]


def test_save_link_refuses_to_exceed_the_limit(fake_google):
    info = fake_google.service_account_info()
    many = [google.resource_id(ISSUER, f"card-{n:040d}") for n in range(30)]
    with pytest.raises(ValueError, match="1800"):
        google.save_link(info, many)


def test_client_save_link_uses_its_key(client):
    url = client.save_link([OBJECT_ID], origins=["https://loyalty.example"])
    claims = jwt.decode(url.rsplit("/", 1)[1], verify=False)
    assert claims["origins"] == ["https://loyalty.example"]
