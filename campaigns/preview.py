"""What a campaign would do if sent now, without sending: the audience after consent, frequency
cap, quiet hours and hold-out, per channel, and the message rendered for three real customers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone

from . import campaign_settings, sending
from .models import Campaign, ChannelChoices, Delivery
from .personalize import recipients, render

PREVIEW_CHUNK = 5000


@dataclass
class Preview:
    audience: int = 0
    holdout: int = 0
    no_channel: int = 0
    capped: int = 0
    per_channel: Counter = field(default_factory=Counter)
    deferred_until: datetime | None = None
    samples: list[tuple[str, str, str]] = field(default_factory=list)  # (name, channel, text)

    @property
    def channel_rows(self) -> list[tuple[str, int]]:
        labels = dict(ChannelChoices.choices)
        return [(str(labels.get(channel, channel)), count) for channel, count in self.per_channel.most_common()]

    @property
    def will_send(self) -> int:
        return sum(self.per_channel.values())


def preview(*, campaign: Campaign, now: datetime | None = None) -> Preview:
    now = now or timezone.now()
    merchant = campaign.merchant
    settings = campaign_settings.settings_for(merchant=merchant)
    result = Preview(deferred_until=sending.quiet_until(settings=settings, tz=merchant.tzinfo, now=now))
    capped_check = not (campaign.transactional and settings.exempt_transactional)
    after = 0
    while True:
        ids = sending.audience_ids(campaign, after=after, limit=PREVIEW_CHUNK, now=now)
        if not ids:
            break
        after = ids[-1]
        people = recipients(merchant=merchant, customer_ids=ids, now=now, expiry_days=campaign.trigger_days)
        reach = sending.reach_for(merchant=merchant, customer_ids=ids)
        at_cap: set[int] = set()
        if capped_check:
            at_cap = set(
                Delivery.objects.filter(
                    customer_id__in=ids,
                    capped=True,
                    status__in=sending.IN_FLIGHT,
                    claimed_at__gt=now - timedelta(days=settings.cap_days),
                )
                .values("customer_id")
                .annotate(n=Count("pk"))
                .filter(n__gte=settings.cap_messages)
                .values_list("customer_id", flat=True)
            )
        for customer_id in ids:
            recipient = people.get(customer_id)
            if recipient is None:
                continue
            result.audience += 1
            if sending.in_holdout(campaign_id=campaign.pk, customer_id=customer_id, percent=campaign.holdout_percent):
                result.holdout += 1
                continue
            channel = sending.choose_channel(campaign, reach, recipient)
            if not channel:
                result.no_channel += 1
            elif customer_id in at_cap:
                result.capped += 1
            else:
                result.per_channel[channel] += 1
                if len(result.samples) < 3:
                    result.samples.append(
                        (
                            recipient.name,
                            str(dict(ChannelChoices.choices).get(channel, channel)),
                            render(campaign.body, recipient.values or {}),
                        )
                    )
    return result
