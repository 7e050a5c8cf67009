"""Importing customers from a CSV or XLSX file, optionally with their balances as
opening ledger entries.

tablib reads the file (openpyxl for XLSX, the csv module for CSV), the merchant
maps its columns to our fields, and a Celery task (``import_customers_task``)
walks the rows in chunks. Each chunk is one transaction that also stores the
progress, so a worker that dies resumes where the last chunk ended; each row is
a savepoint: a bad row rolls back alone (never half a customer: the customer,
the card and the opening balance go in together or not at all) and is reported
with its row number. Customers are enrolled through ``enroll_customer`` (no
welcome bonus) and balances go through ``ledger.adjust`` with a key per
customer, so the ledger's rules hold. Re-runs are keyed by the phone number,
normalised like everywhere else: a phone that is already a customer is left as
it is, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import tablib
from celery import current_app
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.models import ImportJob, ImportRowError
from loyalty import ledger
from loyalty.enrollment.services import NewCustomer, check_new_customer, enroll_customer, enroll_many
from loyalty.exceptions import AlreadyEnrolled, LoyaltyError
from loyalty.ledger import MAX_POINTS, coalesced_card_changes
from loyalty.models import Customer, Source
from loyalty.phones import normalize_phone

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
PREVIEW_ROWS = 5
CHUNK_ROWS = 500


@dataclass(frozen=True)
class Field:
    name: str
    label: object
    required: bool
    # Lower-case header words that suggest this field, in English and Russian.
    hints: tuple[str, ...]


FIELDS = (
    Field("phone", gettext_lazy("Phone"), True, ("phone", "mobile", "телефон", "тел", "номер")),
    Field("name", gettext_lazy("Name"), False, ("name", "имя", "фио", "клиент")),
    Field("email", gettext_lazy("E-mail"), False, ("email", "e-mail", "mail", "почта")),
    Field("birthday", gettext_lazy("Birthday"), False, ("birth", "рожд", "др")),
    Field("balance", gettext_lazy("Balance (points)"), False, ("balance", "points", "баланс", "балл", "бонус")),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d.%m.%y", "%Y.%m.%d")


class ImportFileError(LoyaltyError):
    pass


# The report is read later, by someone in their own language: rows store a code and are
# worded when shown. A code not listed here (a rule of the enrolment service) keeps the
# message stored in the worker's language.
ROW_ERROR_MESSAGES = {
    "bad_phone": gettext_lazy("Not a phone number."),
    "duplicate": gettext_lazy("The same phone is on an earlier row of the file."),
    "bad_date": gettext_lazy("Not a date; write it as 31.12.1990 or 1990-12-31."),
    "bad_balance": gettext_lazy("The balance must be a whole number of points, 0 or more."),
    "bad_email": gettext_lazy("Enter a valid e-mail address."),
}


def row_error_text(error: ImportRowError) -> str:
    return str(ROW_ERROR_MESSAGES.get(error.code, error.message))


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(_("The file is neither UTF-8 nor Windows-1251 text."), code="bad_encoding")


def load_dataset(content: bytes, file_format: str) -> tablib.Dataset:
    """The whole file as a tablib Dataset with its first row as headers."""
    try:
        if file_format == "xlsx":
            return tablib.Dataset().load(io.BytesIO(content), format="xlsx")
        text = _decode(content)
        try:
            delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t").delimiter
        except csv.Error:
            delimiter = ","
        return tablib.Dataset().load(text, format="csv", delimiter=delimiter)
    except ImportFileError:
        raise
    except Exception as exc:  # tablib/openpyxl raise many kinds for a broken file
        raise ImportFileError(_("The file could not be read as CSV or Excel (.xlsx)."), code="unreadable") from exc


def file_format_for(filename: str) -> str:
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        return "xlsx"
    if lower.endswith((".csv", ".txt")):
        return "csv"
    raise ImportFileError(_("Upload a .csv or .xlsx file."), code="bad_format")


def guess_mapping(headers: Sequence[str]) -> dict[str, int]:
    mapping: dict[str, int] = {}
    for field in FIELDS:
        for index, header in enumerate(headers):
            text = str(header or "").strip().lower()
            if index not in mapping.values() and any(hint in text for hint in field.hints):
                mapping[field.name] = index
                break
    return mapping


def upload(*, merchant, actor, filename: str, content: bytes) -> ImportJob:
    """Store the file and read its header; raises ImportFileError for a file we cannot use."""
    if len(content) > MAX_FILE_BYTES:
        raise ImportFileError(_("The file is larger than 20 MB; split it into parts."), code="too_large")
    file_format = file_format_for(filename)
    dataset = load_dataset(content, file_format)
    headers = [str(h or "").strip() for h in (dataset.headers or [])]
    if not headers or not any(headers):
        raise ImportFileError(_("The file has no header row."), code="no_header")
    if dataset.height == 0:
        raise ImportFileError(_("The file has no rows under its header."), code="empty")
    if dataset.height > MAX_ROWS:
        raise ImportFileError(
            _("The file has more than %(n)s rows; split it into parts.") % {"n": f"{MAX_ROWS:,}"}, code="too_many"
        )
    return ImportJob.objects.create(
        merchant=merchant,
        created_by=actor,
        filename=filename[:200],
        file_format=file_format,
        content=content,
        headers=headers,
        mapping=guess_mapping(headers),
        total_rows=dataset.height,
    )


def preview_rows(job: ImportJob) -> list[list[str]]:
    dataset = load_dataset(bytes(job.content or b""), job.file_format)
    return [[_text(v) for v in row] for row in dataset[:PREVIEW_ROWS]]


def start(*, job: ImportJob, mapping: dict[str, int], with_balances: bool) -> ImportJob:
    """Fix the column mapping and queue the import (once: a second call changes nothing)."""
    if "phone" not in mapping:
        raise LoyaltyError(_("Choose the column with phone numbers."), code="invalid", field="phone")
    columns = [i for i in mapping.values()]
    if len(set(columns)) != len(columns) or any(not 0 <= i < len(job.headers) for i in columns):
        raise LoyaltyError(_("Each column can be used for one field only."), code="invalid")
    # By name through Celery's registry (analytics.tasks imports this module; AnalyticsConfig.ready registers it).
    import_customers_task = current_app.tasks["analytics.tasks.import_customers_task"]

    with transaction.atomic():
        claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.UPLOADED).update(
            mapping=mapping, with_balances=with_balances and "balance" in mapping, status=ImportJob.Status.QUEUED
        )
        if claimed:
            transaction.on_commit(lambda: import_customers_task.delay(job.pk))
    job.refresh_from_db()
    return job


# --- the rows ----------------------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 79161234567 as a float
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


def _birthday(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _points(value) -> int:
    text = re.sub(r"[\s\u00a0]", "", _text(value)).replace(",", ".")
    if not text:
        return 0
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(text)
    if number != number.to_integral_value() or number < 0 or number > MAX_POINTS:
        raise ValueError(text)
    return int(number)


class RowError(Exception):
    def __init__(self, code: str, message: str, value: str = ""):
        super().__init__(message)
        self.code, self.message, self.value = code, message, value


@dataclass
class CheckedRow:
    row_number: int
    customer: NewCustomer
    points: int


def _rows(job: ImportJob) -> Iterator[tuple[int, dict[str, object]]]:
    dataset = load_dataset(bytes(job.content or b""), job.file_format)
    for index, row in enumerate(dataset, start=2):  # row 1 is the header
        yield index, {name: (row[col] if col < len(row) else None) for name, col in job.mapping.items()}


def _check_row(job: ImportJob, row_number: int, values: dict[str, object], seen: set[str], now) -> CheckedRow:
    """Everything that can be said about a row without writing; raises RowError."""
    raw_phone = _text(values.get("phone"))
    phone = normalize_phone(raw_phone, region=job.merchant.country)
    if phone is None:
        raise RowError("bad_phone", _("Not a phone number."), raw_phone)
    if phone in seen:
        raise RowError("duplicate", _("The same phone is on an earlier row of the file."), raw_phone)
    seen.add(phone)
    try:
        birthday = _birthday(values.get("birthday"))
    except ValueError:
        raise RowError("bad_date", _("Not a date; write it as 31.12.1990 or 1990-12-31."), _text(values["birthday"]))
    points = 0
    if job.with_balances:
        try:
            points = _points(values.get("balance"))
        except ValueError:
            raise RowError(
                "bad_balance", _("The balance must be a whole number of points, 0 or more."), _text(values["balance"])
            )
    try:
        customer = check_new_customer(
            merchant=job.merchant,
            phone=phone,
            name=_text(values.get("name"))[:200],
            email=_text(values.get("email")),
            birthday=birthday,
            now=now,
        )
    except LoyaltyError as exc:
        raise RowError(ERROR_CODES.get(exc.code, exc.code), str(exc.message), raw_phone)
    return CheckedRow(row_number=row_number, customer=customer, points=points)


ERROR_CODES = {"invalid_email": "bad_email", "invalid_birthday": "bad_date", "invalid_phone": "bad_phone"}


def _import_one(job: ImportJob, row: CheckedRow, now) -> bool:
    """One row in its own savepoint: customer, card and opening balance, or nothing.
    False if the phone became a customer meanwhile; raises RowError."""
    c = row.customer
    try:
        with transaction.atomic():
            card = enroll_customer(
                merchant=job.merchant,
                phone=c.phone,
                name=c.name,
                email=c.email,
                birthday=c.birthday,
                source=Source.IMPORT,
                welcome_bonus=False,
                actor=job.created_by,
                now=now,
            )
            if row.points:
                ledger.adjust(
                    merchant=job.merchant,
                    card=card,
                    points=row.points,
                    reason=_("Opening balance imported from %(file)s") % {"file": job.filename},
                    actor=job.created_by,
                    idempotency_key=f"import-opening:{card.customer_id}",
                    now=now,
                )
    except AlreadyEnrolled:
        return False
    except LoyaltyError as exc:
        raise RowError(ERROR_CODES.get(exc.code, exc.code), str(exc.message), c.phone)
    return True


def _import_chunk(job: ImportJob, chunk: list[tuple[int, dict[str, object]]], seen: set[str], now) -> None:
    """One transaction: the chunk's rows and the job's progress."""
    errors: list[ImportRowError] = []

    def error(row_number: int, exc: RowError) -> None:
        errors.append(
            ImportRowError(
                merchant=job.merchant,
                job=job,
                row_number=row_number,
                code=exc.code,
                value=exc.value[:200],
                message=exc.message[:300],
            )
        )

    checked: list[CheckedRow] = []
    for row_number, values in chunk:
        try:
            checked.append(_check_row(job, row_number, values, seen, now))
        except RowError as exc:
            error(row_number, exc)
    existing = set(
        Customer.objects.for_merchant(job.merchant)
        .filter(phone__in=[r.customer.phone for r in checked])
        .values_list("phone", flat=True)
    )
    new = [r for r in checked if r.customer.phone not in existing]
    created = raced = 0
    with transaction.atomic(), coalesced_card_changes():
        # Rows without a balance: two INSERTs for all of them. If that fails (a phone
        # enrolled at the till meanwhile, a random code collided), row by row instead.
        plain = [r for r in new if not r.points]
        try:
            with transaction.atomic():
                created += len(enroll_many(merchant=job.merchant, customers=[r.customer for r in plain], now=now))
        except IntegrityError:
            for row in plain:
                try:
                    if _import_one(job, row, now):
                        created += 1
                    else:
                        raced += 1
                except RowError as exc:
                    error(row.row_number, exc)
        # Rows with an opening balance go through the ledger, each in its own savepoint.
        for row in new:
            if row.points:
                try:
                    if _import_one(job, row, now):
                        created += 1
                    else:
                        raced += 1
                except RowError as exc:
                    error(row.row_number, exc)
        errors.sort(key=lambda e: e.row_number)
        ImportRowError.objects.bulk_create(errors)
        job.processed_rows += len(chunk)
        job.created_count += created
        job.existing_count += len(checked) - len(new) + raced
        job.error_count += len(errors)
        job.save(update_fields=["processed_rows", "created_count", "existing_count", "error_count"])


def run(*, job: ImportJob, now=None) -> ImportJob:
    """Import the rows not yet processed, chunk by chunk. Safe to call again after a crash."""
    now = now or timezone.now()
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.QUEUED).update(status=ImportJob.Status.RUNNING)
    job.refresh_from_db()
    if job.status != ImportJob.Status.RUNNING:
        return job
    # Phones of the rows before this one: later rows with the same phone are duplicates.
    seen: set[str] = set()
    chunk: list[tuple[int, dict[str, object]]] = []
    for row_number, values in _rows(job):
        if row_number - 2 < job.processed_rows:  # done before a crash
            seen.add(normalize_phone(_text(values.get("phone")), region=job.merchant.country) or "")
            continue
        chunk.append((row_number, values))
        if len(chunk) >= CHUNK_ROWS:
            _import_chunk(job, chunk, seen, now)
            chunk = []
    if chunk:
        _import_chunk(job, chunk, seen, now)
    job.status = ImportJob.Status.DONE
    job.finished_at = timezone.now()
    job.content = None  # personal data: keep the report, not the file
    job.save(update_fields=["status", "finished_at", "content"])
    return job
