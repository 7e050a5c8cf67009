"""Campaign sending, the RFM recompute and a segment count on the embedded SQLite default: the
same functions as on PostgreSQL (fan-out, claim, outcomes, the wallet and e-mail channels), with
the dialect switched only where the SQL differs. The sending tasks run eagerly (fan-out queues
each chunk's send task, which runs at once); the hold-out bucket computed by SQLite must be the
one ``sending.in_holdout`` computes in Python. Run in a subprocess on a fresh SQLite file."""

from __future__ import annotations

import json

import pytest

from tests.quickstart_manage import quickstart_manage

SCRIPT = """
import json
from datetime import datetime, timedelta
from decimal import Decimal
from django.core import mail
from django.db import connection
from django.utils import timezone
from campaigns import sending
from campaigns.models import Campaign, CampaignSettings, Delivery, RfmScore
from campaigns.segments.rfm import recompute_rfm
from campaigns.segments.selectors import segment_size
from campaigns.tasks import fan_out_task
from loyalty.enrollment.services import enroll_customer
from loyalty.ledger import purchase
from loyalty.models import Card, WalletPass
from loyalty.program.services import program_for
from loyalty.wallet.contract import wallet_pass_for
from merchants.models import Location, Merchant
assert connection.vendor == "sqlite"
merchant = Merchant.objects.create(name="S", slug="s", country="RU", currency="RUB", time_zone="Europe/Moscow")
location = Location.objects.create(merchant=merchant, name="Till")
program_for(merchant=merchant)
# No quiet hours: the default ones (21:00-09:00 in Moscow) would defer every row when the test runs
# in the evening, and the send would stay "sending" until the dispatcher's next pass.
CampaignSettings.objects.create(merchant=merchant, quiet_start="00:00", quiet_end="00:00")
customers = []
for n in range(40):
    card = enroll_customer(
        merchant=merchant, phone=f"+7916{n:07d}", name=f"C{n}", email=f"c{n}@example.test", location=location,
        marketing_consent=True, consent_channel="qr", consent_text_version="v1", source="import",
    )
    customers.append(card.customer)
    if n % 2 == 0:  # half of them have the pass saved to Google Wallet: the wallet channel
        wallet_pass = wallet_pass_for(card=card)
        wallet_pass.google_saved_at = timezone.now()
        wallet_pass.save(update_fields=["google_saved_at"])
    for i in range(n % 5 + 1):
        purchase(
            merchant=merchant, card=Card.objects.get(pk=card.pk), location=location,
            bill_amount=Decimal(100 + 10 * n), receipt_id=f"R{n}-{i}", idempotency_key=f"k{n}-{i}",
        )
campaign = Campaign.objects.create(
    merchant=merchant, name="News", kind="broadcast", subject="News", body="{first_name}: {balance}",
    channels=["wallet", "email"], holdout_percent=30,
)
send, _ = sending.start_send(campaign=campaign, occurrence="once")
chunks = fan_out_task(send.pk)
send.refresh_from_db()
rows = list(Delivery.objects.filter(campaign=campaign).values_list("customer_id", "channel", "status"))
python_held = sorted(
    c.pk for c in customers if sending.in_holdout(campaign_id=campaign.pk, customer_id=c.pk, percent=30)
)
# The SQL bucket against the Python one for many pairs, not only this campaign's.
from campaigns import reach_sql
held_sql, held_params = reach_sql.holdout_sql(campaign_id=campaign.pk, percent=30)
buckets = {}
with connection.cursor() as cursor:
    for campaign_id in (1, 7, 12345, 2**40 + 3):
        for percent in (1, 30, 50, 99):
            sql, params = reach_sql.holdout_sql(campaign_id=campaign_id, percent=percent)
            cursor.execute(f"SELECT c.id FROM loyalty_customer AS c WHERE {sql} ORDER BY c.id", params)
            got = [row[0] for row in cursor.fetchall()]
            want = [c.pk for c in customers
                    if sending.in_holdout(campaign_id=campaign_id, customer_id=c.pk, percent=percent)]
            buckets[f"{campaign_id}/{percent}"] = got == want
# The local day RFM's recency uses: 22:30 UTC is already the next day in Moscow.
with connection.cursor() as cursor:
    cursor.execute("SELECT local_day(%s, %s)", [datetime(2026, 11, 30, 22, 30), "Europe/Moscow"])
    moscow_day = cursor.fetchone()[0]
scored = recompute_rfm(merchant=merchant)
again = recompute_rfm(merchant=merchant, now=timezone.now() + timedelta(days=1))
size = segment_size(merchant=merchant, definition={"groups": [{"conditions": [
    {"field": "rfm_group", "op": "in", "value": sorted(set(RfmScore.objects.values_list("group", flat=True)))[:1]},
]}]})
first_group = sorted(set(RfmScore.objects.values_list("group", flat=True)))[0]
print("RESULT", json.dumps({
    "send": send.status,
    "chunks": chunks,
    "rows": rows,
    "customers": [c.pk for c in customers],
    "wallet_customers": [c.pk for i, c in enumerate(customers) if i % 2 == 0],
    "python_held": python_held,
    "buckets": buckets,
    "wallet_messages": sorted(
        WalletPass.objects.filter(merchant=merchant).exclude(message_key="").values_list("card__customer_id", flat=True)
    ),
    "mail_to": sorted(m.to[0] for m in getattr(mail, "outbox", [])),
    "emails": {c.pk: c.email for c in customers},
    "moscow_day": moscow_day,
    "scored": [scored, again, RfmScore.objects.filter(merchant=merchant).count()],
    "segment": [size.count, RfmScore.objects.filter(merchant=merchant, group=first_group).count()],
}))
"""


# The campaign sends in the command itself (eager tasks), to a local mailbox.
SENDING = {
    "CELERY_TASK_ALWAYS_EAGER": "1",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "CAMPAIGN_EMAIL_BACKEND": "",
    "CAMPAIGN_FANOUT_CHUNK": "7",  # 40 customers: six chunks, each with its own send task
}


@pytest.mark.timeout(1200)
def test_campaign_sending_rfm_and_segment_count_on_sqlite(tmp_path):
    quickstart_manage(tmp_path, "migrate", "--noinput", "-v", "0", **SENDING)
    output = quickstart_manage(tmp_path, "shell", "-c", SCRIPT, **SENDING).stdout
    result = json.loads(output.split("RESULT ", 1)[1])
    assert result["send"] == "done" and result["chunks"] == 6
    rows = result["rows"]
    # Exactly one row per customer, the hold-out the one Python computes.
    assert sorted(customer for customer, _, _ in rows) == sorted(result["customers"])
    held = sorted(customer for customer, _, status in rows if status == "holdout")
    assert held == result["python_held"] and 0 < len(held) < len(rows)
    assert all(result["buckets"].values()), result["buckets"]
    sent = {customer: channel for customer, channel, status in rows if status == "sent"}
    assert set(sent) == set(result["customers"]) - set(held)
    wallet = set(result["wallet_customers"])
    assert all(channel == ("wallet" if customer in wallet else "email") for customer, channel in sent.items())
    # The wallet rows' messages are on those customers' passes, and on no other pass.
    assert result["wallet_messages"] == sorted(c for c, channel in sent.items() if channel == "wallet")
    emails = result["emails"]
    assert result["mail_to"] == sorted(emails[str(c)] for c, channel in sent.items() if channel == "email")
    assert result["moscow_day"] == "2026-12-01"
    assert result["scored"] == [40, 40, 40]
    count, expected = result["segment"]
    assert count == expected > 0
