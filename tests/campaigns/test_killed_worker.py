"""A real Celery worker process on Redis is killed (SIGKILL) in the middle of a wallet campaign; a
second worker, handed the stalled send by the dispatcher's takeover, finishes it. Every customer's
card gets exactly one message: a trigger on the wallet pass table counts each message committed
(a message whose transaction died with the worker is not counted, because it never happened)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns import sending
from campaigns.models import CampaignSettings, Delivery, DeliveryStatus
from loyalty.models import WalletPass
from tests.campaigns.conftest import make_customer
from tests.campaigns.support import campaign_for
from tests.campaigns.test_sending import install_wallet

PROJECT = Path(__file__).resolve().parents[2]
CUSTOMERS = 240
CHUNK = 40

WORKER = """
import sys
from config.celery import app
app.conf.task_default_queue = sys.argv[1]
app.worker_main(["worker", "--pool=solo", "--loglevel=WARNING", "-Q", sys.argv[1], "--without-gossip",
                 "--without-mingle", "--without-heartbeat", "-n", sys.argv[2]])
"""

pytestmark = pytest.mark.usefixtures("english")


def start_worker(queue: str, name: str) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CAMPAIGN_FANOUT_CHUNK": str(CHUNK),
        # The wallet pipeline's own sync is not under test here: keep it queued, far in the future.
        "WALLET_SYNC_DEBOUNCE_SECONDS": "3600",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    return subprocess.Popen([sys.executable, "-c", WORKER, queue, name], cwd=PROJECT, env=env)


def wait_for(condition, what: str, *, timeout: float = 120):
    """Poll until true; the timeout only ends a test that would otherwise hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def sent(campaign) -> int:
    return Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count()


@pytest.fixture
def message_log(transactional_db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE test_card_messages (pass_id bigint, message_key text)")
        cursor.execute(
            """CREATE FUNCTION test_log_card_message() RETURNS trigger AS $$
               BEGIN INSERT INTO test_card_messages VALUES (NEW.id, NEW.message_key); RETURN NEW; END;
               $$ LANGUAGE plpgsql"""
        )
        cursor.execute(
            """CREATE TRIGGER test_card_message AFTER UPDATE OF message_key ON loyalty_walletpass
               FOR EACH ROW WHEN (NEW.message_key IS DISTINCT FROM OLD.message_key)
               EXECUTE FUNCTION test_log_card_message()"""
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_card_message ON loyalty_walletpass")
        cursor.execute("DROP FUNCTION test_log_card_message()")
        cursor.execute("DROP TABLE test_card_messages")


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_is_resumed_with_no_duplicate_and_no_gap(merchant, message_log):
    from campaigns.tasks import fan_out_task
    from config.celery import app

    customers = [make_customer(merchant, n, name=f"Гость{n}") for n in range(1, CUSTOMERS + 1)]
    passes = {c.pk: install_wallet(c).pk for c in customers}
    campaign = campaign_for(merchant, channels=["wallet"], body="{first_name}, ждём вас!")
    # The workers run on the wall clock: no quiet hours for this merchant.
    CampaignSettings.objects.update_or_create(
        merchant=merchant, defaults={"quiet_start": "00:00", "quiet_end": "00:00"}
    )
    queue = app.conf.task_default_queue
    app.control.purge()

    first = start_worker(queue, f"first-{os.getpid()}@test")
    second = None
    try:
        send, _ = sending.start_send(campaign=campaign, occurrence="once")
        fan_out_task.delay(send.pk)
        # Kill it once it has sent some but far from all.
        wait_for(lambda: sent(campaign) >= CUSTOMERS // 5, "the first messages")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        at_kill = sent(campaign)
        assert at_kill < CUSTOMERS, "the worker finished before it was killed; nothing was tested"

        # The dispatcher notices the send went quiet (its lease is over) and hands it to a new worker.
        later = timezone.now() + sending.LEASE + timedelta(seconds=1)
        takeover = sending.resume_stalled(now=later)
        assert takeover.chunks or takeover.fan_out
        second = start_worker(queue, f"second-{os.getpid()}@test")
        from campaigns.tasks import send_deliveries_task

        for send_id in takeover.fan_out:
            fan_out_task.delay(send_id)
        for send_id, ids in takeover.chunks:
            send_deliveries_task.delay(send_id, ids)
        wait_for(lambda: sent(campaign) == CUSTOMERS, "every customer", timeout=180)
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)
        app.control.purge()

    assert Delivery.objects.filter(campaign=campaign).count() == CUSTOMERS
    assert not Delivery.objects.filter(campaign=campaign).exclude(status=DeliveryStatus.SENT).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pass_id, count(*) FROM test_card_messages GROUP BY pass_id")
        per_pass = dict(cursor.fetchall())
    # Exactly one message committed on every card: no duplicate, no gap.
    assert per_pass == {pass_id: 1 for pass_id in passes.values()}
    for customer in customers:
        wallet_pass = WalletPass.objects.get(pk=passes[customer.pk])
        delivery = Delivery.objects.get(campaign=campaign, customer=customer)
        assert wallet_pass.message_body == f"{customer.name}, ждём вас!"
        assert wallet_pass.message_key == delivery.provider_id
