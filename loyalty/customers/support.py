"""Support operations on one customer (issue 13): correct the phone or e-mail,
and the reads of the support console's customer page. Each write records who
and why in the audit log, in the same transaction."""

from __future__ import annotations

import csv
import io

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from loyalty.enrollment.services import record_consent
from loyalty.exceptions import LoyaltyError, ReasonRequired
from loyalty.models import Card, Customer, LedgerEntry, Purchase, Refund, WalletPass
from loyalty.phones import normalize_phone
from loyalty.wallet import contract as wallet
from merchants import audit
from merchants.models import AuditEvent, Merchant


@transaction.atomic
def reissue_pass(*, merchant: Merchant, card: Card, reason: str, actor) -> WalletPass:
    """A new pass for the card (new serial, authentication token and web link);
    the old one stops updating. Recorded with the reason; the caller sends the
    customer the new link."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    locked = Card.objects.for_merchant(merchant).select_for_update().get(pk=card.pk)
    old = wallet.wallet_pass_for(card=locked)
    old_serial = old.serial_number
    new = wallet.reissue_pass(card=locked)
    audit.record(
        action="card.pass_reissued",
        merchant=merchant,
        actor=actor,
        target=locked,
        target_label=locked.number,
        before={"serial_number": old_serial},
        after={"serial_number": new.serial_number},
        reason=reason,
    )
    return new


@transaction.atomic
def correct_contact(*, merchant: Merchant, customer: Customer, phone: str, email: str, reason: str, actor) -> Customer:
    """Set the customer's phone (typed any way, read in the merchant's country) and
    e-mail. The phone stays unique within the merchant; consent is untouched."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    locked = Customer.objects.for_merchant(merchant).select_for_update().get(pk=customer.pk)
    e164 = normalize_phone(phone, region=merchant.country)
    if e164 is None:
        raise LoyaltyError(_("Enter a valid phone number."), code="invalid_phone", field="phone")
    email = (email or "").strip().lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise LoyaltyError(_("Enter a valid e-mail address."), code="invalid_email", field="email")
    before = {"phone": locked.phone, "email": locked.email}
    after = {"phone": e164, "email": email}
    if before == after:
        return locked
    if Customer.objects.for_merchant(merchant).filter(phone=e164).exclude(pk=locked.pk).exists():
        raise LoyaltyError(
            _("Another customer of this business already has this phone number."), code="phone_taken", field="phone"
        )
    locked.phone, locked.email = e164, email
    try:
        with transaction.atomic():
            locked.save(update_fields=["phone", "email"])
    except IntegrityError:
        raise LoyaltyError(
            _("Another customer of this business already has this phone number."), code="phone_taken", field="phone"
        )
    changed_before, changed_after = audit.changes(before, after)
    audit.record(
        action="customer.contact_corrected",
        merchant=merchant,
        actor=actor,
        target=locked,
        before=changed_before,
        after=changed_after,
        reason=reason,
    )
    return locked


@transaction.atomic
def withdraw_consent(*, merchant: Merchant, customer: Customer, reason: str, actor) -> None:
    """Record that the customer withdrew marketing consent, through support; marketing stops at once
    (the cached flag campaigns read is cleared in the same transaction)."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    record_consent(merchant=merchant, customer=customer, granted=False, channel="support", actor=actor)
    audit.record(
        action="customer.consent_withdrawn",
        merchant=merchant,
        actor=actor,
        target=customer,
        after={"marketing_consent": False},
        reason=reason,
    )


def audit_trail(customer: Customer) -> QuerySet[AuditEvent]:
    """Staff actions on the customer and on their cards, newest first."""
    card_ids = [str(pk) for pk in customer.cards.values_list("pk", flat=True)]
    return AuditEvent.objects.filter(
        Q(target_type="loyalty.customer", target_id=str(customer.pk))
        | Q(target_type="loyalty.card", target_id__in=card_ids)
    ).order_by("-created_at", "-pk")


def export_customer(customer: Customer) -> dict:
    """Everything the platform keeps about one customer (a data-subject request):
    personal fields, cards, the ledger, purchases, refunds and consent history."""
    cards = list(customer.cards.select_related("tier").order_by("pk"))
    return audit.jsonable(
        {
            "customer": {
                "phone": customer.phone,
                "name": customer.name,
                "email": customer.email,
                "birthday": customer.birthday,
                "joined": customer.created_at,
                "source": customer.source,
                "marketing_consent": customer.marketing_consent,
                "merchant": customer.merchant.name,
            },
            "cards": [
                {
                    "number": card.number,
                    "status": card.status,
                    "tier": card.tier.name if card.tier else None,
                    "balance": card.balance,
                    "stamps": card.stamps,
                    "created_at": card.created_at,
                }
                for card in cards
            ],
            "ledger": list(
                LedgerEntry.objects.filter(card__customer=customer)
                .order_by("created_at", "pk")
                .values("created_at", "kind", "points", "stamps", "rewards", "reason", "card__number")
            ),
            "purchases": list(
                Purchase.objects.filter(card__customer=customer)
                .order_by("created_at", "pk")
                .values("created_at", "receipt_id", "bill_amount", "currency", "points_earned", "points_redeemed")
            ),
            "refunds": list(
                Refund.objects.filter(card__customer=customer)
                .order_by("created_at", "pk")
                .values("created_at", "purchase__receipt_id", "amount", "points_reversed")
            ),
            "consents": list(
                customer.consents.order_by("created_at", "pk").values(
                    "created_at", "granted", "channel", "text_version"
                )
            ),
        }
    )


def export_customer_csv(data: dict) -> str:
    """The export as one CSV: a ``section`` column, then each record's fields as ``field``/``value`` pairs."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "row", "field", "value"])
    for field, value in data["customer"].items():
        writer.writerow(["customer", 1, field, value])
    for section in ("cards", "ledger", "purchases", "refunds", "consents"):
        for index, record in enumerate(data[section], start=1):
            for field, value in record.items():
                writer.writerow([section, index, field, value])
    return out.getvalue()
