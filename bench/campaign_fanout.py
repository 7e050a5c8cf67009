"""One wallet campaign to N customers (default 100,000) through the fake APNs, and one e-mail
campaign to N customers through a local SMTP sink: messages per second, our CPU milliseconds per
message, time to finish; the fake servers' CPU apart (they share the machine's cores).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench_campaigns \\
        .venv/bin/python bench/campaign_fanout.py [--customers 100000] [--email-customers N]
        [--skip-email] [--skip-wallet] [--reuse] [--profile] [--overlap]

``--reuse`` keeps the database and customers of a previous run (earlier bench campaigns are
deleted first); ``--profile`` prints the SQL statements grouped by text with their count and wall
time; ``--overlap`` pushes from a second worker process while the first sends (as two Celery
workers would: the sync is queued by the first chunk's commit), instead of after it.
PostgreSQL's CPU is read from /proc for this process's backend (same machine).

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
client, channel clients); PostgreSQL's is printed apart. The machine's load average is printed
beside the figures: other work shares the cores.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
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


def populate(n: int, pki, slug: str = "bench-coffee") -> int:
    """The merchant (with the throwaway pass certificate) and n customers, each with a card, an
    e-mail, marketing consent, a wallet pass and an Apple registration. Returns the merchant id."""
    from django.db import transaction
    from django.utils import timezone

    from campaigns.models import CampaignSettings
    from loyalty.models import AppleDevice, AppleRegistration, Card, Customer, WalletPass
    from loyalty.program.services import program_for
    from loyalty.wallet import credentials
    from merchants.models import Merchant

    merchant = Merchant.objects.create(
        name="Bench Coffee", slug=slug, country="RU", currency="RUB", time_zone="Europe/Moscow"
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
                    phone=f"+79{len(slug) % 10}0{i:07d}",
                    name=f"Гость {i}",
                    email=f"g{i}@{slug}.test",
                    referral_code=f"{slug[6]}{i}",
                    marketing_consent=True,
                    created_at=now,
                )
                for i in range(start, min(start + step, n))
            )
            cards = Card.objects.bulk_create(
                Card(merchant=merchant, customer=c, number=f"{c.pk:012d}", barcode=f"{slug}-{c.pk}", balance=100)
                for c in people
            )
            passes = WalletPass.objects.bulk_create(
                WalletPass(merchant=merchant, card=card, updated_at=now, update_tag=0) for card in cards
            )
            devices = AppleDevice.objects.bulk_create(
                AppleDevice(device_library_identifier=f"{slug}-{wp.card_id}", push_token=f"{wp.card_id:064x}")
                for wp in passes
            )
            AppleRegistration.objects.bulk_create(
                AppleRegistration(merchant=merchant, device=d, wallet_pass=wp)
                for d, wp in zip(devices, passes, strict=True)
            )
    return merchant.pk


class StatementProfile:
    """Statements this process sends to PostgreSQL, grouped by their text with the literals
    stripped: count and wall time (a round trip plus PostgreSQL's work) per group."""

    def __init__(self) -> None:
        self.groups: dict[str, list[float]] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = re.sub(r"\s+", " ", re.sub(r"'[^']*'|\b\d+\b", "?", sql))[:110]
            group = self.groups.setdefault(key, [0, 0.0])
            group[0] += 1
            group[1] += time.perf_counter() - started

    def report(self, top: int = 12) -> None:
        total = sum(g[1] for g in self.groups.values())
        count = sum(g[0] for g in self.groups.values())
        print(f"  statements: {count} in {total:.1f} s (wall, round trip included); slowest groups:")
        for key, (n, seconds) in sorted(self.groups.items(), key=lambda kv: -kv[1][1])[:top]:
            print(f"    {seconds:7.2f} s {n:7d}x  {key}")


def backend_cpu_seconds() -> float:
    """CPU of this connection's PostgreSQL backend (same machine: read from /proc)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


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


def _pusher(merchant_id: int, done, pipe) -> None:
    """--overlap: a second worker running the wallet pipeline's merchant-wide sync while the
    sends go on (as a second Celery worker would pick up the sync queued by the first chunk's
    commit), until the send is done and nothing is left marked."""
    from django.db import connection

    from loyalty.wallet.tasks import sync_merchant_passes_task

    connection.close()
    cpu0, pg0 = time.process_time(), backend_cpu_seconds()
    synced = 0
    while True:
        finished = done.is_set()
        count = sync_merchant_passes_task.run(merchant_id)
        synced += count
        if finished and not count:
            break
        if not count:
            time.sleep(0.2)
    pipe.send((synced, time.process_time() - cpu0, backend_cpu_seconds() - pg0))


def reset(merchant_id: int) -> None:
    """--reuse: forget earlier bench campaigns of this merchant (their deliveries would count
    towards the cap and the wallet's notification budget) and clear the wallet marks."""
    from campaigns.models import Campaign, Delivery, Send
    from loyalty.models import Delivery as WalletDelivery
    from loyalty.models import WalletPass

    Delivery.objects.filter(merchant_id=merchant_id).delete()
    Send.objects.filter(merchant_id=merchant_id).delete()
    Campaign.objects.filter(merchant_id=merchant_id).delete()
    WalletDelivery.objects.filter(merchant_id=merchant_id).delete()
    WalletPass.objects.filter(merchant_id=merchant_id).update(needs_sync_since=None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--email-customers", type=int, default=None, help="default: --customers")
    parser.add_argument("--skip-wallet", action="store_true")
    parser.add_argument("--skip-email", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="keep the database and its customers from a last run")
    parser.add_argument("--profile", action="store_true", help="group the SQL statements and time them")
    parser.add_argument(
        "--overlap", action="store_true", help="push from a second worker process while the first one sends"
    )
    args = parser.parse_args()
    email_customers = args.email_customers or args.customers

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
    if not args.reuse:
        prepare_database()
    import django

    django.setup()
    import logging

    from django.db import connection

    from loyalty.wallet import credentials
    from merchants.models import Merchant

    logging.disable(logging.WARNING)
    print(f"start: {load()}")
    started = time.perf_counter()
    merchants = {}
    for slug, n in (("bench-coffee", args.customers), ("bench-mail", email_customers)):
        if slug == "bench-mail" and (args.skip_email or email_customers == args.customers):
            merchants[slug] = merchants["bench-coffee"]
            continue
        found = Merchant.objects.filter(slug=slug).first() if args.reuse else None
        if found is not None:
            # A new throwaway CA each run: the merchant's pass certificate must be signed by it.
            credentials.upload_apple_certificate(merchant=found, data=pki.pass_cert.p12(b"pw"), password="pw")
            reset(found.pk)
            merchants[slug] = found.pk
        else:
            merchants[slug] = populate(n, pki, slug)
    print(
        f"set-up: {args.customers} customers with cards, passes and Apple registrations "
        f"({'reused' if args.reuse else 'created'}) in {time.perf_counter() - started:.1f} s (not measured below)"
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    def profiled(run):
        profile = StatementProfile()
        pg0 = backend_cpu_seconds()
        if args.profile:
            with connection.execute_wrapper(profile):
                result = run()
        else:
            result = run()
        pg = backend_cpu_seconds() - pg0
        return result, pg, profile

    if not args.skip_wallet and args.overlap:
        merchant_id = merchants["bench-coffee"]
        apns_cpu0 = (apns_pipe.send("cpu"), apns_pipe.recv())[1]
        load_before = load()
        connection.close()
        done = multiprocessing.Event()
        push_pipe, child = multiprocessing.Pipe()
        started = time.perf_counter()
        pusher = multiprocessing.Process(target=_pusher, args=(merchant_id, done, child))
        pusher.start()
        (sent, wall, cpu), pg, profile = profiled(lambda: run_campaign(merchant_id, ["wallet"], "wallet bench"))
        done.set()
        synced, push_cpu, push_pg = push_pipe.recv()
        pusher.join()
        total = time.perf_counter() - started
        apns_cpu = (apns_pipe.send("cpu"), apns_pipe.recv())[1] - apns_cpu0
        pushes = (apns_pipe.send("count"), apns_pipe.recv())[1]
        verdict = "met" if total < TARGET_WALLET_SECONDS else "NOT met"
        print(
            f"\nwallet campaign, two workers: {sent} messages on cards (10% held out), {synced} synced, {pushes} pushes"
        )
        print(
            f"  sender: {wall:.1f} s wall, {sent / wall:.0f} msgs/s, our CPU {1000 * cpu / max(sent, 1):.2f} ms/msg, "
            f"PostgreSQL backend CPU {1000 * pg / max(sent, 1):.2f} ms/msg"
        )
        print(
            f"  pusher (wallet pipeline, fake APNs, HTTP/2+TLS, alongside): "
            f"our CPU {1000 * push_cpu / max(pushes, 1):.2f} "
            f"ms/push, PostgreSQL backend CPU {1000 * push_pg / max(pushes, 1):.2f} ms/push; "
            f"fake APNs CPU {1000 * apns_cpu / max(pushes, 1):.2f} ms/push"
        )
        print(
            f"  time to finish (last push answered): {total:.1f} s (target < {TARGET_WALLET_SECONDS} s: {verdict}); "
            f"{load_before} -> {load()}"
        )
        if args.profile:
            profile.report()

    elif not args.skip_wallet:
        from loyalty.wallet.tasks import sync_merchant_passes_task

        merchant_id = merchants["bench-coffee"]
        apns_cpu0 = (apns_pipe.send("cpu"), apns_pipe.recv())[1]
        load_before = load()
        (sent, wall, cpu), pg, profile = profiled(lambda: run_campaign(merchant_id, ["wallet"], "wallet bench"))
        load_send = load()
        push_wall, push_cpu = time.perf_counter(), time.process_time()
        synced, push_pg, push_profile = profiled(lambda: sync_merchant_passes_task.run(merchant_id))
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
            f"our CPU {1000 * cpu / max(sent, 1):.2f} ms/msg, PostgreSQL backend CPU {1000 * pg / max(sent, 1):.2f} "
            f"ms/msg ({pg:.1f} s); {load_before} -> {load_send}"
        )
        print(
            f"  push (wallet pipeline, fake APNs, HTTP/2+TLS): {push_wall:.1f} s wall, "
            f"{pushes / max(push_wall, 1e-9):.0f} pushes/s, {per_push}; {server}; "
            f"PostgreSQL backend CPU {push_pg:.1f} s; {load()}"
        )
        print(
            f"  time to finish: {total:.1f} s (target < {TARGET_WALLET_SECONDS} s: {verdict}); "
            f"our CPU total {1000 * (cpu + push_cpu) / max(sent, 1):.2f} ms/msg"
        )
        if args.profile:
            profile.report()
            push_profile.report(6)

    if not args.skip_email:
        merchant_id = merchants["bench-mail"]
        smtp_cpu0 = (smtp_pipe.send("cpu"), smtp_pipe.recv())[1]
        load_before = load()
        (sent, wall, cpu), pg, profile = profiled(lambda: run_campaign(merchant_id, ["email"], "e-mail bench"))
        smtp_cpu = (smtp_pipe.send("cpu"), smtp_pipe.recv())[1] - smtp_cpu0
        received = (smtp_pipe.send("count"), smtp_pipe.recv())[1]
        print(f"\ne-mail campaign: {sent} sent, {received} accepted by the SMTP sink")
        print(
            f"  {wall:.1f} s wall, {sent / wall:.0f} msgs/s, our CPU {1000 * cpu / max(sent, 1):.2f} ms/msg; "
            f"SMTP sink CPU {1000 * smtp_cpu / max(received, 1):.2f} ms/msg; "
            f"PostgreSQL backend CPU {1000 * pg / max(sent, 1):.2f} ms/msg; {load_before} -> {load()}"
        )
        if args.profile:
            profile.report()

    apns_pipe.send("stop")
    smtp_pipe.send("stop")


if __name__ == "__main__":
    main()
