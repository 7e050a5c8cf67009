"""Wallet passes: one per card, marked when the card changes, synced to Apple
and Google by the debounced pipeline (tasks in ``loyalty/wallet/tasks.py``; other
packages reach it through ``loyalty/wallet/contract.py``).

The pipeline:

1. ``card_changed`` (in a ledger write's transaction, through ``contract``;
   ``mark_cards_changed`` for bulk changes): bump the pass's
   ``updated_at``/``update_tag`` (what the device compares) and set
   ``needs_sync_since`` unless already set. Only a pass that was not
   marked yet enqueues a sync task (due when the debounce window closes:
   through the due set in Redis, ``debounce``, or a delayed task without a
   Redis broker), so a burst of changes queues one task.
2. ``sync_pass`` (the task) claims the mark with a conditional UPDATE, so two
   workers never both send, then pushes to every registered Apple device and
   patches the Google object. It reads the card after claiming, so changes
   made while the task waited are included.
3. What fails transiently is retried by its own task: the pushes still due
   (``push_apple`` with registration ids) and the Google update.

No network call happens inside a transaction.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from loyalty.models import AppleDevice, AppleRegistration, Card, Delivery, DeviceLog, WalletPass
from loyalty.wallet import apns, debounce, google, render
from loyalty.wallet import credentials as wallet_credentials
from loyalty.wallet.apple import build_pkpass
from loyalty.wallet.credentials import WalletAvailability
from merchants.models import Merchant

logger = logging.getLogger(__name__)

NOTIFICATIONS_PER_DAY = google.MAX_NOTIFICATIONS_PER_DAY
# Above this many passes, one merchant-wide task claims them in batches
# instead of one task per pass (a design published to every card).
BULK_SYNC_THRESHOLD = 50
DEVICE_LOG_DAYS = 30


class WalletUnavailable(Exception):
    """The merchant has no usable credentials for this wallet; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- the contract other parts code against ----------------------------------------------------


def wallet_pass_for(*, card: Card) -> WalletPass:
    """The card's WalletPass, created on first use (serial, token and web
    token are random and never change)."""
    existing = WalletPass.objects.filter(card=card).first()
    if existing is not None:
        return existing
    now = timezone.now().replace(microsecond=0)
    try:
        with transaction.atomic():
            return WalletPass.objects.create(
                card=card, merchant_id=card.merchant_id, updated_at=now, update_tag=_tag(now)
            )
    except IntegrityError:
        # Another request created it at the same moment.
        return WalletPass.objects.get(card=card)


def reissue_pass(*, card: Card, now: datetime | None = None) -> WalletPass:
    """Give the card a new pass: new serial, authentication token and web card
    token. The old pass stops updating: its Apple registrations are removed (no
    more pushes), the PassKit web service answers 401 to the old serial/token,
    the old web link stops working and the Google object is left behind (a new
    one is created when the customer saves the card again). Returns the pass
    with the new tokens; the caller sends the customer the new link."""
    now = (now or timezone.now()).replace(microsecond=0)
    wallet_pass = wallet_pass_for(card=card)
    with transaction.atomic():
        locked = WalletPass.objects.select_for_update().get(pk=wallet_pass.pk)
        AppleRegistration.objects.filter(wallet_pass=locked).delete()
        locked.serial_number = secrets.token_urlsafe(24)
        locked.authentication_token = secrets.token_urlsafe(24)
        locked.web_token = secrets.token_urlsafe(24)
        locked.google_object_id = ""
        locked.google_class_id = ""
        locked.google_inserted_at = None
        locked.google_saved_at = None
        locked.pass_type_identifier = ""
        locked.needs_sync_since = None
        locked.updated_at = now
        locked.update_tag = _tag(now)
        locked.save()
    return locked


def wallets_available(*, merchant: Merchant) -> WalletAvailability:
    return wallet_credentials.availability(merchant=merchant)


def _tag(moment: datetime) -> int:
    # The opaque "passesUpdatedSince" tag: µs since the epoch.
    return int(moment.timestamp() * 1_000_000)


def mark_cards_changed(
    *, merchant: Merchant | int, card_ids: Iterable[int] | None = None, now: datetime | None = None
) -> int:
    """Mark the passes of these cards (all the merchant's cards when None) as
    changed and enqueue the debounced sync once the transaction commits.
    Cards without a pass have nothing installed and are skipped. Returns
    the number of passes marked."""
    now = now or timezone.now()
    # Last-Modified has whole seconds, and so has updated_at. Each change
    # moves it to a new second (a second ahead if two changes share one), so a
    # device holding the pass of 10:00:00 never gets a 304 for a change made
    # at 10:00:00.8. Plain arithmetic on whole seconds: no truncation in SQL,
    # which would run in the active time zone (the merchant's).
    second = now.replace(microsecond=0)
    passes = WalletPass.objects.for_merchant(merchant)
    if card_ids is not None:
        passes = passes.filter(card_id__in=list(card_ids))
    with transaction.atomic():
        # Locked in primary-key order, as a ledger write that marks several cards locks them
        # (_MARK_CARDS_SQL): two such writes wait for each other instead of deadlocking.
        ids = list(passes.order_by("pk").select_for_update().values_list("pk", flat=True))
        if not ids:
            return 0
        newly_marked = list(
            WalletPass.objects.filter(pk__in=ids, needs_sync_since__isnull=True).values_list("pk", flat=True)
        )
        WalletPass.objects.filter(pk__in=newly_marked, needs_sync_since__isnull=True).update(needs_sync_since=now)
        WalletPass.objects.filter(pk__in=ids).update(
            updated_at=Greatest(Value(second), F("updated_at") + timedelta(seconds=1)),
            update_tag=Greatest(Value(_tag(now)), F("update_tag") + 1),
        )
        if newly_marked:
            _enqueue_sync(merchant if isinstance(merchant, int) else merchant.pk, newly_marked)
    return len(ids)


# A ledger write on PostgreSQL marks the card's pass with this one statement,
# sent with its own writes in the same transaction (no second transaction, no
# query when the card has no pass): the same marks as mark_cards_changed.
# Its row says whether this change started a new burst (needs_sync_since was
# empty); only then is a sync task queued, by card_marked().
_MARK_CARD_SQL = (
    f"UPDATE {WalletPass._meta.db_table} SET needs_sync_since = COALESCE(needs_sync_since, %s), "
    "updated_at = GREATEST(%s, updated_at + interval '1 second'), update_tag = GREATEST(%s, update_tag + 1) "
    "WHERE card_id = %s RETURNING id, merchant_id, needs_sync_since = %s"
)


def card_changed_statement(*, card_id: int, now: datetime) -> tuple[str, list]:
    """(SQL, params) marking the card's pass changed (PostgreSQL); feed the
    rows it returns to ``card_marked`` inside the same transaction."""
    return _MARK_CARD_SQL, [now, now.replace(microsecond=0), _tag(now), card_id, now]


def card_marked(rows: Iterable[tuple]) -> None:
    """After ``card_changed_statement``: queue the debounced sync on commit for
    the passes this change marked first."""
    by_merchant: dict[int, list[int]] = {}
    for pass_id, merchant_id, newly_marked in rows:
        if newly_marked:
            by_merchant.setdefault(merchant_id, []).append(pass_id)
    for merchant_id, pass_ids in by_merchant.items():
        _enqueue_sync(merchant_id, pass_ids)


# Several cards at once (a referral's two cards, a merge, bulk work): their passes are locked in
# primary-key order first, as mark_cards_changed locks them.
_MARK_CARDS_SQL = (
    f"UPDATE {WalletPass._meta.db_table} SET needs_sync_since = COALESCE(needs_sync_since, %s), "
    "updated_at = GREATEST(%s, updated_at + interval '1 second'), update_tag = GREATEST(%s, update_tag + 1) "
    f"WHERE id IN (SELECT id FROM {WalletPass._meta.db_table} WHERE card_id = ANY(%s) ORDER BY id FOR UPDATE) "
    "RETURNING id, merchant_id, needs_sync_since = %s"
)


def card_changed(card_id: int, *, now: datetime | None = None) -> None:
    """The card's balance, tier, stamps or status changed: mark its pass (if it
    has one) in the caller's transaction, and queue the debounced sync when
    that commits. On PostgreSQL one statement (an UPDATE that finds no row
    when the card has no pass)."""
    cards_changed_by_id([card_id], now=now)


def cards_changed_by_id(card_ids: Iterable[int], *, now: datetime | None = None) -> None:
    """``card_changed`` for several cards (of any merchants)."""
    card_ids = sorted(set(card_ids))
    if not card_ids:
        return
    now = now or timezone.now()
    if connection.vendor != "postgresql":
        merchants = WalletPass.objects.filter(card_id__in=card_ids).values_list("merchant_id", flat=True).distinct()
        for merchant_id in list(merchants):
            mark_cards_changed(merchant=merchant_id, card_ids=card_ids, now=now)
        return
    if len(card_ids) == 1:
        sql, params = card_changed_statement(card_id=card_ids[0], now=now)
    else:
        sql, params = _MARK_CARDS_SQL, [now, now.replace(microsecond=0), _tag(now), card_ids, now]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        card_marked(cursor.fetchall())


def _task(name: str):
    # The pipeline's tasks live in ``loyalty.wallet.tasks``, an interface above
    # this module (it imports this one); they are reached through Celery's
    # registry by name so that services never import interfaces. The app
    # registers them at start-up (``LoyaltyConfig.ready``).
    return current_app.tasks[f"loyalty.wallet.tasks.{name}"]


def _enqueue_sync(merchant_id: int, pass_ids: list[int]) -> None:
    """Queue the debounced sync once the transaction commits: one task per
    pass, or one merchant-wide task that claims many passes in batches."""
    countdown = settings.WALLET_SYNC_DEBOUNCE_SECONDS
    if len(pass_ids) > BULK_SYNC_THRESHOLD:
        task = _task("sync_merchant_passes_task")
        transaction.on_commit(lambda: task.apply_async((merchant_id,), countdown=countdown))
        return
    if debounce.available():
        # One Redis round trip after commit; a drain task queues the syncs when they are due.
        transaction.on_commit(partial(debounce.schedule, pass_ids, delay=countdown))
        return
    task = _task("sync_pass_task")
    for pass_id in pass_ids:
        transaction.on_commit(partial(task.apply_async, (pass_id,), countdown=countdown))


def sync_progress(*, merchant: Merchant) -> tuple[int, int]:
    """(passes still waiting for their update, all passes) of the merchant."""
    counts = WalletPass.objects.for_merchant(merchant).aggregate(
        waiting=Count("pk", filter=Q(needs_sync_since__isnull=False)),
        total=Count("pk"),
    )
    return counts["waiting"], counts["total"]


# --- customer messages and the notification budget --------------------------------------------


def notifications_used(*, wallet_pass: WalletPass, now: datetime | None = None) -> int:
    """Customer notifications of the last 24 hours, both wallets together: one
    message shown by Apple and Google counts once."""
    since = (now or timezone.now()) - timedelta(hours=24)
    return (
        Delivery.objects.filter(wallet_pass=wallet_pass, notified=True, created_at__gt=since)
        .values("message_key")
        .distinct()
        .count()
    )


def post_card_message(*, card: Card, header: str, body: str, now: datetime | None = None) -> WalletPass:
    """Put a message on the card (both wallets). It notifies the customer while
    the card's daily budget (Google's limit: 3 per 24 hours) lasts; after that
    it is shown without a notification."""
    post_card_messages(merchant=card.merchant_id, messages=[(card, header, body)], now=now)
    return WalletPass.objects.get(card=card)


def post_card_messages(
    *, merchant: Merchant | int, messages: list[tuple[Card | int, str, str]], now: datetime | None = None
) -> dict[int, str]:
    """``post_card_message`` for many cards of one merchant at once (a campaign's batch), given
    as cards or card ids: one statement for the whole batch (the messages, the notification
    budget, the sync marks), and one debounced sync (merchant-wide above the bulk threshold).
    Returns each card's new message key. Writes rows only; call it inside the caller's
    transaction to make the messages commit with the caller's own bookkeeping."""
    now = now or timezone.now()
    merchant_id = merchant if isinstance(merchant, int) else merchant.pk
    keys: dict[int, str] = {}
    columns: tuple[list, list, list, list] = ([], [], [], [])
    for card, header, body in messages:
        card_id = card if isinstance(card, int) else card.pk
        keys[card_id] = secrets.token_hex(8)
        for column, value in zip(columns, (card_id, keys[card_id], header[:100], body[:500]), strict=True):
            column.append(value)
    with transaction.atomic():
        marked = _post_messages(merchant_id, columns, now)
        missing = set(keys) - {card_id for card_id, _, _ in marked}
        if missing:
            # Cards without a pass yet (rare: nothing installed): create it, then post again.
            for card in Card.objects.filter(pk__in=missing, merchant_id=merchant_id):
                wallet_pass_for(card=card)
            again = [i for i, card_id in enumerate(columns[0]) if card_id in missing]
            marked += _post_messages(merchant_id, tuple([column[i] for i in again] for column in columns), now)
        newly = [pass_id for _, pass_id, new in marked if new]
        if newly:
            _enqueue_sync(merchant_id, newly)
    return keys


# The messages and the same marks as mark_cards_changed, in one UPDATE … FROM unnest() (Django's
# bulk_update builds a CASE per row, which costs milliseconds of CPU per row at campaign sizes).
# The notification budget is counted per pass in the same statement. A row whose
# needs_sync_since is now this call's moment started a new burst (as in _MARK_CARD_SQL).
_POST_MESSAGES_SQL = f"""
    UPDATE {WalletPass._meta.db_table} AS w
       SET message_key = v.key, message_header = v.header, message_body = v.body, message_at = %s,
           message_notify = (
               SELECT count(DISTINCT d.message_key) FROM {Delivery._meta.db_table} AS d
                WHERE d.wallet_pass_id = w.id AND d.notified AND d.created_at > %s
           ) < %s,
           needs_sync_since = COALESCE(w.needs_sync_since, %s),
           updated_at = GREATEST(%s, w.updated_at + interval '1 second'),
           update_tag = GREATEST(%s, w.update_tag + 1)
      FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) AS v(card_id, key, header, body)
     WHERE w.card_id = v.card_id AND w.merchant_id = %s
    RETURNING w.card_id, w.id, w.needs_sync_since = %s"""


def _post_messages(merchant_id: int, columns: tuple[list, ...], now: datetime) -> list[tuple[int, int, bool]]:
    if not columns[0]:
        return []
    if connection.vendor != "postgresql":
        return _post_messages_sqlite(merchant_id, columns, now)
    since = now - timedelta(hours=24)
    params: list[Any] = [
        now,
        since,
        NOTIFICATIONS_PER_DAY,
        now,
        now.replace(microsecond=0),
        _tag(now),
        *columns,
        merchant_id,
        now,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_POST_MESSAGES_SQL, params)
        return list(cursor.fetchall())


def _post_messages_sqlite(merchant_id: int, columns: tuple[list, ...], now: datetime) -> list[tuple[int, int, bool]]:
    """``_POST_MESSAGES_SQL`` on the quick start's SQLite (no arrays to unnest, no GREATEST with
    intervals): the same rows and marks in a few ORM statements, inside the caller's transaction
    (SQLite runs one writer at a time, so nothing changes between them)."""
    card_ids, keys, headers, bodies = columns
    passes = {
        card_id: (pk, needs_sync_since)
        for pk, card_id, needs_sync_since in WalletPass.objects.filter(
            merchant_id=merchant_id, card_id__in=card_ids
        ).values_list("pk", "card_id", "needs_sync_since")
    }
    if not passes:
        return []
    pass_ids = sorted(pk for pk, _ in passes.values())
    used = dict(
        Delivery.objects.filter(wallet_pass_id__in=pass_ids, notified=True, created_at__gt=now - timedelta(hours=24))
        .values("wallet_pass_id")
        .annotate(n=Count("message_key", distinct=True))
        .values_list("wallet_pass_id", "n")
    )
    posted = [
        WalletPass(
            pk=passes[card_id][0],
            message_key=key,
            message_header=header,
            message_body=body,
            message_at=now,
            message_notify=used.get(passes[card_id][0], 0) < NOTIFICATIONS_PER_DAY,
        )
        for card_id, key, header, body in zip(card_ids, keys, headers, bodies, strict=True)
        if card_id in passes
    ]
    WalletPass.objects.bulk_update(
        posted, ["message_key", "message_header", "message_body", "message_at", "message_notify"]
    )
    WalletPass.objects.filter(pk__in=pass_ids, needs_sync_since__isnull=True).update(needs_sync_since=now)
    WalletPass.objects.filter(pk__in=pass_ids).update(
        updated_at=Greatest(Value(now.replace(microsecond=0)), F("updated_at") + timedelta(seconds=1)),
        update_tag=Greatest(Value(_tag(now)), F("update_tag") + 1),
    )
    return [(card_id, pk, needs_sync_since is None) for card_id, (pk, needs_sync_since) in passes.items()]


# --- Apple: building the pass ----------------------------------------------------------------


def apple_signer(merchant: Merchant | int, *, now: datetime | None = None):
    cert, reason = wallet_credentials.usable_apple_certificate(merchant, now=now)
    if cert is None:
        raise WalletUnavailable(reason)
    return cert


def _merchant(merchant: Merchant | int) -> Merchant:
    return merchant if isinstance(merchant, Merchant) else Merchant.objects.get(pk=merchant)


def build_pass(*, wallet_pass: WalletPass, now: datetime | None = None) -> bytes:
    """The signed .pkpass as the card is now. Records the pass type it was
    issued with (the topic its pushes must use)."""
    view = render.card_view(wallet_pass)
    signer = apple_signer(view.card.merchant, now=now)
    data = build_pkpass(render.pass_content(view), images=render.pass_images(view), signer=signer)
    issued = {"pass_type_identifier": signer.pass_type_identifier, "design_id": view.design.pk}
    if any(getattr(wallet_pass, name) != value for name, value in issued.items()):
        WalletPass.objects.filter(pk=wallet_pass.pk).update(**issued)
        for name, value in issued.items():
            setattr(wallet_pass, name, value)
    return data


# --- the sync ---------------------------------------------------------------------------------


@dataclass
class SyncOutcome:
    status: str  # "gone", "already synced", "claimed elsewhere", "synced"
    pushed: int = 0
    push_retry_ids: list[int] = field(default_factory=list)
    google: str = ""  # "", "patched", "retry", "failed", "off"


def sync_pass(*, pass_id: int, now: datetime | None = None) -> SyncOutcome:
    wallet_pass = WalletPass.objects.filter(pk=pass_id).first()
    if wallet_pass is None:
        return SyncOutcome("gone")
    since = wallet_pass.needs_sync_since
    if since is None:
        return SyncOutcome("already synced")
    now = now or timezone.now()
    # The claim: only the worker whose UPDATE matches the mark it read goes on.
    claimed = WalletPass.objects.filter(pk=pass_id, needs_sync_since=since).update(
        needs_sync_since=None, last_synced_at=now
    )
    if claimed != 1:
        return SyncOutcome("claimed elsewhere")
    wallet_pass.refresh_from_db()
    new_message = bool(wallet_pass.message_key and wallet_pass.message_at and wallet_pass.message_at >= since)
    outcome = SyncOutcome("synced")
    push = push_apple(wallet_pass=wallet_pass, new_message=new_message, now=now)
    outcome.pushed, outcome.push_retry_ids = push.delivered, push.retry_ids
    try:
        outcome.google = sync_google(wallet_pass=wallet_pass, now=now)
    except google.RetryableError:
        outcome.google = "retry"
    return outcome


@dataclass
class PushOutcome:
    delivered: int = 0
    removed: int = 0
    failed: int = 0
    retry_ids: list[int] = field(default_factory=list)


def push_apple(
    *,
    wallet_pass: WalletPass,
    registration_ids: Iterable[int] | None = None,
    new_message: bool = False,
    final_attempt: bool = True,
    now: datetime | None = None,
) -> PushOutcome:
    """Push the pass's update to its registered devices (or only to
    ``registration_ids``, when retrying). Records a Delivery per device;
    returns the registrations to retry (429/5xx/network after the client's
    own retries)."""
    return push_many(
        wallet_passes=[wallet_pass],
        registration_ids=registration_ids,
        new_message_pass_ids={wallet_pass.pk} if new_message else set(),
        now=now,
    )


def push_many(
    *,
    wallet_passes: list[WalletPass],
    registration_ids: Iterable[int] | None = None,
    new_message_pass_ids: AbstractSet[int] = frozenset(),
    now: datetime | None = None,
) -> PushOutcome:
    """Pushes for several passes of one merchant at once: one APNs call with
    every token, so they share the connection and fly concurrently."""
    outcome = PushOutcome()
    if not wallet_passes:
        return outcome
    merchant_id = wallet_passes[0].merchant_id
    query = AppleRegistration.objects.filter(wallet_pass__in=wallet_passes).select_related("device", "wallet_pass")
    if registration_ids is not None:
        query = query.filter(pk__in=list(registration_ids))
    registrations = list(query.order_by("pk"))
    if not registrations:
        return outcome
    now = now or timezone.now()
    try:
        cert = apple_signer(merchant_id, now=now)
    except WalletUnavailable as exc:
        _record_pushes(
            [(r, Delivery.Status.FAILED, exc.reason[:300], False) for r in registrations],
            new_message_pass_ids,
            now,
        )
        outcome.failed = len(registrations)
        return outcome

    topic = cert.pass_type_identifier
    sendable: list[AppleRegistration] = []
    wrong_topic: list[AppleRegistration] = []
    for registration in registrations:
        issued_as = registration.wallet_pass.pass_type_identifier
        (wrong_topic if issued_as and issued_as != topic else sendable).append(registration)
    rows = [
        (r, Delivery.Status.FAILED, "pass issued under another certificate; the device must add the pass again", False)
        for r in wrong_topic
    ]
    outcome.failed += len(wrong_topic)

    by_token: dict[str, list[AppleRegistration]] = {}
    for registration in sendable:
        by_token.setdefault(registration.device.push_token, []).append(registration)
    # The network call, outside any transaction.
    results = apns.send_pushes(cert, topic, list(by_token)) if by_token else {}
    gone: list[tuple[AppleRegistration, datetime | None]] = []
    for token, group in by_token.items():
        result = results.get(token)
        for registration in group:
            if result is None:
                rows.append((registration, Delivery.Status.RETRY, "no result", False))
                outcome.retry_ids.append(registration.pk)
            elif result.status is apns.PushStatus.OK:
                rows.append((registration, Delivery.Status.OK, f"apns-id {result.apns_id}"[:300], True))
                outcome.delivered += 1
            elif result.status is apns.PushStatus.UNREGISTERED:
                renewed = result.unregistered_at is not None and registration.updated_at > result.unregistered_at
                if renewed:
                    # The device registered again after APNs noted the token
                    # invalid (Apple: keep it); a later 410 will tell.
                    detail = _describe(result) + "; kept: the device registered again since"
                    rows.append((registration, Delivery.Status.FAILED, detail[:300], False))
                    outcome.failed += 1
                else:
                    rows.append((registration, Delivery.Status.UNREGISTERED, _describe(result), False))
                    gone.append((registration, result.unregistered_at))
            elif result.status is apns.PushStatus.RETRYABLE:
                rows.append((registration, Delivery.Status.RETRY, _describe(result), False))
                outcome.retry_ids.append(registration.pk)
            else:
                rows.append((registration, Delivery.Status.FAILED, _describe(result), False))
                outcome.failed += 1
    _record_pushes(rows, new_message_pass_ids, now)
    outcome.removed = _remove_unregistered(gone)
    return outcome


def _describe(result: apns.PushResult) -> str:
    text = f"{result.http_status or '-'} {result.reason}".strip()
    if result.attempts > 1:
        text += f" (after {result.attempts} attempts)"
    return text[:300]


def _record_pushes(rows, new_message_pass_ids: AbstractSet[int], now: datetime) -> None:
    deliveries = []
    for registration, status, detail, delivered in rows:
        wallet_pass = registration.wallet_pass
        carries_message = wallet_pass.pk in new_message_pass_ids
        deliveries.append(
            Delivery(
                merchant_id=wallet_pass.merchant_id,
                wallet_pass=wallet_pass,
                device_id=registration.device_id,
                channel=Delivery.Channel.APPLE,
                status=status,
                notified=bool(delivered and carries_message and wallet_pass.message_notify),
                message_key=wallet_pass.message_key if carries_message else "",
                detail=detail,
                created_at=now,
            )
        )
    Delivery.objects.bulk_create(deliveries, batch_size=1000)


def _remove_unregistered(gone: list[tuple[AppleRegistration, datetime | None]]) -> int:
    """Drop registrations APNs says are gone, unless the device registered
    again after APNs' timestamp; then devices left without registrations."""
    removed = 0
    device_ids = set()
    for registration, unregistered_at in gone:
        stale = AppleRegistration.objects.filter(pk=registration.pk)
        if unregistered_at is not None:
            stale = stale.filter(updated_at__lte=unregistered_at)
        count, _ = stale.delete()
        removed += 1 if count else 0
        device_ids.add(registration.device_id)
    AppleDevice.objects.filter(pk__in=device_ids, registrations__isnull=True).delete()
    return removed


# --- Google -----------------------------------------------------------------------------------


def google_client(merchant: Merchant | int):
    account = wallet_credentials.google_account_for(merchant)
    if account is None:
        raise WalletUnavailable(wallets_available(merchant=_merchant(merchant)).google_reason)
    return account, google.GoogleWalletClient(account.service_account)


def google_class_for(*, wallet_pass: WalletPass, issuer_id: str, view: render.CardView) -> str:
    """The Google class of the pass's object. An object never changes class
    (Google's reference does not say a patch may move it; see
    render.google_class_id), so this is the class it was inserted with; a new
    object joins the class the program's objects already use, so a program
    has one class and a publish patches it."""
    prefix = issuer_id + "."
    if wallet_pass.google_class_id.startswith(prefix):
        return wallet_pass.google_class_id
    existing = (
        WalletPass.objects.for_merchant(wallet_pass.merchant_id)
        .filter(google_class_id__startswith=prefix)
        .order_by("google_inserted_at", "pk")
        .values_list("google_class_id", flat=True)
        .first()
    )
    return existing or render.google_class_id(issuer_id, wallet_pass.merchant_id, view.design_version)


def _ensure_class(client: google.GoogleWalletClient, view: render.CardView, issuer_id: str, class_id: str) -> str:
    """Insert the class, or patch it to the current design (insert answers 409
    → PATCH); remembered in the cache by what was sent, so each design is
    sent once per class."""
    import hashlib
    import json

    body = google.loyalty_class_json(render.google_class(view, issuer_id, class_id))
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    key = f"wallet:google-class:{body['id']}:{digest}"
    if not cache.get(key):
        client.insert_class(body)
        cache.set(key, True, 24 * 60 * 60)
    return body["id"]


def ensure_google_object(*, wallet_pass: WalletPass, now: datetime | None = None) -> tuple[str, dict]:
    """Insert the card's Google object (and its class) if it isn't there yet,
    else bring it up to date. Returns (object id, service-account info) for
    the save link. Raises WalletUnavailable, or google.GoogleWalletError."""
    now = now or timezone.now()
    account, client = google_client(wallet_pass.merchant_id)
    with client:
        view = render.card_view(wallet_pass)
        class_id = _ensure_class(
            client,
            view,
            account.issuer_id,
            google_class_for(wallet_pass=wallet_pass, issuer_id=account.issuer_id, view=view),
        )
        body = google.loyalty_object_json(render.google_object(view, account.issuer_id, class_id))
        client.insert_object(body)  # 409 → PATCH: idempotent
    WalletPass.objects.filter(pk=wallet_pass.pk).update(
        google_object_id=body["id"], google_class_id=class_id, google_inserted_at=now
    )
    wallet_pass.google_object_id, wallet_pass.google_class_id = body["id"], class_id
    wallet_pass.google_inserted_at = now
    return body["id"], account.service_account


def google_save_link(*, wallet_pass: WalletPass, now: datetime | None = None) -> str:
    object_id, info = ensure_google_object(wallet_pass=wallet_pass, now=now)
    return google.save_link(info, [object_id])


def sync_google(*, wallet_pass: WalletPass, now: datetime | None = None) -> str:
    """Patch the card's Google object and add the pending message. Returns
    "" when the card is not in Google Wallet, else what happened."""
    if not wallet_pass.google_object_id:
        return ""
    now = now or timezone.now()
    try:
        account, client = google_client(wallet_pass.merchant_id)
    except WalletUnavailable as exc:
        _record_google(wallet_pass, Delivery.Status.FAILED, exc.reason, now)
        return "off"
    if not wallet_pass.google_object_id.startswith(account.issuer_id + "."):
        # The merchant switched issuer accounts: the old object can't be updated.
        _record_google(wallet_pass, Delivery.Status.FAILED, "object belongs to another issuer", now)
        return "failed"
    try:
        with client:
            view = render.card_view(wallet_pass)
            class_id = google_class_for(wallet_pass=wallet_pass, issuer_id=account.issuer_id, view=view)
            _ensure_class(client, view, account.issuer_id, class_id)
            body = google.loyalty_object_json(render.google_object(view, account.issuer_id, class_id))
            try:
                resource = client.patch_object(wallet_pass.google_object_id, body)
            except google.NotFound:
                resource = client.insert_object(body)
            message_type = ""
            if wallet_pass.message_key and wallet_pass.message_key != wallet_pass.google_message_key:
                message_type = _send_google_message(client, wallet_pass, now)
    except google.RetryableError as exc:
        _record_google(wallet_pass, Delivery.Status.RETRY, str(exc), now)
        raise
    except google.GoogleWalletError as exc:
        _record_google(wallet_pass, Delivery.Status.FAILED, str(exc), now)
        logger.warning("Google Wallet update of pass %s failed: %s", wallet_pass.pk, exc)
        return "failed"
    changes: dict = {}
    if class_id != wallet_pass.google_class_id:
        changes["google_class_id"] = class_id
    # Google says whether someone saved the object (read-only "hasUsers").
    if resource.get("hasUsers") and wallet_pass.google_saved_at is None:
        changes["google_saved_at"] = now
    if changes:
        WalletPass.objects.filter(pk=wallet_pass.pk).update(**changes)
        for name, value in changes.items():
            setattr(wallet_pass, name, value)
    detail = "patched" + (f"; message {message_type}" if message_type else "")
    if not message_type:
        _record_google(wallet_pass, Delivery.Status.OK, detail, now)
    return "patched"


def _send_google_message(client: google.GoogleWalletClient, wallet_pass: WalletPass, now: datetime) -> str:
    used = notifications_used(wallet_pass=wallet_pass, now=now)
    # The decision taken when the message was posted holds for both wallets;
    # the budget is checked again, as another message may have used it since.
    allowed = used if wallet_pass.message_notify else NOTIFICATIONS_PER_DAY
    message = google.WalletMessage(
        id=wallet_pass.message_key, header=wallet_pass.message_header or "—", body=wallet_pass.message_body
    )
    message_type = client.send_message(wallet_pass.google_object_id, message, sent_last_24h=allowed)
    WalletPass.objects.filter(pk=wallet_pass.pk).update(google_message_key=wallet_pass.message_key)
    wallet_pass.google_message_key = wallet_pass.message_key
    Delivery.objects.create(
        merchant_id=wallet_pass.merchant_id,
        wallet_pass=wallet_pass,
        channel=Delivery.Channel.GOOGLE,
        status=Delivery.Status.OK,
        notified=message_type == "TEXT_AND_NOTIFY",
        message_key=wallet_pass.message_key,
        detail=f"patched; message {message_type}",
        created_at=now,
    )
    return message_type


def _record_google(wallet_pass: WalletPass, status: str, detail: str, now: datetime) -> None:
    Delivery.objects.create(
        merchant_id=wallet_pass.merchant_id,
        wallet_pass=wallet_pass,
        channel=Delivery.Channel.GOOGLE,
        status=status,
        detail=detail[:300],
        created_at=now,
    )


# --- housekeeping -----------------------------------------------------------------------------


def claim_marked_passes(*, merchant_id: int, limit: int, now: datetime | None = None) -> list[tuple[WalletPass, bool]]:
    """Claim up to ``limit`` marked passes of a merchant (bulk sync). Returns
    each claimed pass with whether a new message came with it.

    Rows are locked with SKIP LOCKED and cleared in the same transaction, so
    two workers claiming at once get disjoint batches."""
    now = now or timezone.now()
    with transaction.atomic():
        candidates = list(
            WalletPass.objects.select_for_update(skip_locked=True)
            .filter(merchant_id=merchant_id, needs_sync_since__isnull=False)
            .order_by("pk")[:limit]
        )
        WalletPass.objects.filter(pk__in=[wp.pk for wp in candidates]).update(needs_sync_since=None, last_synced_at=now)
    claimed = []
    for wallet_pass in candidates:
        since = wallet_pass.needs_sync_since
        assert since is not None  # claimed with needs_sync_since__isnull=False
        new_message = bool(wallet_pass.message_key and wallet_pass.message_at and wallet_pass.message_at >= since)
        wallet_pass.needs_sync_since, wallet_pass.last_synced_at = None, now
        claimed.append((wallet_pass, new_message))
    return claimed


def stale_marked_passes(*, older_than: timedelta, now: datetime | None = None) -> list[int]:
    """Passes marked long ago whose sync task was lost (a worker died)."""
    cutoff = (now or timezone.now()) - older_than
    return list(WalletPass.objects.filter(needs_sync_since__lt=cutoff).values_list("pk", flat=True)[:5000])


def cleanup_stale_registrations(*, now: datetime | None = None) -> dict[str, int]:
    """Registrations whose latest push said the device is gone (and that were
    not renewed since), and devices left with no registration."""
    now = now or timezone.now()
    latest = Delivery.objects.filter(
        wallet_pass_id=OuterRef("wallet_pass_id"), device_id=OuterRef("device_id"), channel=Delivery.Channel.APPLE
    ).order_by("-created_at", "-pk")
    stale = AppleRegistration.objects.annotate(
        last_status=Subquery(latest.values("status")[:1]), last_at=Subquery(latest.values("created_at")[:1])
    ).filter(last_status=Delivery.Status.UNREGISTERED, last_at__gt=F("updated_at"))
    removed, _ = AppleRegistration.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()
    # A device that registers its first pass creates the row and the
    # registration together; an hour's grace keeps that safe.
    devices, _ = AppleDevice.objects.filter(
        registrations__isnull=True, updated_at__lt=now - timedelta(hours=1)
    ).delete()
    # The device log is for support, not an archive (anyone may post to it).
    DeviceLog.objects.filter(created_at__lt=now - timedelta(days=DEVICE_LOG_DAYS)).delete()
    return {"registrations": removed, "devices": devices}


# --- what the dashboard and admin show --------------------------------------------------------


@dataclass(frozen=True)
class DeviceStatus:
    registered_at: datetime
    renewed_at: datetime
    last_push: Delivery | None


@dataclass(frozen=True)
class WalletStatus:
    wallet_pass: WalletPass | None
    devices: list[DeviceStatus]
    last_apple_push: Delivery | None
    last_google_update: Delivery | None
    recent: list[Delivery]
    notifications_today: int

    @property
    def in_apple_wallet(self) -> bool:
        return bool(self.devices)

    @property
    def in_google_wallet(self) -> bool:
        return bool(self.wallet_pass and self.wallet_pass.google_inserted_at)


def wallet_status_for(*, card: Card, now: datetime | None = None) -> WalletStatus:
    wallet_pass = WalletPass.objects.filter(card=card).first()
    if wallet_pass is None:
        return WalletStatus(None, [], None, None, [], 0)
    registrations = list(
        AppleRegistration.objects.filter(wallet_pass=wallet_pass).select_related("device").order_by("created_at")
    )
    deliveries = Delivery.objects.filter(wallet_pass=wallet_pass).order_by("-created_at", "-pk")
    devices = []
    for registration in registrations:
        last = deliveries.filter(channel=Delivery.Channel.APPLE, device_id=registration.device_id).first()
        devices.append(DeviceStatus(registration.created_at, registration.updated_at, last))
    return WalletStatus(
        wallet_pass=wallet_pass,
        devices=devices,
        last_apple_push=deliveries.filter(channel=Delivery.Channel.APPLE).first(),
        last_google_update=deliveries.filter(channel=Delivery.Channel.GOOGLE).first(),
        recent=list(deliveries[:10]),
        notifications_today=notifications_used(wallet_pass=wallet_pass, now=now),
    )
