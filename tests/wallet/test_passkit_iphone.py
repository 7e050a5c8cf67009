"""Acting as an iPhone, end to end: the customer downloads the pass, its
signature verifies with openssl against the throwaway CA, the device
registers; a purchase through the POS API pushes to the fake APNs (HTTP/2
over TLS) with the pass type id as topic and the device's token; the device
lists the serials updated since its tag, downloads the new pass with the new
balance, gets 304 for an unchanged one and 401 with a wrong token; a 410 from
APNs removes the registration."""

# ruff: noqa: F811  (fixtures imported from support modules)

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from loyalty.models import AppleDevice, AppleRegistration, Delivery, WalletPass
from loyalty.wallet import apns, apple
from loyalty.wallet.passes import wallet_pass_for
from tests.commands import needs_command
from tests.fakes.apns import unregistered
from tests.loyalty.api_support import pos, pos_card, pos_key, pos_program  # noqa: F401
from tests.wallet.pipeline_support import (  # noqa: F401
    IPhone,
    apple_merchant,
    eager_celery,
    unzip,
    wallet_settings,
)

pytestmark = pytest.mark.django_db


def buy(pos, card, bill: str):
    response = pos.post(
        "/purchases/", {"card_number": card.number, "bill_amount": bill, "receipt_id": f"R-{uuid.uuid4().hex[:8]}"}
    )
    assert response.status_code == 201, response.content
    return response.json()


def openssl_verify(files: dict[str, bytes], tmp_path, root_pem) -> subprocess.CompletedProcess:
    (tmp_path / "manifest.json").write_bytes(files["manifest.json"])
    (tmp_path / "signature").write_bytes(files["signature"])
    return subprocess.run(
        [
            "openssl", "smime", "-verify", "-binary", "-inform", "DER",
            "-in", str(tmp_path / "signature"), "-content", str(tmp_path / "manifest.json"),
            "-CAfile", str(root_pem), "-purpose", "any", "-out", "/dev/null",
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip


@needs_command("openssl", reason="needs the openssl command")
def test_iphone_download_register_purchase_push_update(
    apple_merchant, pos, pos_card, pki, apns_server, eager_celery, tmp_path, django_capture_on_commit_callbacks
):
    # A fresh APNs connection, so that its TLS handshake (client certificate) is seen below.
    apns.close_connections()
    apns_server.reset()

    # given: the customer taps "Add to Apple Wallet" on the enrolment page
    wallet_pass = wallet_pass_for(card=pos_card)
    response = Client().get(reverse("wallet_apple_pass", args=[wallet_pass.web_token]))
    assert response.status_code == 200
    assert response["Content-Type"] == apple.PKPASS_MIME_TYPE
    files = unzip(response.content)

    # the pass is what an iPhone accepts: signed by the pass certificate, chained to the CA
    assert apple.validate_pkpass(response.content) == []
    verified = openssl_verify(files, tmp_path, pki.files["root"])
    assert verified.returncode == 0, verified.stderr
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(files) - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest, name
    pass_json = json.loads(files["pass.json"])
    assert pass_json["passTypeIdentifier"] == pki.pass_type_identifier
    assert pass_json["teamIdentifier"] == pki.team_identifier
    assert pass_json["webServiceURL"] == "https://loyalty.test/wallet/passkit/"
    assert pass_json["storeCard"]["primaryFields"][0]["value"] == 0
    assert pass_json["barcodes"][0]["message"] == pos_card.barcode

    # a tampered manifest fails the same check (so the check can fail)
    tampered = dict(files, **{"manifest.json": files["manifest.json"].replace(b'"icon.png"', b'"icon.pnG"')})
    assert openssl_verify(tampered, tmp_path, pki.files["root"]).returncode != 0

    # when: the device registers for updates
    phone = IPhone(pass_json["webServiceURL"], pass_json["authenticationToken"])
    pass_type, serial = pass_json["passTypeIdentifier"], pass_json["serialNumber"]
    assert phone.register(pass_type, serial, token="wrong-token-0123456789").status_code == 401
    assert phone.register(pass_type, serial).status_code == 201
    assert phone.register(pass_type, serial).status_code == 200
    first_list = phone.serials(pass_type)
    assert first_list.status_code == 200
    assert first_list.json()["serialNumbers"] == [serial]
    tag = first_list.json()["lastUpdated"]
    assert isinstance(tag, str)
    assert phone.serials(pass_type, since=tag).status_code == 204
    original = phone.latest(pass_type, serial)
    assert original.status_code == 200
    first_modified = original["Last-Modified"]

    # and: a purchase at the till, through the POS API
    with django_capture_on_commit_callbacks(execute=True):
        body = buy(pos, pos_card, "500.00")
    assert body["card"]["balance"] == 25

    # then: the push reached APNs over HTTP/2 with the pass type id as topic and the device's token
    pushes = apns_server.requests_for(phone.push_token)
    assert len(pushes) == 1
    assert pushes[0].http_version == "2"
    assert pushes[0].topic == pki.pass_type_identifier
    assert pushes[0].body == b"{}"
    # …over TLS whose client certificate is the pass certificate
    assert [h.get("userId") for h in apns_server.handshakes] == [pki.pass_type_identifier]
    delivery = Delivery.objects.get(wallet_pass=wallet_pass, channel=Delivery.Channel.APPLE)
    assert delivery.status == Delivery.Status.OK and delivery.device is not None

    # the device asks what changed since its tag: this card
    changed = phone.serials(pass_type, since=tag)
    assert changed.status_code == 200
    assert changed.json()["serialNumbers"] == [serial]
    assert int(changed.json()["lastUpdated"]) > int(tag)

    # and downloads the new pass, which shows the new balance
    updated = phone.latest(pass_type, serial, if_modified_since=first_modified)
    assert updated.status_code == 200
    assert updated["Content-Type"] == apple.PKPASS_MIME_TYPE
    new_json = json.loads(unzip(updated.content)["pass.json"])
    assert new_json["storeCard"]["primaryFields"][0]["value"] == 25
    assert new_json["serialNumber"] == serial and new_json["authenticationToken"] == phone.token
    assert apple.validate_pkpass(updated.content) == []
    assert updated["Last-Modified"] != first_modified
    wallet_pass.refresh_from_db()
    assert wallet_pass.last_fetched_at is not None

    # an unchanged pass answers 304; a wrong token 401
    assert phone.latest(pass_type, serial, if_modified_since=updated["Last-Modified"]).status_code == 304
    assert phone.latest(pass_type, serial, token="x" * 32).status_code == 401
    assert phone.latest(pass_type, serial, token="").status_code == 401

    # when: APNs says the device is gone (410)
    apns_server.script(phone.push_token, unregistered())
    with django_capture_on_commit_callbacks(execute=True):
        buy(pos, pos_card, "200.00")

    # then: the registration (and the device, which has no other) is removed
    assert not AppleRegistration.objects.filter(wallet_pass=wallet_pass).exists()
    assert not AppleDevice.objects.filter(device_library_identifier=phone.device_id).exists()
    assert Delivery.objects.filter(wallet_pass=wallet_pass, status=Delivery.Status.UNREGISTERED).count() == 1
    assert WalletPass.objects.get(pk=wallet_pass.pk).needs_sync_since is None
