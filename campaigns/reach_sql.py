"""The sending pipeline's decisions as SQL, so that a chunk of thousands of customers is planned
and claimed in one statement each instead of a handful of queries and Python loops per chunk.

Each fragment here is the SQL twin of a Python rule in ``campaigns.sending`` (which still serves
the preview and single rows) and must agree with it; ``tests/campaigns/test_sending.py`` checks
the hold-out assignment row by row and the channel choice through whole sends.

Aliases the fragments expect in the outer query: ``c`` the customer (``loyalty_customer``) and
``k`` the customer's card at this merchant (``loyalty_card``, LEFT JOINed: one per customer and
merchant, enforced by ``card_one_per_customer``).
"""

from __future__ import annotations

from loyalty.models import AppleRegistration, Card, Customer, WalletPass

from . import dialect
from .channels.base import Channel
from .models import ChannelConsent, Delivery, DeliveryStatus, TelegramLink

CUSTOMERS = Customer._meta.db_table
CARDS = Card._meta.db_table
DELIVERIES = Delivery._meta.db_table
IN_FLIGHT = (DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.DELIVERED)


def holdout_sql(*, campaign_id: int, percent: int) -> tuple[str, list]:
    """``sending.in_holdout`` for customer ``c``: the first 8 bytes of
    sha256("<campaign>:<customer>") as an unsigned big-endian number, modulo 100, below the
    percentage. The 64-bit number is read as two 32-bit halves (a bigint is signed). SQLite
    calls the Python function itself (``dialect.holdout_bucket``, registered per connection)."""
    if not dialect.is_postgresql():
        return f"{dialect.HOLDOUT_BUCKET}(%s, c.id) < %s", [campaign_id, percent]
    digest = "encode(sha256(convert_to(%s::text || ':' || c.id::text, 'UTF8')), 'hex')"
    high = f"('x' || lpad(substr({digest}, 1, 8), 16, '0'))::bit(64)::bigint"
    low = f"('x' || lpad(substr({digest}, 9, 8), 16, '0'))::bit(64)::bigint"
    return f"(({high})::numeric * 4294967296 + ({low})) %% 100 < %s", [campaign_id, campaign_id, percent]


def has_channel_sql(*, channel: str, merchant_id: int) -> tuple[str, list]:
    """``sending.has_channel``: the customer can be reached on ``channel`` at all."""
    if channel == Channel.WALLET:
        # A card whose pass is installed: saved to Google, or registered by an Apple device.
        return (
            f"""(k.id IS NOT NULL AND EXISTS (
                    SELECT 1 FROM {WalletPass._meta.db_table} AS wp
                     WHERE wp.card_id = k.id AND wp.merchant_id = %s
                       AND (wp.google_saved_at IS NOT NULL OR EXISTS (
                            SELECT 1 FROM {AppleRegistration._meta.db_table} AS ar
                             WHERE ar.wallet_pass_id = wp.id AND ar.merchant_id = %s))))""",
            [merchant_id, merchant_id],
        )
    if channel == Channel.EMAIL:
        return "(c.email <> '')", []
    if channel == Channel.SMS:
        return "(c.phone <> '')", []
    if channel == Channel.TELEGRAM:
        return (
            f"""EXISTS (SELECT 1 FROM {TelegramLink._meta.db_table} AS tl
                         WHERE tl.customer_id = c.id AND tl.merchant_id = %s
                           AND tl.chat_id IS NOT NULL AND tl.blocked_at IS NULL)""",
            [merchant_id],
        )
    return "FALSE", []


def allowed_sql(*, channel: str, merchant_id: int, transactional: bool) -> tuple[str, list]:
    """``sending.allowed``: the customer's own choice for the channel (an unsubscribe, or a
    consent given for it) wins; otherwise marketing needs the general consent and service
    messages do not."""
    return (
        f"""COALESCE((SELECT cc.allowed FROM {ChannelConsent._meta.db_table} AS cc
                       WHERE cc.customer_id = c.id AND cc.channel = %s AND cc.merchant_id = %s),
                     %s OR c.marketing_consent)""",
        [channel, merchant_id, transactional],
    )


def reachable_sql(*, channel: str, merchant_id: int, transactional: bool) -> tuple[str, list]:
    has, has_params = has_channel_sql(channel=channel, merchant_id=merchant_id)
    ok, ok_params = allowed_sql(channel=channel, merchant_id=merchant_id, transactional=transactional)
    return f"({has} AND {ok})", [*has_params, *ok_params]


def choose_channel_sql(*, channels: list[str], merchant_id: int, transactional: bool) -> tuple[str, list]:
    """``sending.choose_channel``: the first of the campaign's channels the customer has and
    consented to, or ''."""
    whens, params = [], []
    for channel in channels:
        condition, condition_params = reachable_sql(
            channel=channel, merchant_id=merchant_id, transactional=transactional
        )
        whens.append(f"WHEN {condition} THEN %s")
        params += [*condition_params, channel]
    if not whens:
        return "''", []
    return f"(CASE {' '.join(whens)} ELSE '' END)", params


def recent_capped_sql(*, since_param: str = "%s") -> str:
    """The frequency cap's count for delivery ``d``'s customer: capped messages in flight or
    sent since the start of the cap's window, across every campaign (index delivery_cap_idx)."""
    statuses = ", ".join(f"'{status}'" for status in IN_FLIGHT)
    return f"""(SELECT count(*) FROM {DELIVERIES} AS r
                 WHERE r.customer_id = d.customer_id AND r.capped AND r.status IN ({statuses})
                   AND r.claimed_at > {since_param})"""
