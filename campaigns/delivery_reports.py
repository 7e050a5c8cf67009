"""What providers tell us after a send: SMS delivery reports, e-mail opens."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from .models import Delivery, DeliveryStatus

DELIVERED = {"delivered"}
FAILED = {"failed", "undelivered"}


def record_sms_status(*, provider_id: str, status: str, error_code: str = "", now: datetime | None = None) -> int:
    if not provider_id:
        return 0
    now = now or timezone.now()
    rows = Delivery.objects.filter(provider_id=provider_id, channel="sms")
    if status in DELIVERED:
        return rows.filter(status=DeliveryStatus.SENT).update(status=DeliveryStatus.DELIVERED, delivered_at=now)
    if status in FAILED:
        reason = f"{status} (error {error_code})" if error_code else status
        return rows.filter(status__in=(DeliveryStatus.SENT, DeliveryStatus.DELIVERED)).update(
            status=DeliveryStatus.FAILED, reason=reason
        )
    return 0
