"""Enrolling customers: a Customer, their Card, their consent and the welcome bonus."""

from __future__ import annotations

import secrets
from datetime import date

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.exceptions import AlreadyEnrolled, InvalidPhone, LoyaltyError
from loyalty.models import Card, ConsentRecord, Customer, EntryKind, Source
from loyalty.phones import normalize_phone
from loyalty.services.cards import new_barcode_payload, new_card_number
from loyalty.services.ledger import grant_bonus, notify_card_changed
from loyalty.services.programs import current_rules

REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
REFERRAL_CODE_LENGTH = 8
MAX_ATTEMPTS = 8


def new_referral_code() -> str:
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def _clean(
    *, merchant, phone, name, email, birthday, location, source, referral_code, now
) -> tuple[str, str, str, Customer | None]:
    e164 = normalize_phone(phone, region=merchant.country)
    if e164 is None:
        raise InvalidPhone()
    name = (name or "").strip()
    if len(name) > 200:
        raise LoyaltyError(_("The name is too long."), code="invalid", field="name")
    email = (email or "").strip().lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise LoyaltyError(_("Enter a valid e-mail address."), code="invalid_email", field="email")
    if birthday is not None:
        if not isinstance(birthday, date):
            raise LoyaltyError(_("Enter a valid date."), code="invalid_birthday", field="birthday")
        today = timezone.localtime(now, merchant.tzinfo).date()
        if birthday > today or birthday.year < 1900:
            raise LoyaltyError(_("Enter a real birthday."), code="invalid_birthday", field="birthday")
    if location is not None and location.merchant_id != merchant.pk:
        raise LoyaltyError(_("Unknown location."), code="location_not_found", field="location")
    if source not in Source.values:
        raise LoyaltyError(_("Unknown source."), code="invalid", field="source")
    referrer = None
    code = (referral_code or "").strip().upper()
    if code:
        referrer = Customer.objects.for_merchant(merchant).filter(referral_code=code).first()
        if referrer is None:
            raise LoyaltyError(
                _("This referral code is not valid."), code="referral_code_not_found", field="referral_code"
            )
    return e164, name, email, referrer


def enroll_customer(
    *,
    merchant,
    phone: str,
    name: str = "",
    email: str = "",
    birthday: date | None = None,
    location=None,
    source: str = "cashier",
    marketing_consent: bool = False,
    consent_channel: str = "",
    consent_text_version: str = "",
    referral_code: str = "",
    actor=None,
    api_key=None,
    now=None,
) -> Card:
    """Create the customer and their card on the lowest tier, record consent
    (if given) and grant the welcome bonus. Raises AlreadyEnrolled if the phone
    already has a card with this merchant, InvalidPhone for a bad number."""
    now = now or timezone.now()
    e164, name, email, referrer = _clean(
        merchant=merchant,
        phone=phone,
        name=name,
        email=email,
        birthday=birthday,
        location=location,
        source=source,
        referral_code=referral_code,
        now=now,
    )
    if Customer.objects.for_merchant(merchant).filter(phone=e164).exists():
        raise AlreadyEnrolled()
    rules = current_rules(merchant=merchant)
    with transaction.atomic():
        customer = _create_customer(
            merchant=merchant,
            phone=e164,
            name=name,
            email=email,
            birthday=birthday,
            location=location,
            source=source,
            referrer=referrer,
            now=now,
        )
        card = _create_card(
            merchant=merchant, customer=customer, tier_id=rules.tiers[0].id if rules.tiers else None, now=now
        )
        if marketing_consent:
            record_consent(
                merchant=merchant,
                customer=customer,
                granted=True,
                channel=consent_channel or source,
                text_version=consent_text_version,
                actor=actor,
                api_key=api_key,
                now=now,
            )
        if rules.uses_points and rules.welcome_bonus:
            grant_bonus(
                merchant=merchant,
                card=card,
                kind=EntryKind.BONUS_WELCOME,
                points=rules.welcome_bonus,
                idempotency_key=f"welcome:{customer.pk}",
                reason="welcome bonus",
                actor=actor,
                api_key=api_key,
                now=now,
            )
            card.refresh_from_db()
        else:
            notify_card_changed(card.pk)
    card.customer = customer
    return card


def _create_customer(*, merchant, phone, name, email, birthday, location, source, referrer, now) -> Customer:
    for _attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                return Customer.objects.create(
                    merchant=merchant,
                    phone=phone,
                    name=name,
                    email=email,
                    birthday=birthday,
                    joined_location=location,
                    source=source,
                    referral_code=new_referral_code(),
                    referred_by=referrer,
                    created_at=now,
                )
        except IntegrityError:
            # The phone was enrolled a moment ago by someone else, or (very
            # rarely) the random referral code was taken: tell which.
            if Customer.objects.for_merchant(merchant).filter(phone=phone).exists():
                raise AlreadyEnrolled()
    raise LoyaltyError(_("Could not enrol the customer; try again."), code="enrollment_failed")  # pragma: no cover


def _create_card(*, merchant, customer, tier_id, now) -> Card:
    for _attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                return Card.objects.create(
                    merchant=merchant,
                    customer=customer,
                    number=new_card_number(),
                    barcode=new_barcode_payload(),
                    tier_id=tier_id,
                    created_at=now,
                    updated_at=now,
                )
        except IntegrityError:
            # A random number collided with an existing card: draw again.
            continue
    raise LoyaltyError(_("Could not issue a card; try again."), code="enrollment_failed")  # pragma: no cover


def record_consent(
    *,
    merchant,
    customer: Customer,
    granted: bool,
    channel: str,
    text_version: str = "",
    actor=None,
    api_key=None,
    now=None,
) -> ConsentRecord:
    """Append a grant or withdrawal of marketing consent and update the cached flag."""
    now = now or timezone.now()
    channel = (channel or "").strip()[:32]
    if not channel:
        raise LoyaltyError(_("Say through which channel consent was given."), code="invalid", field="consent_channel")
    with transaction.atomic():
        record = ConsentRecord.objects.create(
            merchant=merchant,
            customer=customer,
            granted=granted,
            channel=channel,
            text_version=(text_version or "")[:64],
            actor=actor,
            api_key=api_key,
            created_at=now,
        )
        Customer.objects.filter(pk=customer.pk).update(marketing_consent=granted)
    customer.marketing_consent = granted
    return record
