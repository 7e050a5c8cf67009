"""Apple Pass Type ID certificates: load what a merchant uploads, check it, store it.

A merchant uploads a PKCS#12 file (with its password) or PEM (certificate and
key, the key optionally encrypted). ``load_pkcs12``/``load_pem`` return a
``PassCertificate`` only when the certificate is a pass certificate, matches
its key and is within its validity period; otherwise they raise
``CertificateError`` with a message fit to show the merchant.

For storage, ``PassCertificate.to_bundle()`` gives one PEM document (key,
certificate, chain) meant to be encrypted with ``merchants.secretbox``;
``load_bundle()`` reads it back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, ObjectIdentifier
from django.utils.translation import gettext as _

PASS_EKU_OID = ObjectIdentifier("1.2.840.113635.100.4.14")
PASS_TYPE_EXTENSION_OID = ObjectIdentifier("1.2.840.113635.100.6.1.16")
_PASS_CN = re.compile(r"^Pass Type ID(?: with NFC)?: (?P<identifier>\S+)$")
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
_PEM_KEY = re.compile(
    rb"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----.+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----", re.S
)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class CertificateError(ValueError):
    """The upload is not a usable pass certificate; ``message`` says why, for the merchant."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PassCertificate:
    certificate: x509.Certificate
    private_key: PrivateKey
    pass_type_identifier: str
    team_identifier: str
    not_valid_after: dt.datetime
    # Intermediates that came with the upload (e.g. WWDR in a .p12); may be empty.
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate, hex: identifies it in caches and logs."""
        return self.certificate.fingerprint(hashes.SHA256()).hex()

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return (now or _utcnow()) > self.not_valid_after

    def days_left(self, now: dt.datetime | None = None) -> int:
        return (self.not_valid_after - (now or _utcnow())).days

    def certificate_pem(self, *, with_chain: bool = True) -> bytes:
        certs = [self.certificate, *(self.chain if with_chain else ())]
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)

    def private_key_pem(self) -> bytes:
        """Unencrypted PKCS#8: only for an encrypted store or a short-lived 0600 file."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def to_bundle(self) -> bytes:
        """Key, certificate and chain as one PEM document, to be encrypted at rest."""
        return self.private_key_pem() + self.certificate_pem()


def load_pkcs12(data: bytes, password: str | bytes | None, *, now: dt.datetime | None = None) -> PassCertificate:
    if not data:
        raise CertificateError(_("The certificate file is empty."))
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(bytes(data), _password_bytes(password))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        if _is_der_certificate(bytes(data)):
            # The .cer Apple's portal gives: the certificate without its key.
            raise CertificateError(
                _(
                    "This file holds only the certificate (the .cer from Apple's portal): its private key is "
                    "missing. Open the .cer on the Mac where the certificate signing request was made, then in "
                    "Keychain Access export the certificate together with its private key as a .p12 file and "
                    "upload that."
                )
            )
        raise CertificateError(
            _("Could not open the PKCS#12 (.p12) file: the password is wrong or the file is not a .p12 certificate.")
        )
    if cert is None:
        raise CertificateError(_("The .p12 file contains no certificate."))
    if key is None:
        raise CertificateError(
            _("The .p12 file contains no private key. Export the certificate together with its key from Keychain.")
        )
    return validate(cert, key, chain=extra, now=now)


def _is_der_certificate(data: bytes) -> bool:
    try:
        x509.load_der_x509_certificate(data)
    except ValueError:
        return False
    return True


def load_pem(
    cert_data: bytes,
    key_data: bytes | None = None,
    password: str | bytes | None = None,
    *,
    now: dt.datetime | None = None,
) -> PassCertificate:
    """The certificate (PEM or DER) and its key (PEM); the key may sit in the certificate file."""
    if not cert_data:
        raise CertificateError(_("The certificate file is empty."))
    certs = _read_certificates(bytes(cert_data))
    key_source = bytes(key_data) if key_data else bytes(cert_data)
    key_match = _PEM_KEY.search(key_source)
    if key_match is None:
        raise CertificateError(_("No private key found. Upload the key file (PEM) that belongs to the certificate."))
    key = _read_private_key(key_match.group(0), password)
    leaf, chain = _pick_leaf(certs, key)
    return validate(leaf, key, chain=chain, now=now)


def load_upload(
    data: bytes, password: str | bytes | None = None, *, key_data: bytes | None = None, now: dt.datetime | None = None
) -> PassCertificate:
    """Either format, told apart by content: PEM starts with a ``-----BEGIN`` line."""
    if key_data or bytes(data).lstrip().startswith(b"-----BEGIN"):
        return load_pem(data, key_data, password, now=now)
    return load_pkcs12(data, password, now=now)


def load_bundle(data: bytes, *, trusted: bool = False) -> PassCertificate:
    """Read back ``to_bundle()``. Expiry is not checked, so an expired certificate can still be shown.

    ``trusted``: the bundle comes from our own authenticated store (secretbox),
    where only keys that passed the full check at upload are written, so
    OpenSSL's RSA key check (primality of p and q, about 50 ms for RSA-2048)
    is skipped. The key is still matched against the certificate.
    """
    data = bytes(data)
    certs = _read_certificates(data)
    key_match = _PEM_KEY.search(data)
    if key_match is None:
        raise CertificateError(_("The stored certificate has no private key."))
    key = _read_private_key(key_match.group(0), None, skip_rsa_check=trusted)
    leaf, chain = _pick_leaf(certs, key)
    return validate(leaf, key, chain=chain, check_validity=False)


def validate(
    cert: x509.Certificate,
    key: object,
    *,
    chain: Sequence[x509.Certificate] = (),
    now: dt.datetime | None = None,
    check_validity: bool = True,
) -> PassCertificate:
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CertificateError(_("Only RSA and EC private keys are supported."))

    common_name = _attribute(cert, NameOID.COMMON_NAME)
    cn_match = _PASS_CN.match(common_name or "")
    extension_value = _pass_type_extension(cert)
    if cn_match is None and extension_value is None:
        raise CertificateError(
            _(
                'This is not an Apple Pass Type ID certificate (its name is "%(name)s"). '
                "Create one in the Apple Developer portal under Certificates, Pass Type IDs."
            )
            % {"name": common_name or "?"}
        )
    usages = _extended_key_usages(cert)
    if usages is not None and PASS_EKU_OID not in usages and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages:
        raise CertificateError(
            _("The certificate is not allowed to sign Wallet passes (it lacks Apple's pass extended key usage).")
        )

    uid = _attribute(cert, NameOID.USER_ID)
    if not uid:
        raise CertificateError(_("The certificate has no pass type identifier (UID) in its subject."))
    for other in (cn_match.group("identifier") if cn_match else None, extension_value or None):
        if other is not None and other != uid:
            raise CertificateError(
                _("The certificate is inconsistent: its UID is %(uid)s but its name says %(other)s.")
                % {"uid": uid, "other": other}
            )
    team = _attribute(cert, NameOID.ORGANIZATIONAL_UNIT_NAME)
    if not team:
        raise CertificateError(_("The certificate has no team identifier (OU) in its subject."))

    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        raise CertificateError(_("The private key does not belong to this certificate."))

    not_after = cert.not_valid_after_utc
    if check_validity:
        now = now or _utcnow()
        if now > not_after:
            raise CertificateError(
                _("The certificate expired on %(date)s. Renew it in the Apple Developer portal and upload the new one.")
                % {"date": not_after.date().isoformat()}
            )
        if now < cert.not_valid_before_utc:
            raise CertificateError(
                _("The certificate is not valid before %(date)s.")
                % {"date": cert.not_valid_before_utc.date().isoformat()}
            )
    return PassCertificate(
        certificate=cert,
        private_key=key,
        pass_type_identifier=uid,
        team_identifier=team,
        not_valid_after=not_after,
        chain=tuple(c for c in chain if c != cert),
    )


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _password_bytes(password: str | bytes | None) -> bytes | None:
    if password is None or password == "" or password == b"":
        return None
    return password.encode() if isinstance(password, str) else bytes(password)


def _read_certificates(data: bytes) -> list[x509.Certificate]:
    blocks = _PEM_CERT.findall(data)
    try:
        if blocks:
            return [x509.load_pem_x509_certificate(block) for block in blocks]
        if data.lstrip().startswith(b"-----BEGIN"):
            raise CertificateError(_("No certificate found in the file."))
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise CertificateError(_("The certificate could not be read: upload a .p12, .pem or .cer file."))


def _read_private_key(pem: bytes, password: str | bytes | None, *, skip_rsa_check: bool = False) -> PrivateKey:
    try:
        return serialization.load_pem_private_key(  # type: ignore[return-value]
            pem, _password_bytes(password), unsafe_skip_rsa_key_validation=skip_rsa_check
        )
    except TypeError:
        if _password_bytes(password) is None:
            raise CertificateError(_("The private key is encrypted: enter its password."))
        raise CertificateError(_("The private key is not encrypted, but a password was given."))
    except (ValueError, UnsupportedAlgorithm):
        if b"ENCRYPTED" in pem:
            raise CertificateError(_("The password for the private key is wrong."))
        raise CertificateError(_("The private key could not be read."))


def _pick_leaf(certs: list[x509.Certificate], key: PrivateKey) -> tuple[x509.Certificate, list[x509.Certificate]]:
    # The leaf is the certificate of this key; failing that, the first one
    # (so the key-mismatch check reports the real problem).
    key_der = _public_der(key.public_key())
    for cert in certs:
        if _public_der(cert.public_key()) == key_der:
            return cert, [c for c in certs if c is not cert]
    return certs[0], certs[1:]


def _public_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _attribute(cert: x509.Certificate, oid: ObjectIdentifier) -> str | None:
    values = cert.subject.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value.decode() if isinstance(value, bytes) else str(value)


def _extended_key_usages(cert: x509.Certificate) -> list[ObjectIdentifier] | None:
    try:
        return list(cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value)
    except x509.ExtensionNotFound:
        return None


def _pass_type_extension(cert: x509.Certificate) -> str | None:
    """The pass type identifier in Apple's extension; "" when present but not a readable string."""
    try:
        raw = cert.extensions.get_extension_for_oid(PASS_TYPE_EXTENSION_OID).value.value  # type: ignore[attr-defined]
    except x509.ExtensionNotFound:
        return None
    # A DER string: tag (UTF8String, PrintableString or IA5String), length, bytes.
    if len(raw) < 2 or raw[0] not in (0x0C, 0x13, 0x16):
        return ""
    length, offset = raw[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(raw[2 : 2 + count], "big"), 2 + count
    body = raw[offset : offset + length]
    if len(body) != length:
        return ""
    try:
        return body.decode()
    except UnicodeDecodeError:
        return ""
