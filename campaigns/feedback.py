"""The post-purchase follow-up's feedback page (services): a signed link per message, the
customer's answer (rating 1–5 and a comment) stored once per message, the optional bonus for
answering granted once through the ledger, and low ratings (2 or less) e-mailed to the owner.

The link carries only the delivery's id, signed (``django.core.signing``); it works for
``TOKEN_MAX_AGE`` and answers once. The bonus's idempotency key is ``feedback:<delivery>``, so
a second answer, a double click or a replayed POST never pays twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from loyalty.ledger import grant_bonus
from loyalty.models import Card, EntryKind
from merchants.models import Membership, Role

from .exceptions import FeedbackError
from .models import CampaignSettings, Delivery, Feedback, Trigger

FEEDBACK_SALT = "campaigns.feedback"
TOKEN_MAX_AGE = timedelta(days=60)
LOW_RATING = 2
COMMENT_MAX = 2000


def feedback_token(*, delivery_id: int) -> str:
    return signing.dumps(delivery_id, salt=FEEDBACK_SALT)


def feedback_url(*, delivery_id: int) -> str:
    return settings.PUBLIC_BASE_URL + reverse("campaigns_feedback", args=[feedback_token(delivery_id=delivery_id)])


def delivery_for_token(token: str) -> Delivery | None:
    """The follow-up message the link was sent with, or None for a damaged or too old link."""
    try:
        delivery_id = signing.loads(token, salt=FEEDBACK_SALT, max_age=TOKEN_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(delivery_id, int):
        return None
    return (
        Delivery.objects.select_related("campaign", "merchant", "customer")
        .filter(pk=delivery_id, campaign__trigger=Trigger.POST_PURCHASE)
        .first()
    )


@dataclass
class Answer:
    feedback: Feedback
    created: bool

    @property
    def needs_alert(self) -> bool:
        return self.created and self.feedback.rating <= LOW_RATING


def leave_feedback(*, delivery: Delivery, rating: int, comment: str = "", now: datetime | None = None) -> Answer:
    """Store the answer once per message and grant the campaign's bonus for answering once. A
    second answer returns the first, unchanged. The caller queues ``alert_low_rating`` (a task)
    when ``needs_alert`` says so."""
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise FeedbackError(_("Choose a rating from 1 to 5."))
    comment = "".join(ch for ch in (comment or "") if ch in "\n\t" or ch.isprintable()).strip()[:COMMENT_MAX]
    now = now or timezone.now()
    campaign = delivery.campaign
    with transaction.atomic():
        # The delivery row is the lock: two answers to the same message queue here.
        Delivery.objects.select_for_update().filter(pk=delivery.pk).first()
        existing = Feedback.objects.filter(delivery=delivery).first()
        if existing is not None:
            return Answer(existing, created=False)
        feedback = Feedback.objects.create(
            merchant_id=delivery.merchant_id,
            delivery=delivery,
            customer_id=delivery.customer_id,
            rating=rating,
            comment=comment,
            created_at=now,
        )
        if campaign.feedback_bonus:
            card_id = (
                Card.objects.for_merchant(delivery.merchant)
                .filter(customer_id=delivery.customer_id)
                .values_list("pk", flat=True)
                .first()
            )
            if card_id is not None:
                entry = grant_bonus(
                    merchant=delivery.merchant,
                    card=card_id,
                    kind=EntryKind.BONUS_CAMPAIGN,
                    points=campaign.feedback_bonus,
                    idempotency_key=f"feedback:{delivery.pk}",
                    valid_days=campaign.offer_valid_days,
                    reason=(_("Thank you for your review") + f": {campaign.name}")[:200],
                    now=now,
                )
                if entry is not None:
                    feedback.bonus_points = entry.points
                    feedback.save(update_fields=["bonus_points"])
    return Answer(feedback, created=True)


def owner_addresses(*, merchant) -> list[str]:
    """Where low ratings go: the address set in the campaign settings, else the active owners."""
    configured = CampaignSettings.objects.filter(merchant=merchant).values_list("owner_email", flat=True).first()
    if configured:
        return [configured]
    return sorted(
        Membership.objects.for_merchant(merchant)
        .filter(role=Role.OWNER, is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )


def alert_low_rating(*, feedback_id: int, now: datetime | None = None) -> bool:
    """E-mail a low rating to the owner once (the row is locked and marked in the same
    transaction as the send; a failed send rolls back and the task retries)."""
    with transaction.atomic():
        feedback = (
            Feedback.objects.select_for_update(of=("self",))
            .select_related("merchant", "customer", "delivery__campaign")
            .filter(pk=feedback_id, alerted_at__isnull=True, rating__lte=LOW_RATING)
            .first()
        )
        if feedback is None:
            return False
        addresses = owner_addresses(merchant=feedback.merchant)
        if addresses:
            merchant = feedback.merchant
            with translation.override(settings.LANGUAGE_CODE):
                context = {
                    "feedback": feedback,
                    "merchant": merchant,
                    "campaign": feedback.delivery.campaign,
                    "customer": feedback.customer,
                    "when": timezone.localtime(feedback.created_at, merchant.tzinfo),
                }
                subject = _("Low rating from %(name)s: %(rating)s of 5") % {
                    "name": feedback.customer.name or feedback.customer.phone,
                    "rating": feedback.rating,
                }
                body = render_to_string("campaigns/email/low_rating.txt", context)
            send_mail(subject, body, None, addresses)
        feedback.alerted_at = now or timezone.now()
        feedback.save(update_fields=["alerted_at"])
    return True
