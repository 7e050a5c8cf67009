"""Stored responses of the POS API's writes, for Idempotency-Key replays."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, MerchantScopedManager


class IdempotentRequest(models.Model):
    """One successful write made through the POS API with an ``Idempotency-Key``.

    The row is inserted before the write and in the same transaction, so a
    second request with the same key waits on the unique index until the first
    one commits (then replays its response) or rolls back (then goes ahead).
    Only 2xx responses are ever committed: an error rolls the row back with the
    write, so a corrected retry with the same key can still succeed.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    # sha256 of the method, the path and the canonical JSON body.
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    # The response exactly as first sent (rendered JSON), so a replay is byte-identical.
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = MerchantScopedManager()

    class Meta:
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotent_request_merchant_key_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.response_status}"
