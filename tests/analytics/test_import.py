"""Customer import: good and bad rows, the report, nothing half-written, re-runs change nothing."""

import io
from datetime import date

import openpyxl
import pytest

from analytics import imports
from analytics.models import ImportJob, ImportRowError
from loyalty.models import Card, Customer, EntryKind, LedgerEntry, Source

pytestmark = pytest.mark.django_db


def csv_bytes(lines: list[str], encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def run_import(merchant, owner, filename: str, content: bytes, *, with_balances: bool = True, mapping=None):
    job = imports.upload(merchant=merchant, actor=owner, filename=filename, content=content)
    job = imports.start(job=job, mapping=mapping or job.mapping, with_balances=with_balances)
    return imports.run(job=job)


GOOD_AND_BAD = [
    "Телефон;Имя;Почта;Дата рождения;Баланс",
    "+7 916 123-45-67;Анна;anna@example.com;31.12.1990;150",  # row 2: good
    "8 (916) 765-43-21;Борис;;1985-04-02;0",  # row 3: good, national format, no balance
    "12345;Вера;;;10",  # row 4: bad phone
    "+79161112233;Глеб;;32.13.1990;10",  # row 5: bad date
    "89161234567;Анна 2;;;99",  # row 6: duplicate of row 2 (same number, other spelling)
    "+79162223344;Дина;not-an-email;;5",  # row 7: bad e-mail
    "+79163334455;Егор;;;-4",  # row 8: bad balance
    "+79164445566;Жанна;;;",  # row 9: good, empty balance
]


def test_good_rows_are_imported_and_bad_rows_reported(merchant, owner):
    job = run_import(merchant, owner, "clients.csv", csv_bytes(GOOD_AND_BAD))

    assert job.status == ImportJob.Status.DONE
    assert (job.total_rows, job.processed_rows) == (8, 8)
    assert (job.created_count, job.existing_count, job.error_count) == (3, 0, 5)
    report = [(e.row_number, e.code, e.value) for e in ImportRowError.objects.for_merchant(merchant).filter(job=job)]
    assert report == [
        (4, "bad_phone", "12345"),
        (5, "bad_date", "32.13.1990"),
        (6, "duplicate", "89161234567"),
        (7, "bad_email", "+79162223344"),
        (8, "bad_balance", "-4"),
    ]
    customers = {c.phone: c for c in Customer.objects.for_merchant(merchant)}
    assert set(customers) == {"+79161234567", "+79167654321", "+79164445566"}
    anna = customers["+79161234567"]
    assert (anna.name, anna.email, anna.birthday, anna.source) == (
        "Анна",
        "anna@example.com",
        date(1990, 12, 31),
        Source.IMPORT,
    )
    assert customers["+79167654321"].birthday == date(1985, 4, 2)
    # Every imported customer has a card; the balance is one adjustment entry, no welcome bonus.
    cards = {c.customer.phone: c for c in Card.objects.for_merchant(merchant).select_related("customer")}
    assert set(cards) == set(customers)
    assert cards["+79161234567"].balance == 150
    assert cards["+79167654321"].balance == 0
    entries = list(LedgerEntry.objects.for_merchant(merchant).values_list("card__customer__phone", "kind", "points"))
    assert entries == [("+79161234567", EntryKind.ADJUSTMENT, 150)]
    # The file itself is not kept once the import is done.
    assert job.content is None


def test_a_rerun_changes_nothing(merchant, owner):
    run_import(merchant, owner, "clients.csv", csv_bytes(GOOD_AND_BAD))
    before = (
        sorted(Customer.objects.for_merchant(merchant).values_list("phone", "name")),
        sorted(Card.objects.for_merchant(merchant).values_list("customer__phone", "balance")),
        LedgerEntry.objects.for_merchant(merchant).count(),
    )

    again = run_import(merchant, owner, "clients-again.csv", csv_bytes(GOOD_AND_BAD))

    assert (again.created_count, again.existing_count, again.error_count) == (0, 3, 5)
    after = (
        sorted(Customer.objects.for_merchant(merchant).values_list("phone", "name")),
        sorted(Card.objects.for_merchant(merchant).values_list("customer__phone", "balance")),
        LedgerEntry.objects.for_merchant(merchant).count(),
    )
    assert after == before


def test_xlsx_with_typed_cells(merchant, owner):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Phone", "Name", "Birthday", "Points"])
    sheet.append([79161234567, "Ann", date(1990, 12, 31), 42])
    sheet.append(["not a phone", "Bob", None, 1])
    buffer = io.BytesIO()
    book.save(buffer)

    job = run_import(merchant, owner, "clients.xlsx", buffer.getvalue())

    assert (job.created_count, job.error_count) == (1, 1)
    card = Card.objects.for_merchant(merchant).select_related("customer").get()
    assert (card.customer.phone, card.customer.birthday, card.balance) == ("+79161234567", date(1990, 12, 31), 42)


def test_the_mapping_is_guessed_from_the_headers(merchant, owner):
    job = imports.upload(merchant=merchant, actor=owner, filename="c.csv", content=csv_bytes(GOOD_AND_BAD))
    assert job.mapping == {"phone": 0, "name": 1, "email": 2, "birthday": 3, "balance": 4}
    assert imports.preview_rows(job)[0] == ["+7 916 123-45-67", "Анна", "anna@example.com", "31.12.1990", "150"]


def test_cp1251_csv_from_excel(merchant, owner):
    content = csv_bytes(["Телефон;Имя", "+79161234567;Ёжик"], encoding="cp1251")
    job = run_import(merchant, owner, "clients.csv", content, with_balances=False)
    assert job.created_count == 1
    assert Customer.objects.for_merchant(merchant).get().name == "Ёжик"


def test_an_unreadable_file_is_refused(merchant, owner):
    with pytest.raises(imports.ImportFileError):
        imports.upload(merchant=merchant, actor=owner, filename="x.xlsx", content=b"not a zip")
    with pytest.raises(imports.ImportFileError):
        imports.upload(merchant=merchant, actor=owner, filename="x.pdf", content=b"%PDF")
    assert not ImportJob.objects.exists()


def test_fifty_thousand_rows(merchant, owner):
    lines = ["phone,name,balance"]
    for i in range(50_000):
        lines.append(f"+7916{i:07d},Customer {i},{5 if i % 100 == 0 else 0}")
    lines[100] = "bad,Broken,1"  # row 101
    lines[200] = lines[199]  # row 201 repeats row 200

    job = run_import(merchant, owner, "big.csv", csv_bytes(lines))

    assert (job.processed_rows, job.created_count, job.error_count) == (50_000, 49_998, 2)
    assert list(ImportRowError.objects.filter(job=job).values_list("row_number", "code")) == [
        (101, "bad_phone"),
        (201, "duplicate"),
    ]
    assert Customer.objects.for_merchant(merchant).count() == 49_998
    assert Card.objects.for_merchant(merchant).count() == 49_998
    expected_points = 5 * 500  # every hundredth row carries 5 points (rows 101 and 201 are not among them)
    assert sum(Card.objects.for_merchant(merchant).values_list("balance", flat=True)) == expected_points

    again = run_import(merchant, owner, "big.csv", csv_bytes(lines))
    assert (again.created_count, again.existing_count, again.error_count) == (0, 49_998, 2)
    assert Customer.objects.for_merchant(merchant).count() == 49_998


def test_an_unreadable_stored_file_fails_the_job_instead_of_retrying(merchant, owner):
    from analytics.tasks import import_customers_task

    job = imports.upload(merchant=merchant, actor=owner, filename="c.csv", content=csv_bytes(GOOD_AND_BAD))
    imports.start(job=job, mapping=job.mapping, with_balances=True)
    ImportJob.objects.filter(pk=job.pk).update(file_format="xlsx")  # the bytes are CSV: openpyxl refuses them

    import_customers_task(job.pk)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.finished_at is not None
    assert not Customer.objects.for_merchant(merchant).exists()
