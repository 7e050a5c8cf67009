"""Retention (issue 13): a daily dispatcher picks the merchants whose local
clock shows the nightly hour and who set a retention period; one task per
merchant anonymises its inactive customers and e-mails the owners a report.
Idempotent: anonymised customers are not picked again, and the report is sent
only when someone was anonymised."""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone, translation

from loyalty.customers import privacy
from loyalty.ledger.tasks import NIGHTLY_LOCAL_HOUR, TASK_OPTIONS, merchants_at_local_hour
from merchants.models import Membership, Merchant, Role

logger = logging.getLogger(__name__)


@shared_task(name="loyalty.customers.tasks.retention_task", **TASK_OPTIONS)
def retention_task() -> int:
    ids = merchants_at_local_hour(NIGHTLY_LOCAL_HOUR, timezone.now())
    chosen = list(
        Merchant.objects.filter(pk__in=ids, customer_retention_years__isnull=False).values_list("pk", flat=True)
    )
    for merchant_id in chosen:
        apply_retention_task.delay(merchant_id)
    return len(chosen)


@shared_task(name="loyalty.customers.tasks.apply_retention_task", **TASK_OPTIONS)
def apply_retention_task(merchant_id: int) -> int:
    merchant = Merchant.objects.filter(pk=merchant_id, is_active=True).first()
    if merchant is None:
        return 0
    report = privacy.apply_retention(merchant=merchant)
    if report.anonymised:
        send_retention_report(merchant=merchant, report=report)
    return len(report.anonymised)


def send_retention_report(*, merchant: Merchant, report: privacy.RetentionReport) -> None:
    owners = list(
        Membership.objects.for_merchant(merchant)
        .filter(role=Role.OWNER, is_active=True, user__is_active=True)
        .values_list("user__email", flat=True)
    )
    if not owners:
        return
    context = {"merchant": merchant, "years": report.years, "count": len(report.anonymised)}
    with translation.override("ru"):
        subject = render_to_string("loyalty/customers/retention_subject.txt", context).strip()
        body = render_to_string("loyalty/customers/retention_body.txt", context)
    try:
        send_mail(subject, body, None, owners)
    except (smtplib.SMTPException, OSError) as exc:
        # The anonymisation is done and recorded in the audit log; the report is best effort.
        logger.warning("Retention report for merchant %s failed: %s", merchant.pk, type(exc).__name__)
