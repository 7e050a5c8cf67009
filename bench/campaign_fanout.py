"""One wallet campaign to N customers (default 100,000) through the fake APNs, and one e-mail
campaign to N customers through a local SMTP sink: messages per second, our CPU milliseconds per
message, time to finish; the fake servers' CPU apart (they share the machine's cores).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench_campaigns \\
        .venv/bin/python bench/campaign_fanout.py [--customers 100000] [--skip-email] [--skip-wallet]

The database is created (dropped first if it exists) and migrated. Customers, cards, wallet passes
and Apple registrations are bulk-inserted (set-up, not measured). Then, in this process:

1. wallet campaign: the send as the workers run it (``fan_out_chunk`` then ``send_deliveries`` per
   chunk: claim, cap, consent, render, ``post_card_message``, mark sent), then the wallet
   pipeline's merchant-wide sync (``sync_merchant_passes_task``: claim marked passes in batches,
   one HTTP/2 fan-out to the fake APNs per batch). Target: done in under 2 minutes.
2. e-mail campaign: the same send through Django's SMTP backend to an aiosmtpd sink in another
   process (one connection per chunk).

Celery is not involved (the broker is ``memory://`` and nothing consumes it); the figures are the
work one worker does. CPU is ``time.process_time()`` of this process (our side: Django, PostgreSQL
client, channel clients) — PostgreSQL's own CPU is not included; it is on the same machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["CELERY_BROKER_URL"] = "memory://"
os.environ.setdefault("WALLET_SYNC_DEBOUNCE_SECONDS", "0")
TARGET_WALLET_SECONDS = 120


def _apns(client_ca_file: str, workdir: str, pipe) -> None:
    from tests.fakes.apns import BareAPNs

    fake = BareAPNs(client_ca_file=Path(client_ca_file), workdir=Path(workdir)).start()
    pipe.send((fake.port, str(fake.server_ca_file)))
    while True:
        command = pipe.recv()
        if command == "cpu":
            pipe.send(time.process_time())
        elif command == "count":
            pipe.send(len(fake.requests))
        else:
            fake.stop()
            return


def _smtp(pipe) -> None:
    from tests.fakes.smtp import FakeSMTP

    sink = FakeSMTP(keep=False).start()
    pipe.send(sink.port)
    while True:
        command = pipe.recv()
        if command == "cpu":
            pipe.send(time.process_time())
        elif command == "count":
            pipe.send(sink.count)
        else:
            sink.stop()
            return


def prepare_database() -> None:
    import dj_database_url

    url = os.environ["DATABASE_URL"]
    name = dj_database_url.parse(url)["NAME"]
    base = url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", base, "-qc", f'DROP DATABASE IF EXISTS "{name}"'], check=True)
    subprocess.run(["psql", base, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True)


def populate(n: int, pki) -> tuple[int, int]:
    """The merchant (with the throwaway pass certificate) and n customers, each with a card, an
    e-mail, marketing consent, a wallet pass and an Apple registration. Returns (merchant id, program version id)."""
    from django.db import transaction
    from django.utils import timezone

    from campaigns.models import CampaignSettings
    from loyalty.models import AppleDevice, AppleRegistration, Card, Customer, WalletPass
    from loyalty.program.services import program_for
    from loyalty.wallet import credentials
    from merchants.models import Merchant

    merchant = Merchant.objects.create(
        name="Bench Coffee", slug="bench-coffee", country="RU", currency="RUB", time_zone="Europe/Moscow"
    )
    program_for(merchant=merchant)
    credentials.upload_apple_certificate(merchant=merchant, data=pki.pass_cert.p12(b"pw"), password="pw")
    CampaignSettings.objects.create(merchant=merchant, quiet_start="00:00", quiet_end="00:00", cap_messages=100)
    now = timezone.now()
    step = 10_000
    for start in range(0, n, step):
        with transaction.atomic():
            people = Customer.objects.bulk_create(
                Customer(
                    merchant=merchant,
                    phone=f"+7900{i:07d}",
                    name=f"Гость {i}",
                    email=f"g{i}@bench.test",
                    referral_code=f"B{i}",
                    marketing_consent=True,
                    created_at=now,
                )
                for i in range(start, min(start + step, n))
            )
            cards = Card.objects.bulk_create(
                Card(merchant=merchant, customer=c, number=f"{c.pk:012d}", barcode=f"bench-{c.pk}", balance=100)
                for c in people
            )
            passes = WalletPass.objects.bulk_create(
                WalletPass(merchant=merchant, card=card, updated_at=now, update_tag=0) for card in cards
            )
            devices = AppleDevice.objects.bulk_create(
                AppleDevice(device_library_identifier=f"bench-{wp.card_id}", push_token=f"{wp.card_id:064x}")
                for wp in passes
            )
            AppleRegistration.objects.bulk_create(
                AppleRegistration(merchant=merchant, device=d, wallet_pass=wp)
                for d, wp in zip(devices, passes, strict=True)
            )
    return merchant.pk


def run_campaign(merchant_id: int, channels: list[str], name: str) -> tuple[int, float, float]:
    from campaigns import sending
    from campaigns.models import Campaign
    from merchants.models import Merchant

    merchant = Merchant.objects.get(pk=merchant_id)
    campaign = Campaign.objects.create(
        merchant=merchant,
        name=name,
        kind="broadcast",
        channels=channels,
        holdout_percent=10,
        subject="Новости",
        body="{first_name}, у вас {balance} баллов. Ждём вас!",
    )
    wall, cpu = time.perf_counter(), time.process_time()
    send, _ = sending.start_send(campaign=campaign, occurrence="once")
    finished = False
    while not finished:
        pending, finished = sending.fan_out_chunk(send_id=send.pk)
        if pending:
            sending.send_deliveries(send_id=send.pk, delivery_ids=pending)
    sending.finish_if_done(send_id=send.pk, now=send.created_at)
    sent = sending.progress(campaign=campaign)["sent"]
    return sent, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--skip-wallet", action="store_true")
    parser.add_argument("--skip-email", action="store_true")
    args = parser.parse_args()

    from tests.fakes.pki import make_pki

    workdir = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    pki = make_pki()
    files = pki.write(workdir)
    apns_pipe, child = multiprocessing.Pipe()
    apns_proc = multiprocessing.Process(target=_apns, args=(str(files["ca"]), str(workdir), child), daemon=True)
    apns_proc.start()
    apns_port, apns_ca = apns_pipe.recv()
    smtp_pipe, child = multiprocessing.Pipe()
    smtp_proc = multiprocessing.Process(target=_smtp, args=(child,), daemon=True)
    smtp_proc.start()
    smtp_port = smtp_pipe.recv()

    os.environ.update(
        APNS_HOST="127.0.0.1",
        APNS_PORT=str(apns_port),
        APNS_CA_FILE=apns_ca,
        APPLE_WWDR_CERT_FILE=str(files["wwdr"]),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        PUBLIC_BASE_URL="https://loyalty.bench",
    )
    prepare_database()
    import django

    django.setup()
    import logging

    logging.disable(logging.WARNING)
    started = time.perf_counter()
    merchant_id = populate(args.customers, pki)
    print(
        f"set-up: {args.customers} customers with cards, passes and Apple registrations in "
        f"{time.perf_counter() - started:.1f} s (not measured below)"
    )

    if not args.skip_wallet:
        from loyalty.wallet.tasks import sync_merchant_passes_task

        apns_cpu0 = (apns_pipe.send("cpu"), apns_pipe.recv())[1]
        sent, wall, cpu = run_campaign(merchant_id, ["wallet"], "wallet bench")
        push_wall, push_cpu = time.perf_counter(), time.process_time()
        synced = sync_merchant_passes_task.run(merchant_id)
        push_wall, push_cpu = time.perf_counter() - push_wall, time.process_time() - push_cpu
        apns_cpu = (apns_pipe.send("cpu"), apns_pipe.recv())[1] - apns_cpu0
        pushes = (apns_pipe.send("count"), apns_pipe.recv())[1]
        total = wall + push_wall
        per_push = f"our CPU {1000 * push_cpu / max(pushes, 1):.2f} ms/push"
        server = f"fake APNs CPU {1000 * apns_cpu / max(pushes, 1):.2f} ms/push"
        verdict = "met" if total < TARGET_WALLET_SECONDS else "NOT met"
        print(f"\nwallet campaign: {sent} messages on cards (10% held out), {synced} passes synced, {pushes} pushes")
        print(
            f"  send (claim, cap, consent, render, message on card): {wall:.1f} s wall, {sent / wall:.0f} msgs/s, "
            f"our CPU {1000 * cpu / max(sent, 1):.2f} ms/msg"
        )
        print(
            f"  push (wallet pipeline, fake APNs, HTTP/2+TLS): {push_wall:.1f} s wall, "
            f"{pushes / max(push_wall, 1e-9):.0f} pushes/s, {per_push}; {server}"
        )
        print(
            f"  time to finish: {total:.1f} s (target < {TARGET_WALLET_SECONDS} s: {verdict}); "
            f"our CPU total {1000 * (cpu + push_cpu) / max(sent, 1):.2f} ms/msg"
        )

    if not args.skip_email:
        smtp_cpu0 = (smtp_pipe.send("cpu"), smtp_pipe.recv())[1]
        sent, wall, cpu = run_campaign(merchant_id, ["email"], "e-mail bench")
        smtp_cpu = (smtp_pipe.send("cpu"), smtp_pipe.recv())[1] - smtp_cpu0
        received = (smtp_pipe.send("count"), smtp_pipe.recv())[1]
        print(f"\ne-mail campaign: {sent} sent, {received} accepted by the SMTP sink")
        print(
            f"  {wall:.1f} s wall, {sent / wall:.0f} msgs/s, our CPU {1000 * cpu / max(sent, 1):.2f} ms/msg; "
            f"SMTP sink CPU {1000 * smtp_cpu / max(received, 1):.2f} ms/msg"
        )

    apns_pipe.send("stop")
    smtp_pipe.send("stop")


if __name__ == "__main__":
    main()
