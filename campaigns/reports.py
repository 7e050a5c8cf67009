"""A campaign's report: what was sent, and what it brought back compared with the hold-out.

The groups (intention to treat): every customer the campaign picked who could be reached on one of
its channels, split by the deterministic hold-out. For each, from the moment of the message (the
hold-out's: when its row was written) to the end of the attribution window: did they buy, how much
(bill amounts), how many points they redeemed. Uplift in the return rate with a 95 % confidence
interval (normal approximation to the difference of two proportions, unpooled), the same for
revenue per customer (Welch), incremental revenue and ROI after the bonuses given.

Statistics run on floats internally; money leaves as Decimal in the merchant's currency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.models import CardOffer, EntryKind, LedgerEntry, Program, Purchase

from .models import Campaign, Delivery, DeliveryStatus

Z95 = 1.959963984540054
MIN_GROUP = 30  # below this many in either group, or fewer than 5 returns in one, we do not conclude
TREATED = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)
CENT = Decimal("0.01")


@dataclass
class Group:
    size: int = 0
    returned: int = 0
    revenue: float = 0.0
    revenue_sq: float = 0.0
    points_redeemed: int = 0

    @property
    def return_rate(self) -> float:
        return self.returned / self.size if self.size else 0.0

    @property
    def revenue_per_customer(self) -> float:
        return self.revenue / self.size if self.size else 0.0

    @property
    def revenue_variance(self) -> float:
        if self.size < 2:
            return 0.0
        mean = self.revenue_per_customer
        return max(self.revenue_sq / self.size - mean * mean, 0.0) * self.size / (self.size - 1)


@dataclass
class Report:
    sent: int
    delivered: int
    failed: int
    opened: int | None
    skipped: int
    treated: Group
    holdout: Group
    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None
    revenue_uplift: Decimal | None
    revenue_uplift_low: Decimal | None
    revenue_uplift_high: Decimal | None
    incremental_revenue: Decimal | None
    bonus_cost: Decimal
    offers_used: int
    offer_discount: Decimal
    roi: float | None
    too_small: bool
    verdict: str


def difference_of_proportions(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float, float]:
    p1, p0 = x1 / n1, x0 / n0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    diff = p1 - p0
    return diff, diff - Z95 * se, diff + Z95 * se


def roi_of(incremental_revenue: Decimal | None, bonus_cost: Decimal) -> float | None:
    """Return on the bonuses given: (incremental revenue − their cost) ÷ their cost. None when
    nothing was measured or nothing was given."""
    if incremental_revenue is None or bonus_cost <= 0:
        return None
    return float((incremental_revenue - bonus_cost) / bonus_cost)


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def groups_for(campaign: Campaign) -> tuple[Group, Group]:
    window = timedelta(days=campaign.attribution_days)
    rows = list(
        Delivery.objects.filter(campaign=campaign)
        .exclude(channel="")
        .filter(Q(status=DeliveryStatus.HOLDOUT) | ~Q(status__in=(DeliveryStatus.CANCELLED, DeliveryStatus.PENDING)))
        .values_list("customer_id", "status", "sent_at", "created_at")
    )
    start_of = {cid: (sent_at or created_at) for cid, _status, sent_at, created_at in rows}
    holdout_ids = {cid for cid, status, _s, _c in rows if status == DeliveryStatus.HOLDOUT}
    if not rows:
        return Group(), Group()
    first, last = min(start_of.values()), max(start_of.values()) + window
    revenue: dict[int, float] = {}
    returned: set[int] = set()
    for cid, bill, at in Purchase.objects.filter(
        merchant_id=campaign.merchant_id,
        card__customer_id__in=list(start_of),
        created_at__gte=first,
        created_at__lt=last,
    ).values_list("card__customer_id", "bill_amount", "created_at"):
        start = start_of[cid]
        if start <= at < start + window:
            returned.add(cid)
            revenue[cid] = revenue.get(cid, 0.0) + float(bill)
    redeemed: dict[int, int] = {}
    for cid, points, at in LedgerEntry.objects.filter(
        merchant_id=campaign.merchant_id,
        card__customer_id__in=list(start_of),
        kind=EntryKind.REDEEM,
        created_at__gte=first,
        created_at__lt=last,
    ).values_list("card__customer_id", "points", "created_at"):
        start = start_of[cid]
        if start <= at < start + window:
            redeemed[cid] = redeemed.get(cid, 0) - points
    treated, holdout = Group(), Group()
    for cid in start_of:
        group = holdout if cid in holdout_ids else treated
        value = revenue.get(cid, 0.0)
        group.size += 1
        group.returned += cid in returned
        group.revenue += value
        group.revenue_sq += value * value
        group.points_redeemed += redeemed.get(cid, 0)
    return treated, holdout


def campaign_report(*, campaign: Campaign) -> Report:
    counts = {
        status: Delivery.objects.filter(campaign=campaign, status=status).count()
        for status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)
    }
    emails = Delivery.objects.filter(campaign=campaign, channel="email", status__in=TREATED)
    opened = emails.filter(opened_at__isnull=False).count() if emails.exists() else None
    treated, holdout = groups_for(campaign)
    bonus_points = sum(Delivery.objects.filter(campaign=campaign).values_list("bonus_points", flat=True))
    program = Program.objects.filter(merchant_id=campaign.merchant_id).first()
    point_value = program.point_value if program is not None else Decimal(0)
    # Next-purchase offers the customers used: their extra points and the discounts the till gave.
    used = CardOffer.objects.filter(
        merchant_id=campaign.merchant_id, source=campaign.offer_source, used_at__isnull=False
    ).aggregate(points=Sum("extra_points"), discount=Sum("discount_amount"), n=Count("pk"))
    offer_points = used["points"] or 0
    offer_discount = used["discount"] or Decimal(0)
    bonus_cost = (Decimal(bonus_points + offer_points) * point_value + offer_discount).quantize(CENT)

    too_small = (
        treated.size < MIN_GROUP
        or holdout.size < MIN_GROUP
        or min(treated.returned, holdout.returned, treated.size - treated.returned, holdout.size - holdout.returned) < 5
    )
    uplift = low = high = None
    rev_uplift = rev_low = rev_high = incremental = None
    roi = None
    if treated.size and holdout.size:
        uplift, low, high = difference_of_proportions(treated.returned, treated.size, holdout.returned, holdout.size)
        diff = treated.revenue_per_customer - holdout.revenue_per_customer
        se = math.sqrt(treated.revenue_variance / treated.size + holdout.revenue_variance / holdout.size)
        rev_uplift, rev_low, rev_high = _money(diff), _money(diff - Z95 * se), _money(diff + Z95 * se)
        incremental = _money(diff * treated.size)
        roi = roi_of(incremental, bonus_cost)
    if too_small:
        verdict = _("Too small to say: the groups are too small to tell the campaign's effect from chance.")
    elif low is not None and low > 0:
        verdict = _("The campaign brought customers back: the uplift is above zero with 95% confidence.")
    elif high is not None and high < 0:
        verdict = _("Customers who got the message came back less often than the hold-out.")
    else:
        verdict = _("No clear effect: the difference could be chance.")
    return Report(
        sent=counts[DeliveryStatus.SENT] + counts[DeliveryStatus.DELIVERED],
        delivered=counts[DeliveryStatus.DELIVERED],
        failed=counts[DeliveryStatus.FAILED],
        opened=opened,
        skipped=counts[DeliveryStatus.SKIPPED],
        treated=treated,
        holdout=holdout,
        uplift=uplift,
        uplift_low=low,
        uplift_high=high,
        revenue_uplift=rev_uplift,
        revenue_uplift_low=rev_low,
        revenue_uplift_high=rev_high,
        incremental_revenue=incremental,
        bonus_cost=bonus_cost,
        offers_used=used["n"],
        offer_discount=offer_discount,
        roi=roi,
        too_small=too_small,
        verdict=verdict,
    )


# The reasons the sender itself writes (campaigns.sending), in the marketer's words; a provider's
# own reason ("550 5.1.1 mailbox unavailable") is shown as the provider gave it.
REASON_TEXT = {
    "no channel with consent": gettext_lazy("no channel the customer has and agreed to"),
    "no consent or channel gone": gettext_lazy("the customer withdrew consent or the channel is gone"),
    "frequency cap": gettext_lazy("the customer reached the message limit"),
    "campaign cancelled": gettext_lazy("the campaign was cancelled"),
    "worker lost during the send; outcome unknown, not resent": gettext_lazy(
        "the sending process stopped during the send; not sent again so as not to send twice"
    ),
}


def problem_rows(*, campaign: Campaign, limit: int = 10) -> list[tuple[str, int]]:
    """What happened to the messages that did not go, most frequent first:
    ("Not delivered: 550 mailbox unavailable", 3), ("Not sent: the customer reached the message limit", 1)."""
    rows = (
        Delivery.objects.filter(campaign=campaign, status__in=(DeliveryStatus.FAILED, DeliveryStatus.SKIPPED))
        .values_list("status", "reason")
        .annotate(n=Count("pk"))
        .order_by("-n", "status", "reason")[:limit]
    )
    result = []
    for status, reason, n in rows:
        what = REASON_TEXT.get(reason, reason) or _("no reason given")
        if status == DeliveryStatus.FAILED:
            result.append((_("Not delivered: %(reason)s") % {"reason": what}, n))
        else:
            result.append((_("Not sent: %(reason)s") % {"reason": what}, n))
    return result
