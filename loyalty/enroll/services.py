"""Writes behind the public enrolment pages: enrolling from the QR form (with
the consent the customer gave, word for word by version), sending a customer
their card link again, and the merchant saving new consent wording."""

from __future__ import annotations

import logging
import smtplib
from datetime import date

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from loyalty.enroll import ratelimit
from loyalty.enroll.selectors import ConsentWording
from loyalty.models import Card, ConsentText, Customer, PersonalDataConsent, Source
from loyalty.services.enrollment import enroll_customer
from loyalty.services.passes import wallet_pass_for
from merchants.models import Merchant

logger = logging.getLogger(__name__)

CONSENT_CHANNEL = "qr"


def enrol_from_qr(
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
    now = now or timezone.now()
    with transaction.atomic():
        card = enroll_customer(
            merchant=merchant,
            phone=phone,
            name=name,
            email=email,
            birthday=birthday,
            location=location,
            source=Source.QR,
            marketing_consent=marketing_consent,
            consent_channel=CONSENT_CHANNEL,
            consent_text_version=consent.version,
            referral_code=referral_code,
            now=now,
        )
        PersonalDataConsent.objects.create(
            merchant=merchant,
            customer=card.customer,
            text_version=consent.version,
            channel=CONSENT_CHANNEL,
            created_at=now,
        )
    # Made now, so the success page links straight to the card's wallets and web card.
    wallet_pass_for(card=card)
    return card


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
    context = {"merchant": merchant, "customer": customer, "link": web_card_url(card=card)}
    subject = render_to_string("enroll/email_card_subject.txt", context).strip()
    body = render_to_string("enroll/email_card_body.txt", context)
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
