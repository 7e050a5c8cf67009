import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization

from loyalty.wallet import certificates
from loyalty.wallet.certificates import CertificateError


def test_pkcs12_with_password_loads_and_extracts_identity(pki):
    data = pki.pass_cert.p12(b"s3cret", chain=[pki.wwdr.cert])

    loaded = certificates.load_pkcs12(data, "s3cret")

    assert loaded.pass_type_identifier == "pass.com.example.loyalty"
    assert loaded.team_identifier == "ABCDE12345"
    assert loaded.not_valid_after == pki.pass_cert.cert.not_valid_after_utc
    assert loaded.chain == (pki.wwdr.cert,)
    assert loaded.certificate == pki.pass_cert.cert


def test_pkcs12_without_password_loads(pki):
    loaded = certificates.load_pkcs12(pki.pass_cert.p12(None), None)
    assert loaded.pass_type_identifier == pki.pass_type_identifier


def test_pkcs12_wrong_password_is_a_clear_error(pki):
    with pytest.raises(CertificateError, match="password is wrong"):
        certificates.load_pkcs12(pki.pass_cert.p12(b"right"), "wrong")


def test_pem_cert_and_encrypted_key_load(pki):
    loaded = certificates.load_pem(pki.pass_cert.cert_pem, pki.pass_cert.key_pem(b"pw"), "pw")
    assert loaded.pass_type_identifier == pki.pass_type_identifier


def test_pem_key_and_cert_in_one_file_with_chain(pki):
    combined = pki.wwdr.cert_pem + pki.pass_cert.key_pem() + pki.pass_cert.cert_pem
    loaded = certificates.load_pem(combined)
    assert loaded.certificate == pki.pass_cert.cert
    assert loaded.chain == (pki.wwdr.cert,)


def test_der_certificate_with_pem_key(pki):
    der = pki.pass_cert.cert.public_bytes(serialization.Encoding.DER)
    loaded = certificates.load_upload(der, key_data=pki.pass_cert.key_pem())
    assert loaded.team_identifier == pki.team_identifier


def test_load_upload_tells_formats_apart(pki):
    assert certificates.load_upload(pki.pass_cert.p12(b"x"), "x").certificate == pki.pass_cert.cert
    pem = pki.pass_cert.cert_pem + pki.pass_cert.key_pem()
    assert certificates.load_upload(pem).certificate == pki.pass_cert.cert


@pytest.mark.parametrize(
    ("password", "message"),
    [(None, "encrypted: enter its password"), ("nope", "password for the private key is wrong")],
)
def test_encrypted_key_password_problems(pki, password, message):
    with pytest.raises(CertificateError, match=message):
        certificates.load_pem(pki.pass_cert.cert_pem, pki.pass_cert.key_pem(b"pw"), password)


def test_expired_certificate_is_rejected_with_its_date(pki):
    data = pki.expired.p12(b"pw")
    expected = pki.expired.cert.not_valid_after_utc.date().isoformat()
    with pytest.raises(CertificateError, match=f"expired on {expected}"):
        certificates.load_pkcs12(data, "pw")


def test_not_yet_valid_is_rejected(pki):
    too_early = pki.pass_cert.cert.not_valid_before_utc - dt.timedelta(days=2)
    with pytest.raises(CertificateError, match="not valid before"):
        certificates.load_pkcs12(pki.pass_cert.p12(None), None, now=too_early)


def test_wrong_eku_is_rejected(pki):
    with pytest.raises(CertificateError, match="not allowed to sign Wallet passes"):
        certificates.load_pem(pki.wrong_eku.cert_pem, pki.wrong_eku.key_pem())


def test_ordinary_certificate_is_not_a_pass_certificate(pki):
    with pytest.raises(CertificateError, match="not an Apple Pass Type ID certificate"):
        certificates.load_pem(pki.not_a_pass.cert_pem, pki.not_a_pass.key_pem())


def test_uid_disagreeing_with_name_is_rejected(pki):
    with pytest.raises(CertificateError, match="UID is pass.com.other.app but its name says pass.com.example.loyalty"):
        certificates.load_pem(pki.wrong_uid.cert_pem, pki.wrong_uid.key_pem())


def test_key_of_another_certificate_is_rejected(pki):
    with pytest.raises(CertificateError, match="does not belong to this certificate"):
        certificates.load_pem(pki.pass_cert.cert_pem, pki.expired.key_pem())


@pytest.mark.parametrize(
    "garbage",
    [b"", b"hello", b"\x30\x82\x01\x00garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
)
def test_garbage_is_rejected_with_a_message(garbage):
    with pytest.raises(CertificateError) as info:
        certificates.load_upload(garbage, "pw")
    assert info.value.message
    assert "Traceback" not in info.value.message


def test_pem_without_key_says_so(pki):
    with pytest.raises(CertificateError, match="No private key found"):
        certificates.load_pem(pki.pass_cert.cert_pem)


def test_bundle_round_trip_through_secretbox(pki):
    from merchants import secretbox

    loaded = certificates.load_pkcs12(pki.pass_cert.p12(b"pw", chain=[pki.wwdr.cert]), "pw")
    stored = secretbox.encrypt(loaded.to_bundle())
    assert b"PRIVATE KEY" not in stored

    back = certificates.load_bundle(secretbox.decrypt(stored))

    assert back.certificate == loaded.certificate
    assert back.chain == (pki.wwdr.cert,)
    assert back.pass_type_identifier == loaded.pass_type_identifier
    assert back.fingerprint == loaded.fingerprint
    assert back.private_key_pem() == loaded.private_key_pem()


def test_bundle_of_an_expired_certificate_still_loads_for_display(pki):
    expired = certificates.validate(pki.expired.cert, pki.expired.key, check_validity=False)
    back = certificates.load_bundle(expired.to_bundle())
    assert back.is_expired()
    assert back.days_left() < 0


def _bundle_with_a_broken_key(pki) -> bytes:
    """The pass certificate with a key OpenSSL's full RSA check rejects (a wrong CRT
    coefficient) although its public part still matches the certificate."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    numbers = pki.pass_cert.key.private_numbers()
    broken = rsa.RSAPrivateNumbers(
        numbers.p, numbers.q, numbers.d, numbers.dmp1, numbers.dmq1, numbers.iqmp + 1, numbers.public_numbers
    ).private_key(unsafe_skip_rsa_key_validation=True)
    key_pem = broken.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem + pki.pass_cert.cert_pem


def test_a_bundle_from_our_store_skips_the_rsa_key_check_an_upload_gets(pki):
    bundle = _bundle_with_a_broken_key(pki)
    # An upload (and an untrusted bundle) gets OpenSSL's full key check.
    with pytest.raises(CertificateError, match="private key could not be read"):
        certificates.load_bundle(bundle)
    with pytest.raises(CertificateError, match="private key could not be read"):
        certificates.load_pem(bundle)
    # Our own store was checked at upload and is authenticated: no second check.
    loaded = certificates.load_bundle(bundle, trusted=True)
    assert loaded.certificate == pki.pass_cert.cert


def test_a_trusted_bundle_still_needs_the_certificates_own_key(pki):
    bundle = pki.expired.key_pem() + pki.pass_cert.cert_pem
    with pytest.raises(CertificateError, match="does not belong"):
        certificates.load_bundle(bundle, trusted=True)
