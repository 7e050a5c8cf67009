"""The import pages, the exports and the prediction on the card page, over Django's test client."""

import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analytics import predictions
from analytics.models import CustomerPrediction, ImportJob, PredictionFit
from loyalty import ledger
from loyalty.models import Card, Customer, LedgerEntry

pytestmark = pytest.mark.django_db

FILE = "Телефон;Имя;Баланс\n+79161234567;Анна;150\nне телефон;Борис;1\n+79167654321;Вера;\n"


def upload(client, text: str = FILE, name: str = "clients.csv"):
    return client.post("/dashboard/customers/import/", {"file": SimpleUploadedFile(name, text.encode())})


def test_upload_preview_map_and_import(client, merchant, owner, django_capture_on_commit_callbacks):
    client.force_login(owner)
    response = upload(client)
    job = ImportJob.objects.for_merchant(merchant).get()
    assert response.status_code == 302 and response["Location"] == f"/dashboard/customers/import/{job.pk}/"

    page = client.get(f"/dashboard/customers/import/{job.pk}/")
    assert page.context["preview"] == [
        ["+79161234567", "Анна", "150"],
        ["не телефон", "Борис", "1"],
        ["+79167654321", "Вера", ""],
    ]
    assert page.context["form"].initial == {"phone": "0", "name": "1", "balance": "2", "with_balances": True}

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            f"/dashboard/customers/import/{job.pk}/",
            {"phone": "0", "name": "1", "email": "", "birthday": "", "balance": "2", "with_balances": "on"},
        )
    assert response.status_code == 302
    assert len(callbacks) == 1  # the task is queued once the mapping is stored
    from analytics.tasks import import_customers_task

    import_customers_task(job.pk)  # what the worker runs

    progress = client.get(f"/dashboard/customers/import/{job.pk}/progress/").json()
    assert progress | {"status_label": ""} == {
        "status": "done",
        "status_label": "",
        "total": 3,
        "processed": 3,
        "percent": 100,
        "created": 2,
        "existing": 0,
        "errors": 1,
    }
    page = client.get(f"/dashboard/customers/import/{job.pk}/").content.decode()
    assert "не телефон" in page
    report = client.get(f"/dashboard/customers/import/{job.pk}/errors.csv")
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert rows[1][:3] == ["3", "bad_phone", "не телефон"]
    assert Card.objects.for_merchant(merchant).get(customer__phone="+79161234567").balance == 150


def test_the_mapping_needs_a_phone_column(client, merchant, owner):
    client.force_login(owner)
    upload(client)
    job = ImportJob.objects.for_merchant(merchant).get()
    response = client.post(f"/dashboard/customers/import/{job.pk}/", {"phone": "", "name": "1"})
    assert response.status_code == 200 and response.context["form"].errors["phone"]
    job.refresh_from_db()
    assert job.status == ImportJob.Status.UPLOADED


def test_a_file_that_is_not_a_table_is_explained(client, merchant, owner):
    client.force_login(owner)
    response = upload(client, "x", name="photo.png")
    assert response.status_code == 400
    assert "Загрузите файл .csv или .xlsx." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_cashier_may_not_import(client, cashier):
    client.force_login(cashier)
    assert upload(client).status_code == 403
    assert not ImportJob.objects.exists()


def test_exports_stream_this_merchants_rows_only(client, merchant, owner, other_merchant):
    from analytics import imports

    for m, phone in ((merchant, "+79161234567"), (other_merchant, "+79169999999")):
        job = imports.upload(merchant=m, actor=None, filename="c.csv", content=f"phone,balance\n{phone},7\n".encode())
        imports.run(job=imports.start(job=job, mapping=job.mapping, with_balances=True))
    card = Card.objects.for_merchant(merchant).get()
    ledger.purchase(
        merchant=merchant,
        card=card,
        location=None,
        bill_amount=Decimal("123.45"),
        receipt_id="R-1",
        idempotency_key="k1",
    )
    client.force_login(owner)

    def rows(kind):
        response = client.get(f"/dashboard/customers/export/{kind}.csv")
        assert response.streaming and response["Content-Type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))

    customers = rows("customers")
    card.refresh_from_db()  # 7 imported points plus what the purchase earned
    assert [(r["phone"], r["balance"], r["purchases"]) for r in customers] == [("+79161234567", str(card.balance), "1")]
    assert card.balance > 7
    purchases = rows("purchases")
    assert [(r["receipt_id"], r["bill_amount"], r["phone"]) for r in purchases] == [("R-1", "123.45", "+79161234567")]
    entries = rows("ledger")
    assert len(entries) == LedgerEntry.objects.for_merchant(merchant).count() >= 2
    assert {r["card_number"] for r in entries} == {card.number}


def test_the_card_page_shows_the_prediction_or_why_not(client, merchant, owner):
    from loyalty.enrollment.services import enroll_customer

    card = enroll_customer(merchant=merchant, phone="+79161234567")
    client.force_login(owner)
    url = f"/dashboard/cards/{card.pk}/"
    assert "Прогноза пока нет: модель строится каждую ночь." in client.get(url).content.decode()

    predictions.fit_merchant(merchant=merchant, now=datetime.fromisoformat("2026-06-01T12:00:00+03:00"))
    page = client.get(url).content.decode()
    assert "Прогноза пока нет: ещё нет покупок, на которых можно учиться." in page

    fit = PredictionFit.objects.for_merchant(merchant).get()
    fit.status, fit.model_mae, fit.baseline_mae, fit.actual_total = "fitted", Decimal("0.412"), Decimal("0.733"), 40
    fit.model_total, fit.baseline_total = Decimal("38.5"), Decimal("51.0")
    fit.save()
    CustomerPrediction.objects.create(
        merchant=merchant,
        customer=card.customer,
        p_alive=Decimal("0.8731"),
        expected_purchases_90d=Decimal("2.456"),
        expected_spend_90d=Decimal("1234.50"),
        fitted_at=fit.fitted_at,
    )
    page = client.get(url).content.decode()
    # The dashboard speaks Russian by default: decimal commas.
    assert 'data-field="p_alive">87%<' in page
    assert 'data-field="purchases">2,5<' in page
    assert "0,412" in page and "0,733" in page
    assert Customer.objects.count() == 1
