"""What providers tell us after a send: SMS delivery reports, e-mail opens.

An e-mail carries a 1×1 image whose URL holds only the delivery's id, signed
(``django.core.signing``, its own salt): no address, name or phone. Loading it marks the
delivery opened once; later loads (and forged or damaged tokens) change nothing.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core import signing
from django.urls import reverse
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


OPEN_SALT = "campaigns.open"


def open_pixel_url(*, delivery_id: int) -> str:
    token = signing.dumps(delivery_id, salt=OPEN_SALT)
    return settings.PUBLIC_BASE_URL + reverse("campaigns_open", args=[token])


def record_open(*, token: str, now: datetime | None = None) -> bool:
    """Mark the e-mail delivery named by ``token`` opened. True only the first time."""
    try:
        delivery_id = signing.loads(token, salt=OPEN_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return False
    if not isinstance(delivery_id, int):
        return False
    now = now or timezone.now()
    return bool(
        Delivery.objects.filter(
            pk=delivery_id,
            channel="email",
            opened_at__isnull=True,
            status__in=(DeliveryStatus.SENT, DeliveryStatus.DELIVERED),
        ).update(opened_at=now)
    )
