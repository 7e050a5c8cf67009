"""A throwaway PKI shaped like Apple's (wallet spec §6.1).

A self-signed root, a "WWDR"-like intermediate with the real G4 subject, and
pass type ID certificates issued by the intermediate: a good one, an expired
one, one whose UID disagrees with its CN, and an e-mail certificate that is not
a pass certificate at all. RSA-2048, made once per test session.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

PASS_EKU = ObjectIdentifier("1.2.840.113635.100.4.14")
PASS_TYPE_EXTENSION = ObjectIdentifier("1.2.840.113635.100.6.1.16")

PASS_TYPE_IDENTIFIER = "pass.com.example.loyalty"
TEAM_IDENTIFIER = "ABCDE12345"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Issued:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, password: bytes | None = None) -> bytes:
        encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    def p12(self, password: bytes | None, chain: list[x509.Certificate] | None = None) -> bytes:
        encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        return pkcs12.serialize_key_and_certificates(b"pass", self.key, self.cert, chain, encryption)


@dataclass
class ThrowawayPKI:
    root: Issued
    wwdr: Issued
    pass_cert: Issued
    expired: Issued
    wrong_uid: Issued
    wrong_eku: Issued
    not_a_pass: Issued
    pass_type_identifier: str = PASS_TYPE_IDENTIFIER
    team_identifier: str = TEAM_IDENTIFIER
    files: dict[str, Path] = field(default_factory=dict)

    def write(self, directory: Path) -> dict[str, Path]:
        """root.pem, wwdr.pem and ca.pem (root + intermediate) for openssl and TLS servers."""
        directory.mkdir(parents=True, exist_ok=True)
        contents = {
            "root.pem": self.root.cert_pem,
            "wwdr.pem": self.wwdr.cert_pem,
            "ca.pem": self.root.cert_pem + self.wwdr.cert_pem,
        }
        for name, data in contents.items():
            (directory / name).write_bytes(data)
            self.files[name.removesuffix(".pem")] = directory / name
        return self.files


def _name(*attributes: tuple[ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _builder(subject: x509.Name, issuer: x509.Name, public_key, not_before: dt.datetime, not_after: dt.datetime):
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _key_usage(*, digital_signature: bool = False, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def issue_pass_certificate(
    issuer: Issued,
    *,
    uid: str,
    cn_identifier: str | None = None,
    extension_identifier: str | None = None,
    team: str = TEAM_IDENTIFIER,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key: rsa.RSAPrivateKey | None = None,
    eku: list[ObjectIdentifier] | None = None,
) -> Issued:
    now = dt.datetime.now(dt.UTC)
    key = key or new_key()
    cn_identifier = cn_identifier or uid
    extension_identifier = extension_identifier or cn_identifier
    subject = _name(
        (NameOID.USER_ID, uid),
        (NameOID.COMMON_NAME, f"Pass Type ID: {cn_identifier}"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, team),
        (NameOID.ORGANIZATION_NAME, "Example Coffee LLC"),
        (NameOID.COUNTRY_NAME, "US"),
    )
    # The pass EKU plus TLS client auth: the same certificate logs in to APNs, and
    # OpenSSL-based servers (our fake) refuse client certificates without it.
    encoded = extension_identifier.encode()
    cert = (
        _builder(
            subject,
            issuer.cert.subject,
            key.public_key(),
            not_before or now - dt.timedelta(days=1),
            not_after or now + dt.timedelta(days=365),
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage(eku or [PASS_EKU, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.UnrecognizedExtension(PASS_TYPE_EXTENSION, b"\x0c" + bytes([len(encoded)]) + encoded),
            critical=False,
        )
        .sign(issuer.key, hashes.SHA256())
    )
    return Issued(cert, key)


def make_pki(pass_type_identifier: str = PASS_TYPE_IDENTIFIER, team_identifier: str = TEAM_IDENTIFIER) -> ThrowawayPKI:
    now = dt.datetime.now(dt.UTC)
    root_key = new_key()
    root_name = _name((NameOID.COMMON_NAME, "Throwaway Test Root CA"), (NameOID.ORGANIZATION_NAME, "Tests"))
    root_cert = (
        _builder(
            root_name, root_name, root_key.public_key(), now - dt.timedelta(days=30), now + dt.timedelta(days=3650)
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    root = Issued(root_cert, root_key)

    wwdr_key = new_key()
    wwdr_name = _name(
        (NameOID.COMMON_NAME, "Apple Worldwide Developer Relations Certification Authority"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "G4"),
        (NameOID.ORGANIZATION_NAME, "Apple Inc."),
        (NameOID.COUNTRY_NAME, "US"),
    )
    wwdr_cert = (
        _builder(
            wwdr_name, root_name, wwdr_key.public_key(), now - dt.timedelta(days=30), now + dt.timedelta(days=1800)
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(wwdr_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    wwdr = Issued(wwdr_cert, wwdr_key)

    pass_cert = issue_pass_certificate(wwdr, uid=pass_type_identifier, team=team_identifier)
    spare_key = new_key()
    expired = issue_pass_certificate(
        wwdr,
        uid=pass_type_identifier,
        team=team_identifier,
        not_before=now - dt.timedelta(days=400),
        not_after=now - dt.timedelta(days=35),
        key=spare_key,
    )
    wrong_uid = issue_pass_certificate(
        wwdr,
        uid="pass.com.other.app",
        cn_identifier=pass_type_identifier,
        team=team_identifier,
        key=spare_key,
    )
    # Named like a pass certificate but only good for e-mail.
    wrong_eku = issue_pass_certificate(
        wwdr,
        uid=pass_type_identifier,
        team=team_identifier,
        key=spare_key,
        eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION],
    )
    # An ordinary S/MIME certificate: no Apple EKU, no pass-type extension, plain CN.
    email_subject = _name(
        (NameOID.COMMON_NAME, "Example Coffee mail"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, team_identifier),
        (NameOID.COUNTRY_NAME, "US"),
    )
    not_a_pass_cert = (
        _builder(
            email_subject, wwdr_name, spare_key.public_key(), now - dt.timedelta(days=1), now + dt.timedelta(days=90)
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .sign(wwdr_key, hashes.SHA256())
    )
    return ThrowawayPKI(
        root=root,
        wwdr=wwdr,
        pass_cert=pass_cert,
        expired=expired,
        wrong_uid=wrong_uid,
        wrong_eku=wrong_eku,
        not_a_pass=Issued(not_a_pass_cert, spare_key),
        pass_type_identifier=pass_type_identifier,
        team_identifier=team_identifier,
    )
