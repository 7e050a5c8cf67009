"""Customer imports: the uploaded file, its column mapping, progress and the
row-by-row report. The file is kept in the database (a worker on another machine
reads it from there) and dropped once the import has finished."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScopedManager


class ImportJob(models.Model):
    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Waiting for the column mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    filename = models.CharField(max_length=200)
    file_format = models.CharField(max_length=8)  # csv or xlsx
    content = models.BinaryField(null=True)
    headers = models.JSONField(default=list)
    # target field -> column index in the file (see analytics/imports.py FIELDS)
    mapping = models.JSONField(default=dict, blank=True)
    with_balances = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.IntegerField(default=0)
    processed_rows = models.IntegerField(default=0)
    created_count = models.IntegerField(default=0)
    existing_count = models.IntegerField(default=0)
    error_count = models.IntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("customer import")
        verbose_name_plural = _("customer imports")

    def __str__(self) -> str:
        return self.filename

    @property
    def percent_done(self) -> int:
        return 100 if not self.total_rows else int(100 * self.processed_rows / self.total_rows)


class ImportRowError(models.Model):
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.IntegerField()  # as the spreadsheet shows it: the header is row 1
    code = models.CharField(max_length=32)
    value = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=300)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("import row error")
        verbose_name_plural = _("import row errors")
        ordering = ["job", "row_number", "pk"]

    def __str__(self) -> str:
        return f"{self.row_number}: {self.code}"
