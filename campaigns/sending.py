"""Sending a campaign occurrence: fan out in chunks with stored progress, then send each delivery
once. Both steps are set-based: a chunk or a batch of thousands is a handful of statements
(the decisions written as SQL in ``campaigns.reach_sql``), not queries per customer.

1. ``start_send`` creates the ``Send`` (unique per campaign and occurrence).
2. ``fan_out_chunk`` walks the audience by customer id after ``send.cursor``, ``CHUNK`` at a time.
   Per chunk, one INSERT … SELECT in the send's transaction: delivery rows (unique on campaign,
   customer, occurrence; ON CONFLICT DO NOTHING), the hold-out and the chosen channel decided in
   SQL, the cursor moved. After commit the chunk's pending ids go to a send task. A fan-out
   killed mid-way restarts at the cursor; rows already inserted are not inserted twice.
3. ``send_deliveries`` claims rows a batch at a time (house style §12): under per-customer
   advisory locks, one ``SELECT … FOR UPDATE SKIP LOCKED`` takes the rows still PENDING and
   re-checks consent (an unsubscribe works at once) and the frequency cap across all campaigns;
   a row another worker holds is left to it.
   - The wallet channel only writes rows (``post_card_messages``), so claim, messages, bonus and
     "sent" commit together: a worker killed there leaves the batch PENDING for its successor,
     never half-sent (exactly once).
   - Network channels (SMTP, SMS gateway, Telegram) commit the claim (SENDING) of a batch of
     ``NETWORK_BATCH`` first and call the provider outside any transaction, one connection per
     chunk. A worker killed during those calls leaves the batch's unrecorded rows SENDING; after
     the lease, ``resume_stalled`` marks them failed with "outcome unknown" instead of sending
     them again (at most once: no provider offers an idempotency key).
4. Transient errors go back to PENDING with ``not_before`` (exponential backoff), up to
   ``MAX_ATTEMPTS``; permanent refusals are FAILED with the provider's reason.
5. Quiet hours (merchant's time zone) defer the remaining rows to the end of the quiet period.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings as django_settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext

from loyalty.ledger.offers import grant_offer as grant_next_purchase_offer
from loyalty.ledger.support import grant_bonus
from loyalty.models import AppleRegistration, CardStatus, EntryKind, OfferKind, WalletPass
from loyalty.wallet import contract as wallet
from merchants.models import Merchant

from . import consent as consent_service
from . import dialect
from . import feedback as feedback_service
from .campaign_settings import settings_for
from .channels.base import Channel, ChannelClient, OutgoingMessage, TransientChannelError
from .delivery_reports import open_pixel_url
from .models import (
    Campaign,
    CampaignSettings,
    ChannelConsent,
    Delivery,
    DeliveryStatus,
    Send,
    SendStatus,
    Status,
    TelegramLink,
)
from .personalize import PLACEHOLDER_PATTERN, Recipient, recipients, render

FEEDBACK_PLACEHOLDER = "{feedback_link}"

logger = logging.getLogger(__name__)

# Customers per fan-out chunk (and deliveries per send task).
CHUNK = django_settings.CAMPAIGN_FANOUT_CHUNK
MAX_ATTEMPTS = 5
# A send whose worker has not reported for this long is taken over by the dispatcher.
LEASE = timedelta(minutes=2)
# pg_advisory_xact_lock(class << 32 | customer id): the frequency cap's critical section, per customer.
CAP_LOCK_CLASS = 9_001
WALLET_BATCH = 1000
# Network deliveries claimed (SENDING) together before their provider calls: the most a killed
# worker leaves with an unknown outcome.
NETWORK_BATCH = 50
IN_FLIGHT = (DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.DELIVERED)


# --- audience, channels, hold-out --------------------------------------------------------------


def in_holdout(*, campaign_id: int, customer_id: int, percent: int) -> bool:
    """Deterministic: the same customer is held out of the same campaign every time."""
    return dialect.holdout_bucket(campaign_id, customer_id) < percent


@dataclass
class Reach:
    """What a chunk of customers can be reached on."""

    wallet_cards: set[int] = field(default_factory=set)  # customer ids with a wallet pass installed
    chats: dict[int, int] = field(default_factory=dict)  # customer id → Telegram chat id
    choices: dict[tuple[int, str], bool] = field(default_factory=dict)  # (customer, channel) → allowed


def reach_for(*, merchant: Merchant, customer_ids: list[int]) -> Reach:
    reach = Reach()
    installed = WalletPass.objects.filter(merchant=merchant, card__customer_id__in=customer_ids).filter(
        Q(google_saved_at__isnull=False)
        | Q(pk__in=AppleRegistration.objects.filter(merchant=merchant).values("wallet_pass_id"))
    )
    reach.wallet_cards = set(installed.values_list("card__customer_id", flat=True))
    reach.chats = {
        customer_id: chat_id
        for customer_id, chat_id in TelegramLink.objects.filter(
            merchant=merchant, customer_id__in=customer_ids, chat_id__isnull=False, blocked_at__isnull=True
        ).values_list("customer_id", "chat_id")
        if chat_id is not None
    }
    for customer_id, channel, allowed in ChannelConsent.objects.filter(
        merchant=merchant, customer_id__in=customer_ids
    ).values_list("customer_id", "channel", "allowed"):
        reach.choices[(customer_id, channel)] = allowed
    return reach


def allowed(reach: Reach, recipient: Recipient, channel: str, *, transactional: bool) -> bool:
    choice = reach.choices.get((recipient.customer_id, channel))
    if choice is not None:
        return choice
    # Service messages need no marketing consent, but an unsubscribe (above) still stops them.
    return transactional or recipient.marketing_consent


def has_channel(reach: Reach, recipient: Recipient, channel: str) -> bool:
    if channel == Channel.WALLET:
        return recipient.customer_id in reach.wallet_cards and recipient.card_id is not None
    if channel == Channel.EMAIL:
        return bool(recipient.email)
    if channel == Channel.SMS:
        return bool(recipient.phone)
    if channel == Channel.TELEGRAM:
        return recipient.customer_id in reach.chats
    return False


def choose_channel(campaign: Campaign, reach: Reach, recipient: Recipient) -> str:
    for channel in campaign.channels:
        if has_channel(reach, recipient, channel) and allowed(
            reach, recipient, channel, transactional=campaign.transactional
        ):
            return channel
    return ""


def address_for(reach: Reach, recipient: Recipient, channel: str) -> str:
    if channel == Channel.WALLET:
        return str(recipient.card_id)
    if channel == Channel.EMAIL:
        return recipient.email
    if channel == Channel.SMS:
        return recipient.phone
    return str(reach.chats.get(recipient.customer_id, ""))


# --- quiet hours ----------------------------------------------------------------------------------


def quiet_until(*, settings: CampaignSettings, tz, now: datetime) -> datetime | None:
    """The end of the quiet period ``now`` falls in (merchant's local time), or None."""
    start, end = settings.quiet_start, settings.quiet_end
    if start == end:
        return None
    local = timezone.localtime(now, tz)
    t = local.time()
    quiet = (start <= t or t < end) if start > end else (start <= t < end)
    if not quiet:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    # Built from the local wall-clock date, so a daylight-saving change in between is honoured.
    return datetime.combine(day, end, tzinfo=tz)


# --- starting and fanning out --------------------------------------------------------------------


def start_send(*, campaign: Campaign, occurrence: str, now: datetime | None = None) -> tuple[Send, bool]:
    """The send of this occurrence (created once). Returns (send, created)."""
    now = now or timezone.now()
    send, created = Send.objects.get_or_create(
        campaign=campaign,
        occurrence=occurrence,
        defaults={"merchant_id": campaign.merchant_id, "heartbeat_at": now, "created_at": now},
    )
    if created and campaign.kind != "automation":
        Campaign.objects.filter(pk=campaign.pk).update(status=Status.SENDING, updated_at=now)
    return send, created


def audience_ids(campaign: Campaign, *, after: int, limit: int, now: datetime) -> list[int]:
    from .segments.query import audience_for

    queryset = audience_for(merchant=campaign.merchant, segment=campaign.segment, now=now)
    return list(queryset.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:limit])


def plan_deliveries(
    *, campaign: Campaign, send: Send, customer_ids: list[int], occurrence: str, now: datetime
) -> list[Delivery]:
    merchant = campaign.merchant
    people = recipients(merchant=merchant, customer_ids=customer_ids, now=now)
    reach = reach_for(merchant=merchant, customer_ids=customer_ids)
    settings = settings_for(merchant=merchant)
    capped = not (campaign.transactional and settings.exempt_transactional)
    rows = []
    for customer_id in customer_ids:
        recipient = people.get(customer_id)
        if recipient is None:
            continue
        row = Delivery(
            merchant_id=campaign.merchant_id,
            campaign=campaign,
            send=send,
            customer_id=customer_id,
            occurrence=occurrence,
            capped=capped,
            created_at=now,
        )
        if in_holdout(campaign_id=campaign.pk, customer_id=customer_id, percent=campaign.holdout_percent):
            row.status = DeliveryStatus.HOLDOUT
            row.channel = choose_channel(campaign, reach, recipient)
        else:
            row.channel = choose_channel(campaign, reach, recipient)
            if not row.channel:
                row.status, row.reason = DeliveryStatus.SKIPPED, "no channel with consent"
        rows.append(row)
    return rows


def fan_out_chunk(*, send_id: int, now: datetime | None = None) -> tuple[list[int], bool]:
    """Add the next chunk's delivery rows. Returns (pending ids of the chunk, finished).

    One statement per chunk after the send's lock: the audience's next ``CHUNK`` customers by
    id, the hold-out and the channel decided in SQL (``campaigns.reach_sql``), the rows inserted
    (ON CONFLICT DO NOTHING on the unique constraint) and the send's cursor moved, or the send
    switched to SENDING when the audience is exhausted. Rows and cursor commit together, so the
    pending rows of a chunk are exactly the rows this statement inserted."""
    now = now or timezone.now()
    with transaction.atomic():
        send = (
            Send.objects.select_for_update(of=("self",))
            .select_related("campaign__merchant", "campaign__segment")
            .get(pk=send_id)
        )
        if send.status != SendStatus.FANNING_OUT:
            return [], True
        if not dialect.is_postgresql():
            last, pending = _fan_out_sqlite(send=send, now=now)
        else:
            sql, params = _fan_out_sql(send=send, now=now)
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                last, pending = cursor.fetchone()
    if last is None:
        return [], True
    return list(pending), False


def _audience_chunk_sql(campaign: Campaign, *, after: int, now: datetime) -> tuple[str, list]:
    from .segments.query import audience_for

    queryset = audience_for(merchant=campaign.merchant, segment=campaign.segment, now=now)
    sql, params = queryset.filter(pk__gt=after).order_by("pk").values("pk")[:CHUNK].query.sql_with_params()
    return sql, list(params)


def _delivery_columns(explicit: dict[str, tuple[str, list]]) -> tuple[list[str], list[str], list]:
    """Every column of the delivery table with its SQL expression and parameters, in table
    order: the given ones, and for any other column its field's default as a parameter (the
    model may gain columns this statement never heard of; each row of a chunk gets the same
    default)."""
    names: list[str] = []
    values: list[str] = []
    params: list = []
    for model_field in Delivery._meta.concrete_fields:
        if model_field.primary_key or model_field.column is None:
            continue
        names.append(model_field.column)
        if model_field.column in explicit:
            expression, expression_params = explicit[model_field.column]
            values.append(expression)
            params += expression_params
        else:
            values.append("%s")
            params.append(model_field.get_db_prep_save(model_field.get_default(), connection))
    return names, values, params


def _planned_columns(*, send: Send, now: datetime) -> tuple[list[str], list[str], list]:
    """The delivery row's columns and their expressions over ``p`` (the planned customer)."""
    campaign = send.campaign
    capped = not (campaign.transactional and settings_for(merchant=campaign.merchant_id).exempt_transactional)
    return _delivery_columns(
        {
            "merchant_id": ("%s", [campaign.merchant_id]),
            "campaign_id": ("%s", [campaign.pk]),
            "send_id": ("%s", [send.pk]),
            "customer_id": ("p.customer_id", []),
            "occurrence": ("%s", [send.occurrence]),
            "channel": ("p.channel", []),
            "status": (
                "CASE WHEN p.held THEN %s WHEN p.channel = '' THEN %s ELSE %s END",
                [DeliveryStatus.HOLDOUT, DeliveryStatus.SKIPPED, DeliveryStatus.PENDING],
            ),
            "reason": ("CASE WHEN NOT p.held AND p.channel = '' THEN %s ELSE '' END", ["no channel with consent"]),
            "capped": ("%s", [capped]),
            "created_at": ("%s", [now]),
        }
    )


def _fan_out_sqlite(*, send: Send, now: datetime) -> tuple[int | None, list[int]]:
    """``_fan_out_sql`` on SQLite, which has no data-modifying CTE and no arrays: the chunk's
    last id, then the same planning and INSERT with the new rows RETURNed, then the send moved,
    three statements in the caller's transaction (SQLite runs one writer at a time)."""
    from . import reach_sql

    campaign = send.campaign
    audience, audience_params = _audience_chunk_sql(campaign, after=send.cursor, now=now)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH audience(id) AS ({audience}) SELECT max(id) FROM audience", audience_params)
        (last,) = cursor.fetchone()
        if last is None:
            Send.objects.filter(pk=send.pk).update(status=SendStatus.SENDING, heartbeat_at=now)
            return None, []
        held, held_params = reach_sql.holdout_sql(campaign_id=campaign.pk, percent=campaign.holdout_percent)
        channel, channel_params = reach_sql.choose_channel_sql(
            channels=list(campaign.channels), merchant_id=campaign.merchant_id, transactional=campaign.transactional
        )
        names, values, value_params = _planned_columns(send=send, now=now)
        # "WHERE true": SQLite would read the ON CONFLICT of an INSERT … SELECT as a join's ON.
        cursor.execute(
            f"""
            WITH audience(id) AS ({audience}),
            planned AS (
                SELECT c.id AS customer_id, {held} AS held, {channel} AS channel
                  FROM audience AS a
                  JOIN {reach_sql.CUSTOMERS} AS c ON c.id = a.id
                  LEFT JOIN {reach_sql.CARDS} AS k ON k.customer_id = c.id AND k.merchant_id = %s
            )
            INSERT INTO {reach_sql.DELIVERIES} ({", ".join(names)})
            SELECT {", ".join(values)} FROM planned AS p WHERE true ORDER BY p.customer_id
            ON CONFLICT (campaign_id, customer_id, occurrence) DO NOTHING
            RETURNING id, status""",
            dialect.params([*audience_params, *held_params, *channel_params, campaign.merchant_id, *value_params]),
        )
        pending = sorted(pk for pk, status in cursor.fetchall() if status == DeliveryStatus.PENDING)
    Send.objects.filter(pk=send.pk).update(cursor=last, heartbeat_at=now)
    return last, pending


def _fan_out_sql(*, send: Send, now: datetime) -> tuple[str, list]:
    from . import reach_sql

    campaign = send.campaign
    merchant_id = campaign.merchant_id
    audience, audience_params = _audience_chunk_sql(campaign, after=send.cursor, now=now)
    held, held_params = reach_sql.holdout_sql(campaign_id=campaign.pk, percent=campaign.holdout_percent)
    channel, channel_params = reach_sql.choose_channel_sql(
        channels=list(campaign.channels), merchant_id=merchant_id, transactional=campaign.transactional
    )
    names, values, value_params = _planned_columns(send=send, now=now)
    sql = f"""
        WITH audience(id) AS MATERIALIZED ({audience}),
        planned AS (
            SELECT c.id AS customer_id, {held} AS held, {channel} AS channel
              FROM audience AS a
              JOIN {reach_sql.CUSTOMERS} AS c ON c.id = a.id
              LEFT JOIN {reach_sql.CARDS} AS k ON k.customer_id = c.id AND k.merchant_id = %s
        ),
        inserted AS (
            INSERT INTO {reach_sql.DELIVERIES} ({", ".join(names)})
            SELECT {", ".join(values)} FROM planned AS p ORDER BY p.customer_id
            ON CONFLICT (campaign_id, customer_id, occurrence) DO NOTHING
            RETURNING id, status
        ),
        moved AS (
            UPDATE {Send._meta.db_table}
               SET cursor = COALESCE((SELECT max(id) FROM audience), cursor),
                   status = CASE WHEN EXISTS (SELECT 1 FROM audience) THEN status ELSE %s END,
                   heartbeat_at = %s
             WHERE id = %s
        )
        SELECT (SELECT max(id) FROM audience),
               ARRAY(SELECT id FROM inserted WHERE status = %s ORDER BY id)"""
    params = [
        *audience_params,
        *held_params,
        *channel_params,
        merchant_id,
        *value_params,
        SendStatus.SENDING,
        now,
        send.pk,
        DeliveryStatus.PENDING,
    ]
    return sql, params


def add_trigger_deliveries(*, campaign: Campaign, send: Send, occurrences: dict[int, str], now: datetime) -> list[int]:
    """An automation's rows: each customer with their own occurrence (``birthday:2026``,
    ``purchase:123``). Rows that exist already are left alone. Returns the new pending ids."""
    by_occurrence: dict[str, list[int]] = {}
    for customer_id, occurrence in occurrences.items():
        by_occurrence.setdefault(occurrence, []).append(customer_id)
    with transaction.atomic():
        for occurrence, customer_ids in by_occurrence.items():
            Delivery.objects.bulk_create(
                plan_deliveries(
                    campaign=campaign, send=send, customer_ids=customer_ids, occurrence=occurrence, now=now
                ),
                ignore_conflicts=True,
            )
        Send.objects.filter(pk=send.pk).update(heartbeat_at=now)
        return list(
            Delivery.objects.filter(
                send=send, customer_id__in=list(occurrences), status=DeliveryStatus.PENDING, attempts=0
            ).values_list("pk", flat=True)
        )


# --- sending --------------------------------------------------------------------------------------


def client_for(channel: str) -> ChannelClient:
    from .channels.email import EmailChannel
    from .channels.sms import SmsChannel
    from .channels.telegram import TelegramChannel
    from .channels.wallet import WalletChannel

    if channel == Channel.WALLET:
        return WalletChannel()
    if channel == Channel.EMAIL:
        return EmailChannel()
    if channel == Channel.SMS:
        from django.conf import settings
        from django.urls import reverse

        return SmsChannel(status_callback_url=settings.PUBLIC_BASE_URL + reverse("campaigns_sms_status"))
    if channel == Channel.TELEGRAM:
        return TelegramChannel()
    raise ValueError(channel)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


@dataclass
class Outcome:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retry: list[int] = field(default_factory=list)
    retry_at: datetime | None = None
    deferred_until: datetime | None = None
    stopped: bool = False


def message_for(
    *, campaign: Campaign, delivery: Delivery, recipient: Recipient, reach: Reach, sender_name: str
) -> OutgoingMessage:
    from django.template.loader import render_to_string

    values = recipient.values or {}
    text = render(campaign.body, values)
    if campaign.trigger == "post_purchase":
        # The follow-up's feedback page: where the marketer put {feedback_link}, else on a line of its own.
        link = feedback_service.feedback_url(delivery_id=delivery.pk)
        if FEEDBACK_PLACEHOLDER in text:
            text = text.replace(FEEDBACK_PLACEHOLDER, link)
        else:
            text = f"{text}\n{gettext('How was your visit? Rate it: %(url)s') % {'url': link}}"
    subject = render(campaign.subject, values) or campaign.merchant.name
    unsubscribe = ""
    if delivery.channel != Channel.WALLET:
        unsubscribe = consent_service.unsubscribe_url(customer_id=recipient.customer_id, channel=delivery.channel)
    html = ""
    if delivery.channel == Channel.EMAIL:
        html = render_to_string(
            "campaigns/email/message.html",
            {
                "subject": subject,
                "text": text,
                "merchant": campaign.merchant,
                "unsubscribe_url": unsubscribe,
                "open_pixel_url": open_pixel_url(delivery_id=delivery.pk),
            },
        )
        footer = render_to_string("campaigns/email/footer.txt", {"unsubscribe_url": unsubscribe}).strip()
        text = f"{text}\n\n--\n{footer}"
    return OutgoingMessage(
        merchant_id=campaign.merchant_id,
        customer_id=recipient.customer_id,
        address=address_for(reach, recipient, delivery.channel),
        text=text,
        subject=subject,
        html=html,
        sender_name=sender_name or campaign.merchant.name[:11],
        unsubscribe_url=unsubscribe,
        reference=str(delivery.pk),
        extra={"unsubscribe_label": gettext("Unsubscribe")},
    )


def _offer_key(campaign: Campaign, delivery: Delivery) -> str:
    if campaign.trigger == "birthday" and delivery.occurrence.startswith("birthday:"):
        # One owner of birthdays: the program's birthday bonus uses this key too
        # (loyalty.ledger.jobs), so the customer is paid once whichever comes first.
        return f"birthday:{delivery.customer_id}:{delivery.occurrence.split(':', 1)[1]}"
    return f"campaign:{campaign.pk}:{delivery.customer_id}:{delivery.occurrence}"


def _grant_offer(campaign: Campaign, delivery: Delivery, card_id: int | None, now: datetime) -> int:
    """The campaign's offer for this delivery: a next-purchase offer on the card (applied by the
    till, its cost reported from loyalty's offer row) and the bonus points (returned)."""
    if card_id is None:
        return 0
    if campaign.offer_multiplier or campaign.offer_discount_percent:
        grant_next_purchase_offer(
            merchant=campaign.merchant,
            card=card_id,
            kind=OfferKind.MULTIPLIER if campaign.offer_multiplier else OfferKind.DISCOUNT,
            multiplier=campaign.offer_multiplier,
            discount_percent=campaign.offer_discount_percent,
            valid_days=campaign.offer_valid_days or 14,
            source=campaign.offer_source,
            label=campaign.name,
            idempotency_key=_offer_key(campaign, delivery) + ":next-purchase",
            now=now,
        )
    if not campaign.offer_points:
        return 0
    entry = grant_bonus(
        merchant=campaign.merchant,
        card=card_id,
        kind=EntryKind.BONUS_BIRTHDAY if campaign.trigger == "birthday" else EntryKind.BONUS_CAMPAIGN,
        points=campaign.offer_points,
        idempotency_key=_offer_key(campaign, delivery),
        valid_days=campaign.offer_valid_days,
        reason=campaign.name[:200],
        now=now,
    )
    return entry.points if entry is not None else 0


def send_deliveries(
    *,
    send_id: int,
    delivery_ids: Iterable[int],
    now: datetime | None = None,
    clock: Callable[[], datetime] = timezone.now,
) -> Outcome:
    outcome = Outcome()
    send = Send.objects.select_related("campaign__merchant").filter(pk=send_id).first()
    if send is None:
        return outcome
    campaign = send.campaign
    merchant = campaign.merchant
    now = now or clock()
    settings = settings_for(merchant=merchant)
    ids = list(delivery_ids)
    if send.status in (SendStatus.PAUSED, SendStatus.CANCELLED):
        outcome.stopped = True
        return outcome
    until = quiet_until(settings=settings, tz=merchant.tzinfo, now=now)
    if until is not None:
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING).update(not_before=until)
        outcome.deferred_until = until
        return outcome
    rows = list(
        Delivery.objects.filter(pk__in=ids, send=send, status=DeliveryStatus.PENDING)
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .order_by("pk")
        .values_list("pk", "customer_id", "channel")
    )
    clients: dict[str, ChannelClient] = {}

    def carry_on() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Send._meta.db_table} SET heartbeat_at = %s WHERE id = %s RETURNING status",
                dialect.params([clock(), send.pk]),
            )
            found = cursor.fetchone()
        outcome.stopped = found is None or found[0] in (SendStatus.PAUSED, SendStatus.CANCELLED)
        return not outcome.stopped

    wallet_rows = [(pk, customer_id) for pk, customer_id, channel in rows if channel == Channel.WALLET]
    other_rows = [(pk, customer_id) for pk, customer_id, channel in rows if channel != Channel.WALLET]
    try:
        for start in range(0, len(wallet_rows), WALLET_BATCH):
            if start and not carry_on():
                break
            _send_wallet_batch(campaign, send.pk, wallet_rows[start : start + WALLET_BATCH], settings, outcome, clock())
        for start in range(0, len(other_rows), NETWORK_BATCH):
            if outcome.stopped or (start and not carry_on()):
                break
            _send_network_batch(
                campaign, send.pk, other_rows[start : start + NETWORK_BATCH], clients, settings, outcome, clock
            )
    finally:
        for client in clients.values():
            client.close()
    Send.objects.filter(pk=send.pk).update(heartbeat_at=clock())
    finish_if_done(send_id=send.pk, now=clock())
    return outcome


@dataclass
class Claimed:
    """A delivery row claimed for sending, with what the checks found (``_claim``)."""

    pk: int
    customer_id: int
    occurrence: str
    channel: str
    attempts: int
    card_id: int | None
    card_blocked: bool
    reachable: bool
    over_cap: bool
    chat_id: int | None

    def as_delivery(self, campaign: Campaign) -> Delivery:
        return Delivery(
            pk=self.pk,
            campaign=campaign,
            merchant_id=campaign.merchant_id,
            customer_id=self.customer_id,
            occurrence=self.occurrence,
            channel=self.channel,
            attempts=self.attempts,
        )


def _claim(
    campaign: Campaign, send_id: int, rows: list[tuple[int, int]], settings: CampaignSettings, now: datetime
) -> list[Claimed]:
    """Inside the caller's transaction: the customers' cap locks, then the rows still PENDING
    locked (skipping rows another worker holds) with, for each, whether the customer can still be
    reached on the row's channel with consent (read now: an unsubscribe a second ago counts) and
    whether the frequency cap across all campaigns is reached. Two statements for the batch."""
    from . import reach_sql

    customer_ids = sorted({customer_id for _, customer_id in rows})
    merchant_id = campaign.merchant_id
    reachable, reachable_params = [], []
    for channel in Channel.ALL:
        condition, condition_params = reach_sql.reachable_sql(
            channel=channel, merchant_id=merchant_id, transactional=campaign.transactional
        )
        reachable.append(f"WHEN %s THEN {condition}")
        reachable_params += [channel, *condition_params]
    postgresql = dialect.is_postgresql()
    ids, ids_params = dialect.in_list([pk for pk, _ in rows])
    skip_locked = "\n                   FOR UPDATE OF d SKIP LOCKED" if postgresql else ""
    with connection.cursor() as cursor:
        # Two campaigns sending to one customer at once must not both pass the cap check; the
        # locks are taken in customer order, so two batches never deadlock. SQLite needs neither
        # lock nor SKIP LOCKED: its transactions begin IMMEDIATE (config.settings), so one writer
        # at a time runs this check and its writes.
        if postgresql:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s::bigint * 4294967296 + c) FROM unnest(%s::bigint[]) AS c ORDER BY c",
                [CAP_LOCK_CLASS, customer_ids],
            )
        cursor.execute(
            f"""SELECT d.id, d.customer_id, d.occurrence, d.channel, d.attempts, k.id, k.status = %s,
                       COALESCE(CASE d.channel {" ".join(reachable)} ELSE FALSE END, FALSE),
                       d.capped AND {reach_sql.recent_capped_sql()} >= %s,
                       (SELECT tl.chat_id FROM campaigns_telegramlink AS tl
                         WHERE tl.customer_id = c.id AND tl.merchant_id = %s AND d.channel = %s)
                  FROM {reach_sql.DELIVERIES} AS d
                  JOIN {reach_sql.CUSTOMERS} AS c ON c.id = d.customer_id
                  LEFT JOIN {reach_sql.CARDS} AS k ON k.customer_id = d.customer_id AND k.merchant_id = %s
                 WHERE d.id {ids} AND d.send_id = %s AND d.status = %s
                   AND (d.not_before IS NULL OR d.not_before <= %s)
                 ORDER BY d.id{skip_locked}""",
            dialect.params(
                [
                    CardStatus.BLOCKED,
                    *reachable_params,
                    now - timedelta(days=settings.cap_days),
                    settings.cap_messages,
                    merchant_id,
                    Channel.TELEGRAM,
                    merchant_id,
                    *ids_params,
                    send_id,
                    DeliveryStatus.PENDING,
                    now,
                ]
            ),
        )
        return [Claimed(*row) for row in cursor.fetchall()]


def _verdict(row: Claimed) -> str:
    """Why a claimed row is not sent, or '' to send it."""
    if not row.reachable:
        return "no consent or channel gone"
    if row.over_cap:
        return "frequency cap"
    if row.channel == Channel.WALLET and (row.card_id is None or row.card_blocked):
        return "card blocked"
    return ""


def _placeholders(campaign: Campaign) -> set[str]:
    return set(PLACEHOLDER_PATTERN.findall(campaign.body)) | set(PLACEHOLDER_PATTERN.findall(campaign.subject))


# One UPDATE … FROM unnest() for a batch's outcomes (bulk_update's CASE per row is slow at this
# size). A retry goes back to PENDING only if the row is still ours (SENDING); a final outcome is
# written whatever happened meanwhile (the message did go, or did fail).
_RECORD_SQL = f"""
    UPDATE {Delivery._meta.db_table} AS d
       SET status = v.status, reason = v.reason,
           claimed_at = COALESCE(v.claimed_at, d.claimed_at),
           attempts = d.attempts + v.attempt,
           sent_at = CASE WHEN v.status = '{DeliveryStatus.SENT}' THEN v.at ELSE d.sent_at END,
           provider_id = CASE WHEN v.status = '{DeliveryStatus.SENT}' THEN v.provider_id ELSE d.provider_id END,
           bonus_points = CASE WHEN v.status = '{DeliveryStatus.SENT}' THEN v.bonus ELSE d.bonus_points END,
           not_before = COALESCE(v.not_before, d.not_before)
      FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::int[], %s::timestamptz[],
                  %s::text[], %s::bigint[], %s::timestamptz[])
           AS v(id, status, reason, claimed_at, attempt, at, provider_id, bonus, not_before)
     WHERE d.id = v.id AND (v.status <> '{DeliveryStatus.PENDING}' OR d.status = '{DeliveryStatus.SENDING}')"""

# SQLite has no arrays to unnest: the same UPDATE row by row (executemany), its values repeated
# where _RECORD_SQL reads a column of v twice (_sqlite_row).
_RECORD_ROW_SQL = f"""
    UPDATE {Delivery._meta.db_table}
       SET status = %s, reason = %s,
           claimed_at = COALESCE(%s, claimed_at),
           attempts = attempts + %s,
           sent_at = CASE WHEN %s = '{DeliveryStatus.SENT}' THEN %s ELSE sent_at END,
           provider_id = CASE WHEN %s = '{DeliveryStatus.SENT}' THEN %s ELSE provider_id END,
           bonus_points = CASE WHEN %s = '{DeliveryStatus.SENT}' THEN %s ELSE bonus_points END,
           not_before = COALESCE(%s, not_before)
     WHERE id = %s AND (%s <> '{DeliveryStatus.PENDING}' OR status = '{DeliveryStatus.SENDING}')"""


def _sqlite_row(pk, status, reason, claimed_at, attempt, at, provider_id, bonus, not_before) -> list:
    return dialect.params(
        [status, reason, claimed_at, attempt, status, at, status, provider_id, status, bonus, not_before, pk, status]
    )


@dataclass
class Outcomes:
    """Rows' new states, written by one statement (``_RECORD_SQL``)."""

    columns: tuple[list, ...] = field(default_factory=lambda: ([], [], [], [], [], [], [], [], []))

    def add(
        self,
        pk: int,
        status: str,
        *,
        reason: str = "",
        claimed_at: datetime | None = None,
        attempt: int = 0,
        at: datetime | None = None,
        provider_id: str = "",
        bonus: int = 0,
        not_before: datetime | None = None,
    ) -> None:
        values = (pk, status, reason[:500], claimed_at, attempt, at, provider_id[:100], bonus, not_before)
        for column, value in zip(self.columns, values, strict=True):
            column.append(value)

    def write(self) -> None:
        if not self.columns[0]:
            return
        with connection.cursor() as cursor:
            if dialect.is_postgresql():
                cursor.execute(_RECORD_SQL, list(self.columns))
            else:
                cursor.executemany(_RECORD_ROW_SQL, [_sqlite_row(*row) for row in zip(*self.columns, strict=True)])


def _send_wallet_batch(
    campaign: Campaign,
    send_id: int,
    rows: list[tuple[int, int]],
    settings: CampaignSettings,
    outcome: Outcome,
    now: datetime,
) -> None:
    """Wallet deliveries, a batch in one transaction: the rows claimed with consent and cap
    re-read (``_claim``), offers granted, the messages put on the cards in one statement
    (``wallet.post_card_messages``) and the rows marked sent or skipped in one more. A worker
    killed here rolls all of it back: the rows are PENDING again and nothing was sent."""
    with transaction.atomic():
        claimed = _claim(campaign, send_id, rows, settings, now)
        results = Outcomes()
        to_send = []
        for row in claimed:
            reason = _verdict(row)
            if reason:
                results.add(row.pk, DeliveryStatus.SKIPPED, reason=reason)
                outcome.skipped += 1
            else:
                to_send.append(row)
        if to_send:
            people = recipients(
                merchant=campaign.merchant,
                customer_ids=[row.customer_id for row in to_send],
                now=now,
                expiry_days=campaign.trigger_days,
                fields=_placeholders(campaign),
            )
            reach = Reach()
            texts = []
            for row in to_send:
                recipient = people[row.customer_id]
                delivery = row.as_delivery(campaign)
                bonus = _grant_offer(campaign, delivery, row.card_id, now)
                if bonus:
                    balance = int((recipient.values or {}).get("balance") or 0) + bonus
                    recipient.values = {**(recipient.values or {}), "balance": str(balance)}
                message = message_for(
                    campaign=campaign,
                    delivery=delivery,
                    recipient=recipient,
                    reach=reach,
                    sender_name=settings.sender_name,
                )
                assert row.card_id is not None  # _verdict skips wallet rows without a card
                texts.append((row.card_id, message.subject or message.sender_name, message.text, bonus))
            keys = wallet.post_card_messages(
                merchant=campaign.merchant_id, messages=[(card_id, h, t) for card_id, h, t, _ in texts], now=now
            )
            for row, (card_id, _, _, bonus) in zip(to_send, texts, strict=True):
                results.add(
                    row.pk,
                    DeliveryStatus.SENT,
                    claimed_at=now,
                    attempt=1,
                    at=now,
                    provider_id=keys[card_id],
                    bonus=bonus,
                )
            outcome.sent += len(to_send)
        results.write()


def _send_network_batch(
    campaign: Campaign,
    send_id: int,
    rows: list[tuple[int, int]],
    clients: dict[str, ChannelClient],
    settings: CampaignSettings,
    outcome: Outcome,
    clock: Callable[[], datetime],
) -> None:
    """E-mail, SMS and Telegram deliveries, a batch at a time: the rows claimed (consent and cap
    re-read) and marked SENDING in one transaction, then each message handed to the provider
    outside any transaction (on the client's one connection), then the outcomes written in one
    statement. A worker killed during the provider calls leaves the batch's rows SENDING; after
    the lease, ``resume_stalled`` marks them failed with "outcome unknown" rather than sending
    them again (at most once: no provider offers an idempotency key)."""
    now = clock()
    with transaction.atomic():
        claimed = _claim(campaign, send_id, rows, settings, now)
        claims = Outcomes()
        to_send = []
        for row in claimed:
            reason = _verdict(row)
            if reason:
                claims.add(row.pk, DeliveryStatus.SKIPPED, reason=reason)
                outcome.skipped += 1
            else:
                claims.add(row.pk, DeliveryStatus.SENDING, claimed_at=now, attempt=1)
                row.attempts += 1
                to_send.append(row)
        claims.write()
    if not to_send:
        return
    people = recipients(
        merchant=campaign.merchant,
        customer_ids=[row.customer_id for row in to_send],
        now=now,
        expiry_days=campaign.trigger_days,
        fields=_placeholders(campaign),
    )
    reach = Reach(chats={row.customer_id: row.chat_id for row in to_send if row.chat_id is not None})
    results = Outcomes()
    off: list[tuple[int, str, str]] = []
    try:
        for row in to_send:
            delivery = row.as_delivery(campaign)
            recipient = people[row.customer_id]
            message = message_for(
                campaign=campaign, delivery=delivery, recipient=recipient, reach=reach, sender_name=settings.sender_name
            )
            try:
                result = _client(clients, row.channel).send(message)
            except TransientChannelError as exc:
                clients.pop(row.channel, None)
                if row.attempts >= MAX_ATTEMPTS:
                    results.add(row.pk, DeliveryStatus.FAILED, reason=exc.reason)
                    outcome.failed += 1
                    continue
                wait = timedelta(seconds=exc.retry_after) if exc.retry_after else backoff(row.attempts)
                retry_at = clock() + wait
                results.add(row.pk, DeliveryStatus.PENDING, reason=exc.reason, not_before=retry_at)
                outcome.retry.append(row.pk)
                outcome.retry_at = max(outcome.retry_at or retry_at, retry_at)
                continue
            if result.ok:
                bonus = _grant_offer(campaign, delivery, recipient.card_id, now)
                results.add(row.pk, DeliveryStatus.SENT, at=now, provider_id=result.provider_id, bonus=bonus)
                outcome.sent += 1
            else:
                results.add(row.pk, DeliveryStatus.FAILED, reason=result.reason)
                outcome.failed += 1
                if result.channel_off:
                    off.append((row.customer_id, row.channel, result.reason))
    finally:
        # What was handed to the provider is recorded even if a later message raised.
        results.write()
    for customer_id, channel, reason in off:
        consent_service.channel_off(customer_id=customer_id, channel=channel, reason=reason)


def _client(clients: dict[str, ChannelClient], channel: str) -> ChannelClient:
    if channel not in clients:
        client = client_for(channel)
        client.open()
        clients[channel] = client
    return clients[channel]


def finish_if_done(*, send_id: int, now: datetime) -> bool:
    send = Send.objects.filter(pk=send_id).select_related("campaign").first()
    if send is None or send.status != SendStatus.SENDING:
        return False
    if send.campaign.kind == "automation":
        return False
    if Delivery.objects.filter(send=send, status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING)).exists():
        return False
    if Send.objects.filter(pk=send_id, status=SendStatus.SENDING).update(status=SendStatus.DONE, finished_at=now):
        if send.campaign.kind == "broadcast":
            Campaign.objects.filter(pk=send.campaign_id, status=Status.SENDING).update(
                status=Status.DONE, updated_at=now
            )
        else:
            Campaign.objects.filter(pk=send.campaign_id, status=Status.SENDING).update(
                status=Status.ACTIVE, updated_at=now
            )
        return True
    return False


# --- pause, cancel, resume -----------------------------------------------------------------------


def _disable_beat_entry(campaign: Campaign) -> None:
    if campaign.periodic_task_id:
        from django_celery_beat.models import PeriodicTask

        PeriodicTask.objects.filter(pk=campaign.periodic_task_id).update(enabled=False)


def pause(*, campaign: Campaign, now: datetime | None = None) -> int:
    now = now or timezone.now()
    _disable_beat_entry(campaign)
    Campaign.objects.filter(pk=campaign.pk, status__in=(Status.SENDING, Status.SCHEDULED, Status.ACTIVE)).update(
        status=Status.PAUSED, updated_at=now
    )
    return Send.objects.filter(campaign=campaign, status__in=(SendStatus.FANNING_OUT, SendStatus.SENDING)).update(
        status=SendStatus.PAUSED
    )


def resume(*, campaign: Campaign, now: datetime | None = None) -> list[int]:
    """Undo a pause: the paused sends carry on (the caller enqueues them)."""
    now = now or timezone.now()
    sends = list(Send.objects.filter(campaign=campaign, status=SendStatus.PAUSED))
    for send in sends:
        fanned = Delivery.objects.filter(send=send).exists() and send.cursor > 0
        Send.objects.filter(pk=send.pk).update(
            status=SendStatus.SENDING if fanned else SendStatus.FANNING_OUT, heartbeat_at=now - LEASE * 2
        )
    new_status = Status.ACTIVE if campaign.kind != "broadcast" else Status.SENDING
    Campaign.objects.filter(pk=campaign.pk, status=Status.PAUSED).update(status=new_status, updated_at=now)
    return [s.pk for s in sends]


def cancel(*, campaign: Campaign, now: datetime | None = None) -> int:
    now = now or timezone.now()
    _disable_beat_entry(campaign)
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).exclude(status=Status.DONE).update(
            status=Status.CANCELLED, updated_at=now
        )
        Send.objects.filter(campaign=campaign).exclude(status=SendStatus.DONE).update(
            status=SendStatus.CANCELLED, finished_at=now
        )
        return Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.CANCELLED, reason="campaign cancelled"
        )


@dataclass
class Takeover:
    fan_out: list[int] = field(default_factory=list)
    chunks: list[tuple[int, list[int]]] = field(default_factory=list)
    interrupted: int = 0


def resume_stalled(*, now: datetime | None = None) -> Takeover:
    """Sends whose worker went quiet for longer than the lease: fan-outs to continue, pending
    rows (due now) to send again, and rows a dead worker left SENDING marked as failed with an
    unknown outcome (sending them again could duplicate the message)."""
    now = now or timezone.now()
    takeover = Takeover()
    stalled = Send.objects.filter(
        status__in=(SendStatus.FANNING_OUT, SendStatus.SENDING), heartbeat_at__lt=now - LEASE
    ).order_by("pk")
    for send in stalled:
        if not Send.objects.filter(pk=send.pk, heartbeat_at=send.heartbeat_at).update(heartbeat_at=now):
            continue  # another dispatcher took it
        takeover.interrupted += Delivery.objects.filter(
            send=send, status=DeliveryStatus.SENDING, claimed_at__lt=now - LEASE
        ).update(status=DeliveryStatus.FAILED, reason="worker lost during the send; outcome unknown, not resent")
        if send.status == SendStatus.FANNING_OUT:
            takeover.fan_out.append(send.pk)
        pending = list(
            Delivery.objects.filter(send=send, status=DeliveryStatus.PENDING)
            .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for start in range(0, len(pending), CHUNK):
            takeover.chunks.append((send.pk, pending[start : start + CHUNK]))
        if send.status == SendStatus.SENDING and not pending:
            finish_if_done(send_id=send.pk, now=now)
    return takeover


def due_deferred(*, now: datetime | None = None) -> list[tuple[int, list[int]]]:
    """Deferred rows (quiet hours, retry backoff) whose time has come, by send."""
    now = now or timezone.now()
    rows = (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, not_before__lte=now, send__status=SendStatus.SENDING)
        .order_by("send_id", "pk")
        .values_list("send_id", "pk")[:20_000]
    )
    by_send: dict[int, list[int]] = {}
    for send_id, pk in rows:
        by_send.setdefault(send_id, []).append(pk)
    return [(send_id, ids[i : i + CHUNK]) for send_id, ids in by_send.items() for i in range(0, len(ids), CHUNK)]


# --- progress -------------------------------------------------------------------------------------


def progress(*, campaign: Campaign) -> dict[str, int]:
    counts = dict(
        Delivery.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    total = sum(counts.values())
    return {
        "total": total,
        "sent": counts.get(DeliveryStatus.SENT, 0) + counts.get(DeliveryStatus.DELIVERED, 0),
        "delivered": counts.get(DeliveryStatus.DELIVERED, 0),
        "failed": counts.get(DeliveryStatus.FAILED, 0),
        "skipped": counts.get(DeliveryStatus.SKIPPED, 0),
        "holdout": counts.get(DeliveryStatus.HOLDOUT, 0),
        "remaining": counts.get(DeliveryStatus.PENDING, 0) + counts.get(DeliveryStatus.SENDING, 0),
        "cancelled": counts.get(DeliveryStatus.CANCELLED, 0),
    }


# --- scheduling -----------------------------------------------------------------------------------


def schedule(*, campaign: Campaign, send_at: datetime | None, now: datetime | None = None) -> Campaign:
    """A broadcast goes out at ``send_at`` (None: at the dispatcher's next run)."""
    now = now or timezone.now()
    campaign.send_at = send_at or now
    campaign.status = Status.SCHEDULED
    campaign.updated_at = now
    campaign.save(update_fields=["send_at", "status", "updated_at"])
    return campaign


def claim_due_broadcasts(*, now: datetime | None = None) -> list[int]:
    """Scheduled one-off campaigns whose time has come, each claimed by one dispatcher; their
    sends are created here (occurrence "once")."""
    now = now or timezone.now()
    started = []
    due = Campaign.objects.filter(status=Status.SCHEDULED, send_at__lte=now, kind="broadcast").order_by("send_at", "pk")
    for campaign in due.select_related("merchant")[:100]:
        if Campaign.objects.filter(pk=campaign.pk, status=Status.SCHEDULED).update(
            status=Status.SENDING, updated_at=now
        ):
            send, _ = start_send(campaign=campaign, occurrence="once", now=now)
            started.append(send.pk)
    return started


def recurring_occurrence(*, campaign: Campaign, now: datetime) -> str:
    # One occurrence per local day: a beat entry that fires twice in a day sends once.
    return "run:" + timezone.localtime(now, campaign.merchant.tzinfo).date().isoformat()


def set_recurring(*, campaign: Campaign, crontab: dict[str, str], now: datetime | None = None) -> Campaign:
    """A recurring campaign's own django-celery-beat entry (editable in admin too), in the
    merchant's time zone: beat fires ``run_recurring_campaign_task``, one occurrence per local day."""
    import json

    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    now = now or timezone.now()
    fields = {
        name: str(crontab.get(name, "*")) for name in ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
    }
    schedule_row, _ = CrontabSchedule.objects.get_or_create(timezone=campaign.merchant.time_zone, **fields)
    with transaction.atomic():
        values = {
            "task": "campaigns.tasks.run_recurring_campaign_task",
            "crontab": schedule_row,
            "interval": None,
            "args": json.dumps([campaign.pk]),
            "enabled": True,
        }
        if campaign.periodic_task_id:
            PeriodicTask.objects.filter(pk=campaign.periodic_task_id).update(**values)
        else:
            task = PeriodicTask.objects.create(name=f"campaign {campaign.pk}: {campaign.name}"[:200], **values)
            campaign.periodic_task = task
        campaign.kind = "recurring"
        campaign.status = Status.ACTIVE
        campaign.updated_at = now
        campaign.save(update_fields=["periodic_task", "kind", "status", "updated_at"])
    return campaign
