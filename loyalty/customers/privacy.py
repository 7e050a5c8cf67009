"""Personal data rights (issue 13): erase a customer's personal data on request
or when the merchant's retention period has passed without activity.

The customer row stays (anonymised) so the ledger, lots and purchases keep
pointing at it and every balance still verifies. Other apps that hold personal
data about the customer (campaigns: the Telegram binding, channel settings)
erase theirs on the ``customer_anonymised`` signal, sent inside the same
transaction, since loyalty may not import them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.dispatch import Signal
from django.utils import timezone

from loyalty.exceptions import LoyaltyError, ReasonRequired
from loyalty.models import ConsentRecord, Customer, LedgerEntry
from loyalty.wallet import contract as wallet
from merchants import audit
from merchants.models import Merchant

# Sent with ``merchant`` and ``customer`` (already anonymised), inside the transaction.
customer_anonymised = Signal()

ERASED_FIELDS = ("name", "phone", "email", "birthday", "marketing_consent")


def anonymous_phone(customer_pk: int) -> str:
    # Unique per merchant like a phone, and plainly not one.
    return f"anon-{customer_pk}"


@transaction.atomic
def anonymise_customer(
    *, merchant: Merchant, customer: Customer, reason: str, actor, now: dt.datetime | None = None
) -> Customer:
    """Erase the customer's personal fields (name, phone, e-mail, birthday,
    marketing consent, wallet links, other apps' bindings). Their cards and
    ledger stay. Recorded without the erased values. Idempotent."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    locked = Customer.objects.for_merchant(merchant).select_for_update().get(pk=customer.pk)
    if locked.anonymised_at is not None:
        return locked
    had_consent = locked.marketing_consent
    locked.name, locked.email, locked.birthday = "", "", None
    locked.phone = anonymous_phone(locked.pk)
    locked.marketing_consent = False
    locked.anonymised_at = now
    locked.save(update_fields=["name", "email", "birthday", "phone", "marketing_consent", "anonymised_at"])
    if had_consent:
        # The consent history stays (proof of what was agreed); marketing stops now.
        ConsentRecord.objects.create(
            merchant=merchant, customer=locked, granted=False, channel="erasure", created_at=now, actor=actor
        )
    for card in locked.cards.all():
        # The old web card link and pass showed the name: they stop working.
        wallet.reissue_pass(card=card, now=now)
    customer_anonymised.send(sender=Customer, merchant=merchant, customer=locked)
    # Earlier events about the customer and their cards keep what happened, not who it was.
    audit.redact_personal_data(
        merchant=merchant,
        targets={
            "loyalty.customer": [str(locked.pk)],
            "loyalty.card": [str(pk) for pk in locked.cards.values_list("pk", flat=True)],
        },
        relabel=frozenset({"loyalty.customer"}),
        subject_label=f"#{locked.pk}",
        actor=actor,
        reason=reason,
    )
    audit.record(
        action="customer.anonymised",
        merchant=merchant,
        actor=actor,
        target=locked,
        target_label=f"#{locked.pk}",
        after={"erased": list(ERASED_FIELDS)},
        reason=reason,
    )
    return locked


def inactive_customers(*, merchant: Merchant, years: int, now: dt.datetime | None = None):
    """Customers of the merchant, not yet anonymised, with no ledger entry (and no
    enrolment) in the last ``years`` years."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=round(365.25 * years))
    last_entry = (
        LedgerEntry.objects.filter(card__customer=OuterRef("pk"))
        .values("card__customer")
        .annotate(last=Max("created_at"))
        .values("last")
    )
    return (
        Customer.objects.for_merchant(merchant)
        .filter(anonymised_at__isnull=True, merged_into__isnull=True)
        .annotate(last_activity=Coalesce(Subquery(last_entry), "created_at"))
        .filter(Q(last_activity__lt=cutoff))
        .order_by("pk")
    )


@dataclass
class RetentionReport:
    merchant_id: int
    years: int
    anonymised: list[int] = field(default_factory=list)


def apply_retention(*, merchant: Merchant, now: dt.datetime | None = None) -> RetentionReport:
    """Anonymise the merchant's customers inactive longer than its retention
    setting; one transaction per customer, so a failure keeps what was done."""
    now = now or timezone.now()
    years = merchant.customer_retention_years
    report = RetentionReport(merchant_id=merchant.pk, years=years or 0)
    if not years:
        return report
    for pk in list(inactive_customers(merchant=merchant, years=years, now=now).values_list("pk", flat=True)):
        customer = Customer.objects.for_merchant(merchant).get(pk=pk)
        try:
            anonymise_customer(
                merchant=merchant,
                customer=customer,
                reason=f"retention: inactive for more than {years} years",
                actor=None,
                now=now,
            )
        except LoyaltyError:
            continue
        report.anonymised.append(pk)
    return report
