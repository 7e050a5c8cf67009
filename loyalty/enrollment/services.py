"""Enrolling customers: a Customer, their Card, their consent and the welcome
bonus (``enroll_customer``, used by the POS API and the till), and the writes
behind the public enrolment pages: enrolling from the QR form with the consent
the customer gave, word for word by version (``enroll_from_qr``), sending a
customer their card link again, and the merchant saving new consent wording."""

from __future__ import annotations

import logging
import secrets
import smtplib
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.card_numbers import new_barcode_payload, new_card_number
from loyalty.enrollment import ratelimit
from loyalty.enrollment.selectors import ConsentWording
from loyalty.exceptions import AlreadyEnrolled, InvalidPhone, LoyaltyError
from loyalty.ledger import grant_bonus, notify_card_changed
from loyalty.models import Card, ConsentRecord, ConsentText, Customer, EntryKind, PersonalDataConsent, Source
from loyalty.phones import normalize_phone
from loyalty.program.services import current_rules
from loyalty.wallet.contract import wallet_pass_for, wallets_available
from merchants.models import Merchant

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
    welcome_bonus: bool = True,
    actor=None,
    api_key=None,
    now=None,
) -> Card:
    """Create the customer and their card on the lowest tier, record consent
    (if given) and grant the welcome bonus (not to customers brought over from
    another system, ``welcome_bonus=False``: their opening balance is their own). Raises AlreadyEnrolled if the phone
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
        if welcome_bonus and rules.uses_points and rules.welcome_bonus:
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


@dataclass(frozen=True)
class NewCustomer:
    """A customer checked by ``check_new_customer``, ready for ``enroll_many``."""

    phone: str  # E.164
    name: str
    email: str
    birthday: date | None


def check_new_customer(
    *, merchant, phone: str, name: str = "", email: str = "", birthday=None, now=None
) -> NewCustomer:
    """The checks ``enroll_customer`` makes, without writing: raises InvalidPhone or
    LoyaltyError (code ``invalid_email``, ``invalid_birthday``, ...)."""
    e164, name, email, _referrer = _clean(
        merchant=merchant,
        phone=phone,
        name=name,
        email=email,
        birthday=birthday,
        location=None,
        source=Source.IMPORT,
        referral_code="",
        now=now or timezone.now(),
    )
    return NewCustomer(phone=e164, name=name, email=email, birthday=birthday)


def enroll_many(*, merchant, customers: list[NewCustomer], source: str = Source.IMPORT, now=None) -> list[Card]:
    """Bulk enrolment for imports: the customers and their cards (lowest tier, no
    welcome bonus, no consent) in two INSERTs, all or nothing. Raises IntegrityError
    if a phone is taken meanwhile or a random code collides; the caller then enrols
    the rows one by one (``enroll_customer``), which handles both. No card-changed
    notice: a card created a moment ago has no wallet pass to update."""
    now = now or timezone.now()
    if not customers:
        return []
    rules = current_rules(merchant=merchant)
    tier_id = rules.tiers[0].id if rules.tiers else None
    with transaction.atomic():
        created = Customer.objects.bulk_create(
            [
                Customer(
                    merchant=merchant,
                    phone=c.phone,
                    name=c.name,
                    email=c.email,
                    birthday=c.birthday,
                    source=source,
                    referral_code=new_referral_code(),
                    created_at=now,
                )
                for c in customers
            ]
        )
        cards = Card.objects.bulk_create(
            [
                Card(
                    merchant=merchant,
                    customer=customer,
                    number=new_card_number(),
                    barcode=new_barcode_payload(),
                    tier_id=tier_id,
                    created_at=now,
                    updated_at=now,
                )
                for customer in created
            ]
        )
    return cards


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


# --- the public QR pages -------------------------------------------------------------------------


logger = logging.getLogger(__name__)

CONSENT_CHANNEL = "qr"


def enroll_from_qr(
    *,
    merchant: Merchant,
    location,
    name: str,
    phone: str,
    email: str = "",
    birthday: date | None = None,
    marketing_consent: bool = False,
    referral_code: str = "",
    consent: ConsentWording,
    now=None,
) -> Card:
    """Enrol a customer who filled in the public form. The personal-data
    consent (required to get here) and, if given, the marketing consent are
    stored with the version of the text shown. Raises what ``enroll_customer``
    raises (AlreadyEnrolled, InvalidPhone, LoyaltyError) and writes nothing then."""
    return _enroll_with_consent(
        merchant=merchant,
        consent=consent,
        channel=CONSENT_CHANNEL,
        now=now or timezone.now(),
        phone=phone,
        name=name,
        email=email,
        birthday=birthday,
        location=location,
        source=Source.QR,
        marketing_consent=marketing_consent,
        referral_code=referral_code,
    )


def _enroll_with_consent(*, merchant: Merchant, consent: ConsentWording, channel: str, now, **customer) -> Card:
    """Enrol, and store the personal-data consent with the version of the text the
    customer agreed to, in one transaction; then make the card's wallet pass, so
    the next page links straight to the card's wallets and web card."""
    with transaction.atomic():
        card = enroll_customer(
            merchant=merchant, consent_channel=channel, consent_text_version=consent.version, now=now, **customer
        )
        PersonalDataConsent.objects.create(
            merchant=merchant, customer=card.customer, text_version=consent.version, channel=channel, created_at=now
        )
    wallet_pass_for(card=card)
    return card


TILL_CONSENT_CHANNEL = "till"


def enroll_at_till(
    *,
    merchant: Merchant,
    location,
    name: str,
    phone: str,
    consent: ConsentWording,
    marketing_consent: bool = False,
    actor=None,
    now=None,
) -> Card:
    """Enrol a customer at the counter: the cashier read ``consent`` aloud and
    the customer agreed. The consent is stored like the QR form's (the version
    of the text read, channel "till"); raises what ``enroll_customer`` raises
    and writes nothing then."""
    return _enroll_with_consent(
        merchant=merchant,
        consent=consent,
        channel=TILL_CONSENT_CHANNEL,
        now=now or timezone.now(),
        phone=phone,
        name=name,
        location=location,
        source=Source.CASHIER,
        marketing_consent=marketing_consent,
        actor=actor,
    )


def web_card_url(*, card: Card) -> str:
    return settings.PUBLIC_BASE_URL + reverse("webcard", args=[wallet_pass_for(card=card).web_token])


def send_card_link(*, merchant: Merchant, phone_e164: str) -> bool:
    """E-mail the web card link of the customer with this phone to the address
    on file. Returns whether a message was handed to the mail server; the page
    that calls this says the same thing either way, so it reveals nothing."""
    customer = (
        Customer.objects.for_merchant(merchant).filter(phone=phone_e164).exclude(email="").prefetch_related("cards")
    ).first()
    if customer is None:
        return False
    card = customer.cards.first()
    if card is None:
        return False
    if not ratelimit.hit(f"card-email:{customer.pk}", ratelimit.CARD_EMAIL_PER_CUSTOMER):
        return False
    context = {
        "merchant": merchant,
        "customer": customer,
        "link": web_card_url(card=card),
        "wallets": wallets_available(merchant=merchant),
    }
    subject = render_to_string("enrollment/email_card_subject.txt", context).strip()
    body = render_to_string("enrollment/email_card_body.txt", context)
    try:
        send_mail(subject, body, None, [customer.email])
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("Card link e-mail for customer %s failed: %s", customer.pk, type(exc).__name__)
        return False
    return True


def save_consent_text(
    *, merchant: Merchant, personal_data_text: str, marketing_text: str, policy_url: str = "", actor=None
) -> ConsentText:
    """Save new wording as the next version; earlier versions stay as they were."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                last = ConsentText.objects.for_merchant(merchant).aggregate(n=Max("version"))["n"] or 0
                return ConsentText.objects.create(
                    merchant=merchant,
                    version=last + 1,
                    personal_data_text=personal_data_text.strip(),
                    marketing_text=marketing_text.strip(),
                    policy_url=policy_url.strip(),
                    created_by=actor,
                )
        except IntegrityError:
            # Two saves at once took the same number; the next try takes the next one.
            continue
    raise IntegrityError("could not number the consent text version")
