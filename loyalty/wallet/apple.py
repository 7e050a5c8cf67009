"""Apple Wallet store cards: pass.json from plain data, the signed ``.pkpass`` archive, and a checker.

``build_pkpass(content, images=…, signer=…)`` returns the archive bytes.
Everything except the signature's signingTime is deterministic: same input,
same pass.json, manifest and ZIP layout. ``validate_pkpass(bytes)`` lists what
an iPhone would reject (wallet spec §6.3); tests use it on every pass.

The files every pass of a design shares (images, the ru/en strings) are
prepared once by ``prepare_images``: their bytes, SHA-1 for the manifest and
their ready-made ZIP records. Building a pass then costs pass.json, the
manifest and the signature only. Every entry is stored, not deflated: PNGs are
compressed already, and deflating the few small text files costs more CPU
than the bytes it saves are worth.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import re
import struct
import threading
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import NameOID
from django.conf import settings

from loyalty.wallet.certificates import PassCertificate
from loyalty.wallet.images import hex_to_rgb

PKPASS_MIME_TYPE = "application/vnd.apple.pkpass"
BARCODE_FORMATS = {
    "qr": "PKBarcodeFormatQR",
    "pdf417": "PKBarcodeFormatPDF417",
    "code128": "PKBarcodeFormatCode128",
    "aztec": "PKBarcodeFormatAztec",
}
MAX_LOCATIONS = 10
MIN_AUTH_TOKEN_LENGTH = 16
LANGUAGES = ("ru", "en")
WWDR_SUBJECT_CN = "Apple Worldwide Developer Relations Certification Authority"
_BUNDLED_WWDR = Path(__file__).parent / "certs" / "AppleWWDRCAG4.pem"
_IMAGE_NAME = re.compile(r"^(icon|logo|strip)(@[23]x)?\.png$")
# A fixed timestamp for ZIP entries keeps the archive byte-for-byte reproducible.
_ZIP_DATE = (2000, 1, 1, 0, 0, 0)

# Labels and default change messages are written in English in pass.json and
# translated by xx.lproj/pass.strings, keyed by the English text (Apple's way).
# Keeping %@ in the English key means every changeMessage contains it as written.
RUSSIAN: dict[str, str] = {
    "Points": "Баллы",
    "Stamps": "Штампы",
    "Tier": "Уровень",
    "Member": "Владелец",
    "Terms": "Условия программы",
    "Contacts": "Контакты",
    "Website": "Сайт",
    "Phone": "Телефон",
    "Balance: %@": "Баланс: %@",
    "Stamps: %@": "Штампы: %@",
    "Your tier: %@": "Ваш уровень: %@",
    "Rewards available": "Доступно наград",
    "Message": "Сообщение",
    "Card status": "Статус карты",
    "This card is blocked. Please ask at the counter.": "Карта заблокирована. Обратитесь, пожалуйста, к кассиру.",
}
STRINGS: dict[str, dict[str, str]] = {"ru": RUSSIAN, "en": {key: key for key in RUSSIAN}}


class PassContentError(ValueError):
    """The pass data breaks one of Apple's rules."""


@dataclass(frozen=True)
class PassLocation:
    latitude: Decimal
    longitude: Decimal
    relevant_text: str = ""


@dataclass(frozen=True)
class PassContent:
    """What one customer's store card shows. Colours are ``#rrggbb``."""

    serial_number: str
    authentication_token: str
    organization_name: str
    description: str
    barcode_message: str
    background_color: str = "#ffffff"
    foreground_color: str = "#1c1c1e"
    label_color: str = "#6e6e73"
    logo_text: str = ""
    # Front: points or stamps (whichever is set), tier, customer name.
    points: int | None = None
    stamps: int | None = None
    stamps_goal: int | None = None
    tier: str = ""
    customer_name: str = ""
    # Back.
    terms: str = ""
    contacts: str = ""
    website: str = ""
    phone: str = ""
    barcode_format: str = "qr"
    barcode_alt_text: str = ""
    locations: tuple[PassLocation, ...] = ()
    # Without a trailing /v1: the device appends /v1/… itself.
    web_service_url: str = ""
    # Shown on the lock screen when the value changes; must contain %@. Empty: a localised default.
    balance_change_message: str = ""
    tier_change_message: str = ""
    voided: bool = False
    sharing_prohibited: bool = True
    # (label, value) or (label, value, changeMessage): a changeMessage makes a
    # new value show on the lock screen (a customer message).
    extra_back_fields: tuple[tuple[str, str] | tuple[str, str, str], ...] = field(default=())


@functools.cache
def _load_wwdr(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def wwdr_certificate() -> x509.Certificate:
    """Apple's WWDR intermediate to embed in signatures (settings.APPLE_WWDR_CERT_FILE or the bundled G4)."""
    return _load_wwdr(str(getattr(settings, "APPLE_WWDR_CERT_FILE", "") or _BUNDLED_WWDR))


def rgb(color: str) -> str:
    try:
        r, g, b = hex_to_rgb(color)
    except ValueError:
        raise PassContentError(f"colour must be #rrggbb, got {color!r}")
    return f"rgb({r}, {g}, {b})"


def _field(key: str, value, *, label: str | None = None, change_message: str | None = None, **extra) -> dict:
    item = {"key": key, "value": value}
    if label is not None:
        item["label"] = label
    if change_message:
        if "%@" not in change_message:
            raise PassContentError(f"changeMessage for {key!r} must contain %@")
        item["changeMessage"] = change_message
    item.update(extra)
    return item


def pass_json(content: PassContent, *, pass_type_identifier: str, team_identifier: str) -> dict:
    """The pass.json dictionary; labels are keys resolved by the xx.lproj/pass.strings files."""
    if not content.serial_number:
        raise PassContentError("serialNumber is required")
    if content.barcode_format not in BARCODE_FORMATS:
        raise PassContentError(f"barcode format must be one of {sorted(BARCODE_FORMATS)}")
    if not content.barcode_message:
        raise PassContentError("the barcode needs a message")
    try:
        content.barcode_message.encode("iso-8859-1")
    except UnicodeEncodeError:
        raise PassContentError("the barcode message must be Latin-1 (card numbers, tokens)")
    if len(content.locations) > MAX_LOCATIONS:
        raise PassContentError(f"at most {MAX_LOCATIONS} locations, got {len(content.locations)}")

    data: dict = {
        "formatVersion": 1,
        "passTypeIdentifier": pass_type_identifier,
        "teamIdentifier": team_identifier,
        "serialNumber": content.serial_number,
        "organizationName": content.organization_name,
        "description": content.description,
        "backgroundColor": rgb(content.background_color),
        "foregroundColor": rgb(content.foreground_color),
        "labelColor": rgb(content.label_color),
        "sharingProhibited": content.sharing_prohibited,
        "barcodes": [
            {
                "format": BARCODE_FORMATS[content.barcode_format],
                "message": content.barcode_message,
                "messageEncoding": "iso-8859-1",
                **({"altText": content.barcode_alt_text} if content.barcode_alt_text else {}),
            }
        ],
    }
    if content.logo_text:
        data["logoText"] = content.logo_text
    if content.web_service_url or content.authentication_token:
        _check_web_service(content.web_service_url, content.authentication_token)
        data["webServiceURL"] = content.web_service_url
        data["authenticationToken"] = content.authentication_token
    if content.locations:
        data["locations"] = [
            {
                "latitude": float(loc.latitude),
                "longitude": float(loc.longitude),
                **({"relevantText": loc.relevant_text} if loc.relevant_text else {}),
            }
            for loc in content.locations
        ]
    if content.voided:
        data["voided"] = True

    primary, secondary, auxiliary = [], [], []
    if content.stamps is not None:
        goal = content.stamps_goal or 0
        value = f"{content.stamps} / {goal}" if goal else str(content.stamps)
        # The strip image shows the stamps, so the count goes below it, not over it.
        secondary.append(
            _field(
                "stamps",
                value,
                label="Stamps",
                change_message=content.balance_change_message or "Stamps: %@",
            )
        )
    elif content.points is not None:
        primary.append(
            _field(
                "points",
                int(content.points),
                label="Points",
                change_message=content.balance_change_message or "Balance: %@",
                numberStyle="PKNumberStyleDecimal",
            )
        )
    if content.tier:
        secondary.append(
            _field("tier", content.tier, label="Tier", change_message=content.tier_change_message or "Your tier: %@")
        )
    if content.customer_name:
        auxiliary.append(_field("name", content.customer_name, label="Member"))

    back = []
    for key, label in (("terms", "Terms"), ("contacts", "Contacts"), ("website", "Website"), ("phone", "Phone")):
        value = getattr(content, key)
        if value:
            extra = {}
            if key == "website":
                extra["dataDetectorTypes"] = ["PKDataDetectorTypeLink"]
            elif key == "phone":
                extra["dataDetectorTypes"] = ["PKDataDetectorTypePhoneNumber"]
            back.append(_field(key, value, label=label, **extra))
    for index, (label, value, *change) in enumerate(content.extra_back_fields):
        back.append(_field(f"extra{index}", value, label=label, change_message=change[0] if change else None))

    data["storeCard"] = {
        key: fields
        for key, fields in (
            ("primaryFields", primary),
            ("secondaryFields", secondary),
            ("auxiliaryFields", auxiliary),
            ("backFields", back),
        )
        if fields
    }
    return data


def _check_web_service(url: str, token: str) -> None:
    if not url or not token:
        raise PassContentError("webServiceURL and authenticationToken go together")
    if len(token) < MIN_AUTH_TOKEN_LENGTH:
        raise PassContentError(f"authenticationToken must be at least {MIN_AUTH_TOKEN_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise PassContentError(f"webServiceURL must be an absolute URL, got {url!r}")
    if "v1" in parts.path.strip("/").split("/"):
        raise PassContentError("webServiceURL must not include v1: the device appends /v1/… itself")


def pass_strings(language: str) -> bytes:
    """An ``xx.lproj/pass.strings`` file (UTF-8, which iOS accepts alongside UTF-16)."""
    lines = [f'"{_escape(key)}" = "{_escape(text)}";' for key, text in sorted(STRINGS[language].items())]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def manifest_for(files: Mapping[str, bytes]) -> bytes:
    return _manifest_json({name: hashlib.sha1(data).hexdigest() for name, data in files.items()})


def _manifest_json(digests: Mapping[str, str]) -> bytes:
    return json.dumps(dict(sorted(digests.items())), indent=2, sort_keys=True).encode()


def _manifest_line(name: str, digest: str) -> str:
    # One line of _manifest_json's output (json's indent=2 layout), made without its pure-Python encoder.
    return f"  {json.dumps(name)}: {json.dumps(digest)}"


def sign_manifest(manifest: bytes, signer: PassCertificate, wwdr: x509.Certificate | None = None) -> bytes:
    """Detached PKCS#7 (DER) with signingTime, SHA-256, signer cert plus WWDR (spec §1.3).

    ``Binary`` stops cryptography turning LF into CRLF, which would break the digest.
    For RSA signers the structure cryptography makes is reused from a template
    (see ``_SignatureTemplate``); the output is byte for byte what cryptography
    gives at the same second.
    """
    wwdr = wwdr or wwdr_certificate()
    template = _signature_template(signer, wwdr)
    if template is None:
        return _cryptography_signature(manifest, signer, wwdr)
    return template.sign(manifest, signer, _utc_now())


def _cryptography_signature(manifest: bytes, signer: PassCertificate, wwdr: x509.Certificate) -> bytes:
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(signer.certificate, signer.private_key, hashes.SHA256())
        .add_certificate(wwdr)
        .sign(Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
    )


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class _SignatureTemplate:
    """A signature cryptography made once for this signer and intermediate, with
    the places of the three values that differ between passes. All three have
    a fixed length (UTCTime, SHA-256, an RSA signature as long as the modulus),
    so a pass's signature is the template with them replaced: the signed
    attributes are re-signed with the key, and cryptography's 0.2 ms of
    assembling the same structure again is saved."""

    der: bytes
    time: slice  # signingTime's UTCTime content
    digest: slice  # messageDigest's OCTET STRING content
    attributes: slice  # the [0] IMPLICIT signed attributes, whole element
    signature: slice  # the signature OCTET STRING's content

    def sign(self, manifest: bytes, signer: PassCertificate, now: dt.datetime) -> bytes:
        der = bytearray(self.der)
        der[self.time] = now.astimezone(dt.UTC).strftime("%y%m%d%H%M%SZ").encode()
        der[self.digest] = hashlib.sha256(manifest).digest()
        # What is signed is the attributes' DER as a SET (RFC 5652 §5.4), not the [0] tag.
        signed = b"\x31" + bytes(der[self.attributes.start + 1 : self.attributes.stop])
        der[self.signature] = signer.private_key.sign(signed, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg]
        return bytes(der)

    @classmethod
    def make(cls, signer: PassCertificate, wwdr: x509.Certificate) -> _SignatureTemplate | None:
        """None when the signer's structure is not one the template can reuse (EC
        keys, whose signatures vary in length; GeneralizedTime after 2049)."""
        if not isinstance(signer.private_key, rsa.RSAPrivateKey):
            return None
        sample = b"{}"
        der = _cryptography_signature(sample, signer, wwdr)
        try:
            _, _, start, end = _tlv(der, 0)
            content = _children(der, start, end)[1]
            _, _, sd_start, sd_end = _tlv(der, content[2])
            parts = _children(der, sd_start, sd_end)
            signer_infos = _children(der, parts[-1][2], parts[-1][3])
            signer_info = _children(der, signer_infos[0][2], signer_infos[0][3])
            attrs, value = signer_info[3], signer_info[5]
            places = {}
            for attribute in _children(der, attrs[2], attrs[3]):
                oid, values = _children(der, attribute[2], attribute[3])
                first = _children(der, values[2], values[3])[0]
                places[der[oid[2] : oid[3]]] = first
        except (ValueError, IndexError):
            return None
        time, digest = places.get(_OID_SIGNING_TIME), places.get(_OID_MESSAGE_DIGEST)
        if time is None or digest is None or der[attrs[1]] != 0xA0 or der[value[1]] != 0x04:
            return None
        if der[time[1]] != 0x17 or time[3] - time[2] != 13 or digest[3] - digest[2] != 32:
            return None
        if value[3] - value[2] != (signer.private_key.key_size + 7) // 8:
            return None
        template = cls(
            der=der,
            time=slice(time[2], time[3]),
            digest=slice(digest[2], digest[3]),
            attributes=slice(attrs[1], attrs[3]),
            signature=slice(value[2], value[3]),
        )
        # Proof that the places are right: the template, re-made at the sample's own
        # signing time, is the sample byte for byte (PKCS#1 v1.5 is deterministic).
        signed_at = dt.datetime.strptime(der[template.time].decode(), "%y%m%d%H%M%SZ").replace(tzinfo=dt.UTC)
        if template.sign(sample, signer, signed_at) != der:
            return None
        return template


# One template per (certificate, key, intermediate). Keyed by the objects' ids;
# an entry holds the objects, so their ids cannot be reused while it is cached.
_TEMPLATES_MAX = 256
_templates: OrderedDict[tuple[int, int, int], tuple[_SignatureTemplate | None, tuple[object, ...]]] = OrderedDict()
_templates_lock = threading.Lock()


def _signature_template(signer: PassCertificate, wwdr: x509.Certificate) -> _SignatureTemplate | None:
    key = (id(signer.certificate), id(signer.private_key), id(wwdr))
    with _templates_lock:
        entry = _templates.get(key)
        if entry is not None:
            _templates.move_to_end(key)
            return entry[0]
    template = _SignatureTemplate.make(signer, wwdr)
    with _templates_lock:
        _templates[key] = (template, (signer.certificate, signer.private_key, wwdr))
        while len(_templates) > _TEMPLATES_MAX:
            _templates.popitem(last=False)
    return template


# --- The archive ---------------------------------------------------------------------------------
#
# A stored-only ZIP written directly, so that the records of the shared files
# are built once per design and reused (zipfile cannot reuse records). Readers
# (zipfile, unzip, iOS) see an ordinary archive; tests check it with zipfile
# and ``unzip -t``.

_DOS_TIME = (_ZIP_DATE[3] << 11) | (_ZIP_DATE[4] << 5) | (_ZIP_DATE[5] // 2)
_DOS_DATE = ((_ZIP_DATE[0] - 1980) << 9) | (_ZIP_DATE[1] << 5) | _ZIP_DATE[2]
_VERSION = 20  # 2.0, what zipfile writes
_MADE_BY = (3 << 8) | _VERSION  # Unix, so that the permission bits below count
_EXTERNAL_ATTR = 0o100644 << 16  # a regular file, rw-r--r--
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")


@dataclass(frozen=True)
class _Entry:
    name: bytes
    data: bytes
    crc: int
    local_header: bytes  # goes right before data

    @classmethod
    def of(cls, name: str, data: bytes) -> _Entry:
        encoded = name.encode("ascii")  # our names are ASCII; no UTF-8 flag needed
        crc = zlib.crc32(data)
        header = (
            _LOCAL.pack(
                0x04034B50, _VERSION, 0, zipfile.ZIP_STORED, _DOS_TIME, _DOS_DATE,
                crc, len(data), len(data), len(encoded), 0,
            )
            + encoded
        )  # fmt: skip
        return cls(encoded, data, crc, header)

    @property
    def size(self) -> int:
        return len(self.local_header) + len(self.data)

    def central_record(self, offset: int) -> bytes:
        return (
            _CENTRAL.pack(
                0x02014B50, _MADE_BY, _VERSION, 0, zipfile.ZIP_STORED, _DOS_TIME, _DOS_DATE,
                self.crc, len(self.data), len(self.data), len(self.name), 0, 0, 0, 0, _EXTERNAL_ATTR, offset,
            )
            + self.name
        )  # fmt: skip


class PassImages(Mapping[str, bytes]):
    """The files shared by every pass of a design (images plus the ru/en
    strings), checked and prepared once: bytes, SHA-1 hex for the manifest and
    the ZIP records. Read-only; a ``Mapping`` of the image names to bytes."""

    def __init__(self, images: Mapping[str, bytes]):
        for name in images:
            if not _IMAGE_NAME.match(name):
                raise PassContentError(f"unexpected image name {name!r}")
        if "icon.png" not in images:
            raise PassContentError("icon.png is required")
        self._images = {name: bytes(images[name]) for name in sorted(images)}
        shared = {**self._images, **_strings_files()}
        self._entries = tuple(_Entry.of(name, shared[name]) for name in sorted(shared))
        self.digests: Mapping[str, str] = {
            entry.name.decode(): hashlib.sha1(entry.data).hexdigest() for entry in self._entries
        }
        self._manifest_lines = {name: _manifest_line(name, digest) for name, digest in self.digests.items()}
        offset, central, self._parts = 0, [], []
        for entry in self._entries:
            central.append(entry.central_record(offset))
            self._parts += (entry.local_header, entry.data)
            offset += entry.size
        self._size = offset
        self._central = b"".join(central)

    def __getitem__(self, name: str) -> bytes:
        return self._images[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._images)

    def __len__(self) -> int:
        return len(self._images)

    def manifest(self, files: Mapping[str, bytes]) -> bytes:
        """manifest.json for the shared files plus ``files``; the same bytes as ``manifest_for``."""
        lines = dict(self._manifest_lines)
        for name, data in files.items():
            lines[name] = _manifest_line(name, hashlib.sha1(data).hexdigest())
        return ("{\n" + ",\n".join(lines[name] for name in sorted(lines)) + "\n}").encode()

    def archive(self, files: Mapping[str, bytes]) -> bytes:
        """The ZIP of the shared files followed by ``files`` (in their order)."""
        parts = list(self._parts)
        offset, central = self._size, [self._central]
        for name, data in files.items():
            entry = _Entry.of(name, data)
            parts += (entry.local_header, entry.data)
            central.append(entry.central_record(offset))
            offset += entry.size
        directory = b"".join(central)
        count = len(self._entries) + len(files)
        parts += (directory, _END.pack(0x06054B50, 0, 0, count, count, len(directory), offset, 0))
        return b"".join(parts)


def prepare_images(images: Mapping[str, bytes]) -> PassImages:
    """``images`` (names like ``icon@2x.png`` → PNG bytes; icon.png is required) ready for many passes."""
    return images if isinstance(images, PassImages) else PassImages(images)


@functools.cache
def _strings_files() -> dict[str, bytes]:
    return {f"{language}.lproj/pass.strings": pass_strings(language) for language in LANGUAGES}


def build_pkpass(
    content: PassContent,
    *,
    images: Mapping[str, bytes] | PassImages,
    signer: PassCertificate,
    wwdr: x509.Certificate | None = None,
) -> bytes:
    """The signed ``.pkpass``. ``images`` maps names like ``icon@2x.png`` to PNG
    bytes (icon.png is required); pass a ``PassImages`` to build many passes
    of one design without preparing the images again."""
    shared = prepare_images(images)
    data = pass_json(content, pass_type_identifier=signer.pass_type_identifier, team_identifier=signer.team_identifier)
    pass_file = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    manifest = shared.manifest({"pass.json": pass_file})
    return shared.archive(
        {"pass.json": pass_file, "manifest.json": manifest, "signature": sign_manifest(manifest, signer, wwdr)}
    )


# --- Checking a pass as an iPhone would (spec §6.3) -------------------------------------------

_REQUIRED_KEYS = (
    "formatVersion",
    "passTypeIdentifier",
    "serialNumber",
    "teamIdentifier",
    "organizationName",
    "description",
)
_STYLE_KEYS = ("boardingPass", "coupon", "eventTicket", "generic", "storeCard")
_FIELD_GROUPS = ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields")
_RGB = re.compile(r"^rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\)$")
_ISO_WITH_ZONE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def validate_pkpass(data: bytes, *, now: dt.datetime | None = None, allow_http: bool = False) -> list[str]:
    """What is wrong with a ``.pkpass`` (empty list: nothing found)."""
    problems: list[str] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        files = {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return [f"not a ZIP archive: {exc}"]

    for name in ("pass.json", "manifest.json", "signature", "icon.png"):
        if name not in files:
            problems.append(f"missing {name}")
    for name in files:
        if (
            name.startswith("__MACOSX/")
            or name.endswith(".DS_Store")
            or "/" in name.strip("/").replace(".lproj/", "", 1)
        ):
            problems.append(f"stray file {name}")
    if problems:
        return problems

    try:
        manifest = json.loads(files["manifest.json"])
    except ValueError:
        return ["manifest.json is not JSON"]
    expected = {n for n in files if n not in ("manifest.json", "signature")}
    if set(manifest) != expected:
        missing, extra = sorted(expected - set(manifest)), sorted(set(manifest) - expected)
        problems.append(f"manifest does not list exactly the files (missing {missing}, extra {extra})")
    for name in sorted(expected & set(manifest)):
        if hashlib.sha1(files[name]).hexdigest() != manifest[name]:
            problems.append(f"manifest hash wrong for {name}")

    raw = files["pass.json"]
    if raw.startswith(b"\xef\xbb\xbf"):
        problems.append("pass.json starts with a BOM")
    try:
        pkpass = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return [*problems, "pass.json is not UTF-8 JSON"]
    problems += _check_pass_json(pkpass, allow_http=allow_http)
    problems += _check_signature(
        files["signature"],
        files["manifest.json"],
        pkpass.get("passTypeIdentifier"),
        pkpass.get("teamIdentifier"),
        now or dt.datetime.now(dt.UTC),
    )
    return problems


def _check_pass_json(p: dict, *, allow_http: bool) -> list[str]:
    problems = [f"pass.json lacks {key}" for key in _REQUIRED_KEYS if key not in p]
    if p.get("formatVersion") != 1:
        problems.append("formatVersion must be 1")
    styles = [key for key in _STYLE_KEYS if key in p]
    if len(styles) != 1:
        problems.append(f"exactly one pass style expected, got {styles}")
    for key in ("backgroundColor", "foregroundColor", "labelColor"):
        if key in p and not _RGB.match(str(p[key])):
            problems.append(f"{key} is not rgb(r, g, b)")
    url, token = p.get("webServiceURL"), p.get("authenticationToken")
    if (url is None) != (token is None):
        problems.append("webServiceURL and authenticationToken must come together")
    if url is not None:
        scheme = urlsplit(url).scheme
        if scheme != "https" and not (allow_http and scheme == "http"):
            problems.append("webServiceURL must be HTTPS")
        if "v1" in urlsplit(url).path.strip("/").split("/"):
            problems.append("webServiceURL must not include v1")
        if not isinstance(token, str) or len(token) < MIN_AUTH_TOKEN_LENGTH:
            problems.append("authenticationToken must be at least 16 characters")
    seen: set[str] = set()
    for style in styles:
        for group in _FIELD_GROUPS:
            for item in p[style].get(group, []):
                key = item.get("key")
                if not key or "value" not in item:
                    problems.append(f"{group} field without key or value")
                elif key in seen:
                    problems.append(f"field key {key!r} used twice")
                seen.add(key)
                message = item.get("changeMessage")
                if message is not None and "%@" not in message:
                    problems.append(f"changeMessage of {key!r} lacks %@")
    for barcode in p.get("barcodes", []):
        if barcode.get("format") not in BARCODE_FORMATS.values():
            problems.append(f"barcode format {barcode.get('format')!r} not allowed")
        if not barcode.get("message") or not barcode.get("messageEncoding"):
            problems.append("barcode needs message and messageEncoding")
    if len(p.get("locations", [])) > MAX_LOCATIONS:
        problems.append("more than 10 locations")
    for key in ("relevantDate", "expirationDate"):
        if key in p and not _ISO_WITH_ZONE.match(str(p[key])):
            problems.append(f"{key} is not ISO-8601 with a time zone")
    return problems


# Minimal DER reading, enough to check a CMS SignedData without a PKCS#7 verify API.


def _tlv(data: bytes, pos: int) -> tuple[int, int, int, int]:
    """(tag, header start, content start, end) of the element at ``pos``."""
    tag = data[pos]
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("truncated DER")
    return tag, pos, start, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    items, pos = [], start
    while pos < end:
        item = _tlv(data, pos)
        items.append(item)
        pos = item[3]
    return items


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray([parts[0] * 40 + parts[1]])
    for value in parts[2:]:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


_OID_SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
_OID_MESSAGE_DIGEST = _oid("1.2.840.113549.1.9.4")
_OID_SIGNING_TIME = _oid("1.2.840.113549.1.9.5")
_OID_SHA256 = _oid("2.16.840.1.101.3.4.2.1")


def _check_signature(
    signature: bytes, manifest: bytes, pass_type: str | None, team: str | None, now: dt.datetime
) -> list[str]:
    try:
        certs = pkcs7.load_der_pkcs7_certificates(signature)
        _, _, start, end = _tlv(signature, 0)
        oid, content = _children(signature, start, end)[:2]
        if signature[oid[2] : oid[3]] != _OID_SIGNED_DATA:
            return ["signature is not a CMS SignedData"]
        _, _, sd_start, sd_end = _tlv(signature, content[2])
        parts = _children(signature, sd_start, sd_end)
        encap = _children(signature, parts[2][2], parts[2][3])
        signer_infos = _children(signature, parts[-1][2], parts[-1][3])
        signer_info = _children(signature, signer_infos[0][2], signer_infos[0][3])
    except (ValueError, IndexError) as exc:
        return [f"signature cannot be read: {exc}"]

    problems = []
    if len(encap) > 1:
        problems.append("signature is not detached (eContent present)")
    sid = _children(signature, signer_info[1][2], signer_info[1][3])
    serial = int.from_bytes(signature[sid[1][2] : sid[1][3]], "big", signed=True)
    signer = next((c for c in certs if c.serial_number == serial), None)
    if signer is None:
        return [*problems, "signer certificate not embedded in the signature"]
    digest_alg = _children(signature, signer_info[2][2], signer_info[2][3])[0]
    if signature[digest_alg[2] : digest_alg[3]] != _OID_SHA256:
        problems.append("signature digest is not SHA-256")
    attrs = signer_info[3]
    if signature[attrs[1]] != 0xA0:
        return [*problems, "Signature must contain a signing date (no signed attributes)"]
    values: dict[bytes, bytes] = {}
    for attribute in _children(signature, attrs[2], attrs[3]):
        attr_oid, attr_values = _children(signature, attribute[2], attribute[3])
        first = _children(signature, attr_values[2], attr_values[3])[0]
        values[signature[attr_oid[2] : attr_oid[3]]] = signature[first[2] : first[3]]
    if _OID_SIGNING_TIME not in values:
        problems.append("Signature must contain a signing date")
    if values.get(_OID_MESSAGE_DIGEST) != hashlib.sha256(manifest).digest():
        problems.append("Manifest signature did not verify successfully (digest differs)")
    signed_attrs = b"\x31" + signature[attrs[1] + 1 : attrs[3]]
    sig_value = signature[signer_info[5][2] : signer_info[5][3]]
    public_key = signer.public_key()
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(sig_value, signed_attrs, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(sig_value, signed_attrs, ec.ECDSA(hashes.SHA256()))
        else:
            problems.append("signer key type not supported")
    except InvalidSignature:
        problems.append("Manifest signature did not verify successfully")

    uid = signer.subject.get_attributes_for_oid(NameOID.USER_ID)
    ou = signer.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    if not uid or uid[0].value != pass_type:
        problems.append("The passTypeIdentifier does not match the certificate UID")
    if not ou or ou[0].value != team:
        problems.append("The teamIdentifier does not match the certificate OU")
    if not signer.not_valid_before_utc <= now <= signer.not_valid_after_utc:
        problems.append("signer certificate is expired or not yet valid")
    issuer = next((c for c in certs if c.subject == signer.issuer), None)
    if issuer is None:
        problems.append("WWDR intermediate missing from the signature")
    else:
        cn = issuer.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ou_issuer = issuer.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        if not cn or cn[0].value != WWDR_SUBJECT_CN or not ou_issuer or ou_issuer[0].value != "G4":
            problems.append("signer is not issued by the WWDR G4 intermediate")
        try:
            signer.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            problems.append("signer certificate was not issued by the embedded intermediate")
    return problems
