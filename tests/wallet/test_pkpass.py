import hashlib
import io
import json
import subprocess
import zipfile
from dataclasses import replace
from decimal import Decimal

import pytest

from loyalty.wallet import apple, certificates
from loyalty.wallet.apple import PassContent, PassContentError, PassLocation
from tests.commands import needs_command

CONTENT = PassContent(
    serial_number="c0ffee-0001",
    authentication_token="a" * 32,
    organization_name="Кофейня «Зерно»",
    description="Карта лояльности «Зерно»",
    barcode_message="ZRN-0001-7731",
    barcode_alt_text="0001 7731",
    background_color="#3b2417",
    foreground_color="#ffffff",
    label_color="#e8d5c0",
    points=1250,
    tier="Золото",
    customer_name="Анна",
    terms="1 балл за каждые 10 ₽.\nБаллы сгорают через год.",
    contacts="Тверская, 1",
    website="https://zerno.example",
    phone="+7 495 000-00-00",
    locations=(PassLocation(Decimal("55.7558"), Decimal("37.6173"), "Заходите за кофе"),),
    web_service_url="https://api.example/wallet/m42/",
)


@pytest.fixture
def pkpass(signer, pki, card_images):
    return apple.build_pkpass(CONTENT, images=card_images, signer=signer, wwdr=pki.wwdr.cert)


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_pass_passes_structural_validation(pkpass):
    assert apple.validate_pkpass(pkpass) == []


def test_archive_contents_and_pass_json(pkpass, pki):
    files = unzip(pkpass)
    assert {"pass.json", "manifest.json", "signature", "icon.png", "icon@2x.png", "icon@3x.png", "strip@3x.png"} <= set(
        files
    )
    assert {"ru.lproj/pass.strings", "en.lproj/pass.strings"} <= set(files)
    data = json.loads(files["pass.json"])
    assert data["passTypeIdentifier"] == pki.pass_type_identifier
    assert data["teamIdentifier"] == pki.team_identifier
    assert data["backgroundColor"] == "rgb(59, 36, 23)"
    assert data["barcodes"] == [
        {
            "format": "PKBarcodeFormatQR",
            "message": "ZRN-0001-7731",
            "messageEncoding": "iso-8859-1",
            "altText": "0001 7731",
        }
    ]
    card = data["storeCard"]
    assert card["primaryFields"][0]["value"] == 1250
    assert card["primaryFields"][0]["changeMessage"] == "Balance: %@"
    assert card["secondaryFields"][0]["changeMessage"] == "Your tier: %@"
    assert [f["key"] for f in card["backFields"]] == ["terms", "contacts", "website", "phone"]
    assert data["locations"] == [{"latitude": 55.7558, "longitude": 37.6173, "relevantText": "Заходите за кофе"}]
    assert data["webServiceURL"] == "https://api.example/wallet/m42/"
    assert "voided" not in data
    assert not files["pass.json"].startswith(b"\xef\xbb\xbf")
    ru = files["ru.lproj/pass.strings"].decode()
    assert '"Balance: %@" = "Баланс: %@";' in ru


def test_manifest_lists_sha1_of_every_other_file(pkpass):
    files = unzip(pkpass)
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(files) - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest


def test_build_is_deterministic_apart_from_the_signature(signer, pki, card_images):
    one = unzip(apple.build_pkpass(CONTENT, images=card_images, signer=signer, wwdr=pki.wwdr.cert))
    two = unzip(apple.build_pkpass(CONTENT, images=card_images, signer=signer, wwdr=pki.wwdr.cert))
    assert one.keys() == two.keys()
    assert {n: d for n, d in one.items() if n != "signature"} == {n: d for n, d in two.items() if n != "signature"}


openssl = needs_command("openssl")


def _smime_verify(tmp_path, files, pki):
    (tmp_path / "signature").write_bytes(files["signature"])
    (tmp_path / "manifest.json").write_bytes(files["manifest.json"])
    return subprocess.run(
        [
            "openssl", "smime", "-verify", "-binary", "-inform", "DER",
            "-in", str(tmp_path / "signature"), "-content", str(tmp_path / "manifest.json"),
            "-CAfile", str(pki.files["root"]), "-purpose", "any", "-out", "/dev/null",
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip


@openssl
def test_signature_verifies_with_openssl_against_the_root(pkpass, pki, tmp_path):
    result = _smime_verify(tmp_path, unzip(pkpass), pki)
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr


@openssl
def test_flipping_a_manifest_byte_breaks_the_signature(pkpass, pki, tmp_path):
    files = unzip(pkpass)
    manifest = bytearray(files["manifest.json"])
    manifest[10] ^= 0x01
    files["manifest.json"] = bytes(manifest)
    result = _smime_verify(tmp_path, files, pki)
    assert result.returncode != 0
    assert "digest failure" in result.stderr


@openssl
def test_signature_has_signing_time_digest_and_both_certificates(pkpass, tmp_path):
    (tmp_path / "signature").write_bytes(unzip(pkpass)["signature"])
    printed = subprocess.run(
        ["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", str(tmp_path / "signature")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "signingTime" in printed
    assert "messageDigest" in printed
    assert "eContent: <ABSENT>" in printed
    assert "sha256" in printed
    assert "Apple Worldwide Developer Relations Certification Authority" in printed
    assert "Pass Type ID: pass.com.example.loyalty" in printed


@openssl
def test_newlines_in_manifest_survive_thanks_to_binary(signer, pki, tmp_path):
    # The manifest is pretty-printed (LF line ends); without Binary it would fail.
    manifest = apple.manifest_for({"pass.json": b"{}", "icon.png": b"x"})
    assert b"\n" in manifest
    files = {"manifest.json": manifest, "signature": apple.sign_manifest(manifest, signer, pki.wwdr.cert)}
    assert _smime_verify(tmp_path, files, pki).returncode == 0


def test_validator_catches_a_tampered_manifest(pkpass):
    files = unzip(pkpass)
    manifest = json.loads(files["manifest.json"])
    manifest["icon.png"] = "0" * 40
    files["manifest.json"] = json.dumps(manifest).encode()
    problems = apple.validate_pkpass(_rezip(files))
    assert "manifest hash wrong for icon.png" in problems
    assert any("did not verify" in p for p in problems)


def test_validator_catches_a_changed_pass_json(pkpass):
    files = unzip(pkpass)
    files["pass.json"] = files["pass.json"].replace(b"1250", b"9999")
    assert apple.validate_pkpass(_rezip(files)) == ["manifest hash wrong for pass.json"]


def test_validator_catches_stray_and_missing_files(pkpass):
    files = unzip(pkpass)
    del files["icon.png"]
    files[".DS_Store"] = b""
    problems = apple.validate_pkpass(_rezip(files))
    assert "missing icon.png" in problems
    assert "stray file .DS_Store" in problems


def test_validator_rejects_a_pass_signed_by_a_wrong_uid_certificate(pki, card_images):
    # A signer that claims the right identifier but whose certificate UID differs.
    wrong = certificates.PassCertificate(
        certificate=pki.wrong_uid.cert,
        private_key=pki.wrong_uid.key,
        pass_type_identifier=pki.pass_type_identifier,
        team_identifier=pki.team_identifier,
        not_valid_after=pki.wrong_uid.cert.not_valid_after_utc,
    )
    data = apple.build_pkpass(CONTENT, images=card_images, signer=wrong, wwdr=pki.wwdr.cert)
    assert apple.validate_pkpass(data) == ["The passTypeIdentifier does not match the certificate UID"]


def test_validator_rejects_an_expired_signer(pki, card_images):
    expired = certificates.validate(pki.expired.cert, pki.expired.key, check_validity=False)
    data = apple.build_pkpass(CONTENT, images=card_images, signer=expired, wwdr=pki.wwdr.cert)
    assert apple.validate_pkpass(data) == ["signer certificate is expired or not yet valid"]


def test_validator_rejects_a_signature_without_the_intermediate(signer, pki, card_images):
    files = unzip(apple.build_pkpass(CONTENT, images=card_images, signer=signer, wwdr=pki.root.cert))
    problems = apple.validate_pkpass(_rezip(files))
    assert "WWDR intermediate missing from the signature" in problems


def _rezip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_stamp_card_puts_the_count_below_the_strip(signer, pki, card_images):
    content = replace(CONTENT, points=None, stamps=4, stamps_goal=6)
    data = json.loads(
        unzip(apple.build_pkpass(content, images=card_images, signer=signer, wwdr=pki.wwdr.cert))["pass.json"]
    )
    assert "primaryFields" not in data["storeCard"]
    assert data["storeCard"]["secondaryFields"][0] == {
        "key": "stamps", "label": "Stamps", "value": "4 / 6", "changeMessage": "Stamps: %@"
    }  # fmt: skip


def test_blocked_card_is_voided(signer, pki, card_images):
    data = apple.build_pkpass(replace(CONTENT, voided=True), images=card_images, signer=signer, wwdr=pki.wwdr.cert)
    assert json.loads(unzip(data)["pass.json"])["voided"] is True
    assert apple.validate_pkpass(data) == []


@pytest.mark.parametrize("fmt,expected", [("pdf417", "PKBarcodeFormatPDF417"), ("code128", "PKBarcodeFormatCode128")])
def test_barcode_formats(fmt, expected):
    data = apple.pass_json(replace(CONTENT, barcode_format=fmt), pass_type_identifier="pass.x", team_identifier="T")
    assert data["barcodes"][0]["format"] == expected


def test_custom_change_message(signer):
    data = apple.pass_json(
        replace(CONTENT, balance_change_message="Теперь у вас %@ баллов"), pass_type_identifier="p", team_identifier="t"
    )
    assert data["storeCard"]["primaryFields"][0]["changeMessage"] == "Теперь у вас %@ баллов"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"balance_change_message": "Balance changed"}, "must contain %@"),
        ({"web_service_url": "https://api.example/wallet/v1/"}, "must not include v1"),
        ({"authentication_token": "short"}, "at least 16"),
        ({"web_service_url": ""}, "go together"),
        ({"locations": tuple(PassLocation(Decimal(1), Decimal(2)) for _ in range(11))}, "at most 10"),
        ({"barcode_format": "datamatrix"}, "barcode format"),
        ({"barcode_message": "Карта"}, "Latin-1"),
        ({"background_color": "brown"}, "colour"),
    ],
)
def test_bad_content_is_refused(changes, message):
    with pytest.raises(PassContentError, match=message):
        apple.pass_json(replace(CONTENT, **changes), pass_type_identifier="p", team_identifier="t")


def test_icon_is_required(signer, pki, card_images):
    without_icon = {n: d for n, d in card_images.items() if not n.startswith("icon")}
    with pytest.raises(PassContentError, match="icon.png is required"):
        apple.build_pkpass(CONTENT, images=without_icon, signer=signer, wwdr=pki.wwdr.cert)


def test_bundled_wwdr_is_apple_g4():
    cert = apple.wwdr_certificate()
    assert format(cert.serial_number, "X") == "13DC77955271E53DC632E8CCFFE521F3CCC5CED2"
    assert cert.not_valid_after_utc.year == 2030
    assert (
        cert.fingerprint(__import__("cryptography.hazmat.primitives.hashes", fromlist=["SHA256"]).SHA256())
        .hex(":")
        .upper()
        .startswith("EA:47:57:88")
    )


# --- prepared images (one design, many passes) -------------------------------------------------


def test_every_entry_is_stored_not_deflated(pkpass):
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        assert archive.testzip() is None
        infos = archive.infolist()
    assert {info.filename for info in infos} >= {"pass.json", "manifest.json", "signature", "icon.png"}
    assert [info.filename for info in infos if info.compress_type != zipfile.ZIP_STORED] == []
    assert all(info.file_size == info.compress_size for info in infos)


@needs_command("unzip")
def test_unzip_reads_the_stored_archive(pkpass, tmp_path):
    (tmp_path / "card.pkpass").write_bytes(pkpass)
    tested = subprocess.run(["unzip", "-t", str(tmp_path / "card.pkpass")], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "No errors detected" in tested.stdout


def test_prepared_images_make_the_same_archive_as_plain_ones(signer, pki, card_images):
    prepared = apple.prepare_images(card_images)
    assert dict(prepared) == card_images
    assert apple.prepare_images(prepared) is prepared
    plain = unzip(apple.build_pkpass(CONTENT, images=card_images, signer=signer, wwdr=pki.wwdr.cert))
    reused = unzip(apple.build_pkpass(CONTENT, images=prepared, signer=signer, wwdr=pki.wwdr.cert))
    assert {n: d for n, d in plain.items() if n != "signature"} == {n: d for n, d in reused.items() if n != "signature"}
    assert reused["manifest.json"] == apple.manifest_for(
        {n: d for n, d in reused.items() if n != "manifest.json" and n != "signature"}
    )


@openssl
def test_many_passes_from_one_prepared_set_are_each_valid(signer, pki, card_images, tmp_path):
    prepared = apple.prepare_images(card_images)
    built = [
        apple.build_pkpass(
            replace(CONTENT, serial_number=f"card-{n}", points=n), images=prepared, signer=signer, wwdr=pki.wwdr.cert
        )
        for n in range(3)
    ]
    for data in built:
        assert apple.validate_pkpass(data) == []
        files = unzip(data)
        assert _smime_verify(tmp_path, files, pki).returncode == 0
        assert {name: files[name] for name in card_images} == card_images
    assert len({unzip(data)["pass.json"] for data in built}) == 3


def test_prepared_images_are_checked_like_plain_ones(card_images):
    with pytest.raises(PassContentError, match="unexpected image name"):
        apple.prepare_images({**card_images, "background.jpg": b"x"})
    with pytest.raises(PassContentError, match="icon.png is required"):
        apple.prepare_images({n: d for n, d in card_images.items() if not n.startswith("icon")})


# --- the signature template (RSA signers) ------------------------------------------------------


def test_signature_is_byte_for_byte_what_cryptography_makes_at_the_same_second(signer, pki, monkeypatch):
    manifest = apple.manifest_for({"pass.json": b'{"a":1}', "icon.png": b"x"})
    template = apple._signature_template(signer, pki.wwdr.cert)
    assert template is not None  # RSA signers are signed from the template, not by a fallback
    reference = apple._cryptography_signature(manifest, signer, pki.wwdr.cert)
    signed_at = apple.dt.datetime.strptime(reference[template.time].decode(), "%y%m%d%H%M%SZ")
    monkeypatch.setattr(apple, "_utc_now", lambda: signed_at.replace(tzinfo=apple.dt.UTC))
    assert apple.sign_manifest(manifest, signer, pki.wwdr.cert) == reference


@openssl
def test_signatures_from_the_template_differ_per_manifest_and_verify(signer, pki, tmp_path):
    manifests = [apple.manifest_for({"pass.json": b'{"n":%d}' % n, "icon.png": b"x"}) for n in range(3)]
    signatures = [apple.sign_manifest(manifest, signer, pki.wwdr.cert) for manifest in manifests]
    assert len(set(signatures)) == 3
    for manifest, signature in zip(manifests, signatures, strict=True):
        assert _smime_verify(tmp_path, {"manifest.json": manifest, "signature": signature}, pki).returncode == 0
    # and not for another pass's manifest
    mixed = {"manifest.json": manifests[0], "signature": signatures[1]}
    assert "digest failure" in _smime_verify(tmp_path, mixed, pki).stderr


@openssl
def test_an_ec_signer_is_signed_by_cryptography_directly(pki, card_images, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.fakes.pki import issue_pass_certificate

    issued = issue_pass_certificate(pki.wwdr, uid=pki.pass_type_identifier, key=ec.generate_private_key(ec.SECP256R1()))
    signer = certificates.validate(issued.cert, issued.key)
    assert apple._signature_template(signer, pki.wwdr.cert) is None
    data = apple.build_pkpass(CONTENT, images=card_images, signer=signer, wwdr=pki.wwdr.cert)
    assert apple.validate_pkpass(data) == []
    assert _smime_verify(tmp_path, unzip(data), pki).returncode == 0
