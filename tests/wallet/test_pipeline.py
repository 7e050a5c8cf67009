"""The update pipeline: card changes are marked once, a burst sends one push
(with a real Celery worker on Redis), the claim keeps concurrent workers from
sending twice, APNs throttling and errors are retried or cleaned up, a design
published to every card goes out in one fan-out, and customer messages share
one notification budget across both wallets."""

# ruff: noqa: F811  (fixtures imported from support modules)

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from loyalty.enrollment.services import enroll_customer
from loyalty.ledger import set_card_blocked
from loyalty.models import AppleDevice, AppleRegistration, CardDesign, Delivery, DeviceLog, WalletPass
from loyalty.program.services import program_for, save_program
from loyalty.wallet import passes, tasks
from tests.fakes.apns import BAD_DEVICE_TOKEN, INTERNAL_SERVER_ERROR, OK, TOO_MANY_REQUESTS, unregistered
from tests.loyalty.api_support import pos, pos_card, pos_key, pos_program  # noqa: F401
from tests.wallet.pipeline_support import (  # noqa: F401
    IPhone,
    apple_merchant,
    clear_due_set,
    eager_celery,
    unzip,
    wallet_settings,
)


def buy(pos, card, bill: str) -> dict:
    body = {"card_number": card.number, "bill_amount": bill, "receipt_id": f"R-{uuid.uuid4().hex[:8]}"}
    response = pos.post("/purchases/", body)
    assert response.status_code == 201, response.content
    return response.json()


def installed_on_iphone(card) -> tuple[WalletPass, IPhone, dict]:
    """Download the pass and register a device for it, as Wallet does."""
    wallet_pass = passes.wallet_pass_for(card=card)
    response = Client().get(reverse("wallet_apple_pass", args=[wallet_pass.web_token]))
    assert response.status_code == 200, response.content
    pass_json = json.loads(unzip(response.content)["pass.json"])
    phone = IPhone(pass_json["webServiceURL"], pass_json["authenticationToken"])
    assert phone.register(pass_json["passTypeIdentifier"], pass_json["serialNumber"]).status_code == 201
    wallet_pass.refresh_from_db()
    return wallet_pass, phone, pass_json


def register_devices(wallet_pass: WalletPass, count: int) -> list[str]:
    tokens = []
    for _ in range(count):
        token = uuid.uuid4().hex * 2
        device = AppleDevice.objects.create(device_library_identifier=uuid.uuid4().hex, push_token=token)
        AppleRegistration.objects.create(merchant_id=wallet_pass.merchant_id, device=device, wallet_pass=wallet_pass)
        tokens.append(token)
    return tokens


# --- debounce, with a real worker ----------------------------------------------------------


def wait_until(condition, what: str, *, timeout: float = 60):
    """Poll until ``condition()`` is true. The timeout only ends a test that would otherwise hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def celery_worker():
    """Call it to start a real Celery worker (solo pool, in a thread) consuming from the Redis broker;
    it stops after the test."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    assert not app.conf.task_always_eager
    app.control.purge()
    clear_due_set()
    with contextlib.ExitStack() as stack:
        yield lambda: stack.enter_context(start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30))
    app.control.purge()


@pytest.fixture
def task_log():
    """The Celery tasks published in this process ((name, id)), when each was published and its ETA, when
    each started running and which finished."""
    from celery.signals import after_task_publish, task_postrun, task_prerun

    log = {"published": [], "published_at": {}, "eta": {}, "started_at": {}, "finished": []}

    def on_publish(sender=None, headers=None, **kwargs):
        log["published_at"][headers["id"]] = timezone.now()
        log["eta"][headers["id"]] = datetime.fromisoformat(headers["eta"]) if headers.get("eta") else None
        log["published"].append((sender, headers["id"]))

    def on_prerun(task_id=None, **kwargs):
        log["started_at"][task_id] = timezone.now()

    def on_postrun(task_id=None, **kwargs):
        log["finished"].append(task_id)

    after_task_publish.connect(on_publish, weak=False)
    task_prerun.connect(on_prerun, weak=False)
    task_postrun.connect(on_postrun, weak=False)
    yield log
    after_task_publish.disconnect(on_publish)
    task_prerun.disconnect(on_prerun)
    task_postrun.disconnect(on_postrun)


@pytest.mark.django_db(transaction=True)
def test_five_changes_in_a_second_send_one_push(
    apple_merchant, pos, pos_card, apns_server, settings, celery_worker, task_log
):
    settings.WALLET_SYNC_DEBOUNCE_SECONDS = 2
    wallet_pass, phone, pass_json = installed_on_iphone(pos_card)

    # The burst comes before the worker starts, so however long it takes on a busy machine the sync
    # cannot run in the middle of it: the five changes must make one sync task. They put the pass in the
    # due set (loyalty/wallet/debounce.py) and start one drain, due when the debounce window closes.
    started = time.monotonic()
    for _ in range(5):
        buy(pos, pos_card, "100.00")
    assert [name for name, _ in task_log["published"]] == [tasks.drain_due_syncs_task.name]

    # The worker drains the set after the countdown and runs the one sync it queues.
    celery_worker()
    wait_until(lambda: apns_server.requests_for(phone.push_token), "the push")
    pushed_after = time.monotonic() - started
    # Every task published (here or by the worker) has run: no further push can come after this.
    wait_until(
        lambda: {task_id for _, task_id in task_log["published"]} <= set(task_log["finished"]), "the queued tasks"
    )
    pushes = apns_server.requests_for(phone.push_token)
    assert len(pushes) == 1, f"{len(pushes)} pushes for one burst"
    assert pushed_after >= 1.5, "the push went out before the debounce window closed"
    syncs = [task_id for name, task_id in task_log["published"] if name == tasks.sync_pass_task.name]
    assert len(syncs) == 1, task_log["published"]
    # The drain was queued for the end of the debounce window, the worker did not run it earlier, and the
    # sync it queued ran after it; the set was then empty, so the chain stopped.
    [drain] = [task_id for name, task_id in task_log["published"] if name == tasks.drain_due_syncs_task.name]
    eta = task_log["eta"][drain]
    assert eta is not None, "the drain was queued without a countdown"
    assert eta - task_log["published_at"][drain] >= timedelta(seconds=1.9)
    assert task_log["started_at"][drain] >= eta
    assert task_log["started_at"][syncs[0]] >= eta
    assert pushes[0].topic == pass_json["passTypeIdentifier"]
    wallet_pass.refresh_from_db()
    assert wallet_pass.needs_sync_since is None

    # The pass the device then fetches has all five purchases.
    latest = phone.latest(pass_json["passTypeIdentifier"], pass_json["serialNumber"])
    assert json.loads(unzip(latest.content)["pass.json"])["storeCard"]["primaryFields"][0]["value"] == 25


# --- marking and claiming ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_changes_are_marked_once_and_queue_one_task(
    broker, apple_merchant, pos, pos_card, settings, django_capture_on_commit_callbacks, task_log
):
    from loyalty.wallet import debounce

    if broker == "filesystem":  # the embedded default: no due set, each burst publishes its delayed sync
        settings.CELERY_BROKER_URL = "filesystem://"
    clear_due_set()
    wallet_pass = passes.wallet_pass_for(card=pos_card)
    queued = []
    original = tasks.sync_pass_task.apply_async
    tasks.sync_pass_task.apply_async = lambda args, countdown=None, **kw: queued.append((args, countdown))
    first_change = time.time()
    try:
        for i in range(5):
            with django_capture_on_commit_callbacks(execute=True):
                buy(pos, pos_card, "100.00")
            if i == 0:
                first_done = time.time()
    finally:
        tasks.sync_pass_task.apply_async = original
        drains = [name for name, _ in task_log["published"] if name == tasks.drain_due_syncs_task.name]
        due = debounce.due_passes()
        clear_due_set()
    if broker == "filesystem":
        assert queued == [((wallet_pass.pk,), 1)] and drains == [] and due == {}
    else:
        # The pass is due once, when the window opened by the first change closes; one drain is on its way.
        assert queued == [] and len(drains) == 1
        assert list(due) == [wallet_pass.pk]
        assert first_change + 1 <= due[wallet_pass.pk] <= first_done + 1
    wallet_pass.refresh_from_db()
    assert wallet_pass.needs_sync_since is not None
    assert wallet_pass.updated_at.microsecond == 0


@pytest.mark.django_db
def test_a_change_inside_a_transaction_sends_nothing_before_commit(
    apple_merchant, pos_card, apns_server, eager_celery, django_capture_on_commit_callbacks
):
    wallet_pass, phone, _ = installed_on_iphone(pos_card)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        passes.mark_cards_changed(merchant=apple_merchant, card_ids=[pos_card.pk])
    assert callbacks and apns_server.requests == []
    callbacks[0]()
    assert len(apns_server.requests_for(phone.push_token)) == 1


@pytest.mark.django_db
def test_updated_at_moves_to_a_new_second_on_every_change(apple_merchant, pos_card):
    wallet_pass = passes.wallet_pass_for(card=pos_card)
    now = timezone.now().replace(microsecond=300_000)
    passes.mark_cards_changed(merchant=apple_merchant, card_ids=[pos_card.pk], now=now)
    first = WalletPass.objects.get(pk=wallet_pass.pk)
    passes.mark_cards_changed(merchant=apple_merchant, card_ids=[pos_card.pk], now=now + timedelta(milliseconds=500))
    second = WalletPass.objects.get(pk=wallet_pass.pk)
    # Same second of wall time, yet a different Last-Modified and a bigger tag.
    assert second.updated_at > first.updated_at
    assert second.updated_at.microsecond == first.updated_at.microsecond == 0
    assert second.update_tag > first.update_tag
    assert second.needs_sync_since == first.needs_sync_since == now


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_once(apple_merchant, pos_card, apns_server):
    wallet_pass, phone, _ = installed_on_iphone(pos_card)
    apns_server.reset()
    # Marked as card_changed does, minus queueing the task (this test is the workers).
    WalletPass.objects.filter(pk=wallet_pass.pk).update(needs_sync_since=timezone.now())
    barrier = threading.Barrier(4)
    outcomes = []
    errors = []

    def worker():
        try:
            barrier.wait()
            outcomes.append(passes.sync_pass(pass_id=wallet_pass.pk).status)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a worker is still running"
    assert errors == []
    assert len(outcomes) == 4, outcomes
    assert sorted(outcomes).count("synced") == 1, outcomes
    assert set(outcomes) <= {"synced", "already synced", "claimed elsewhere"}
    assert len(apns_server.requests_for(phone.push_token)) == 1
    # And a rerun of the task finds nothing to do.
    assert passes.sync_pass(pass_id=wallet_pass.pk).status == "already synced"


@pytest.mark.django_db
def test_lost_sync_is_requeued_by_the_sweep(apple_merchant, pos_card, apns_server, eager_celery):
    wallet_pass, phone, _ = installed_on_iphone(pos_card)
    apns_server.reset()
    long_ago = timezone.now() - timedelta(minutes=10)
    WalletPass.objects.filter(pk=wallet_pass.pk).update(needs_sync_since=long_ago)
    assert tasks.sweep_lost_wallet_syncs_task() == 1
    assert len(apns_server.requests_for(phone.push_token)) == 1
    assert tasks.sweep_lost_wallet_syncs_task() == 0


@pytest.mark.django_db
def test_sync_of_a_deleted_pass_is_quiet(apple_merchant, pos_card):
    wallet_pass = passes.wallet_pass_for(card=pos_card)
    pk = wallet_pass.pk
    wallet_pass.delete()
    assert tasks.sync_pass_task(pk) == "gone"
    assert tasks.apple_push_task(pk, [1]) == "gone"
    assert tasks.google_sync_task(pk) == "gone"


# --- APNs results ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_throttled_push_is_retried_later_for_that_device_only(apple_merchant, pos_card, apns_server, settings):
    wallet_pass, phone, _ = installed_on_iphone(pos_card)
    other = register_devices(wallet_pass, 1)[0]
    apns_server.reset()
    # Throttled through all of the client's quick attempts, then fine.
    apns_server.script(phone.push_token, *([TOO_MANY_REQUESTS] * 4), OK)
    passes.mark_cards_changed(merchant=apple_merchant, card_ids=[pos_card.pk])

    outcome = passes.sync_pass(pass_id=wallet_pass.pk)
    registration = AppleRegistration.objects.get(wallet_pass=wallet_pass, device__push_token=phone.push_token)
    assert outcome.push_retry_ids == [registration.pk]
    assert len(apns_server.requests_for(phone.push_token)) == 4
    assert len(apns_server.requests_for(other)) == 1
    retry = Delivery.objects.get(wallet_pass=wallet_pass, status=Delivery.Status.RETRY)
    assert "429" in retry.detail

    assert tasks.apple_push_task(wallet_pass.pk, outcome.push_retry_ids) == "delivered 1"
    assert len(apns_server.requests_for(phone.push_token)) == 5
    assert len(apns_server.requests_for(other)) == 1  # not pushed twice
    assert tasks.apple_push_task.max_retries >= 5


@pytest.mark.django_db
def test_server_errors_are_retried_by_the_client(apple_merchant, pos_card, apns_server):
    wallet_pass, phone, _ = installed_on_iphone(pos_card)
    apns_server.reset()
    apns_server.script(phone.push_token, INTERNAL_SERVER_ERROR, OK)
    passes.mark_cards_changed(merchant=apple_merchant, card_ids=[pos_card.pk])
    outcome = passes.sync_pass(pass_id=wallet_pass.pk)
    assert outcome.pushed == 1 and outcome.push_retry_ids == []
    delivery = Delivery.objects.get(wallet_pass=wallet_pass)
    assert delivery.status == Delivery.Status.OK


@pytest.mark.django_db
def test_bad_device_token_removes_the_registration(apple_merchant, pos_card, apns_server):
    wallet_pass, phone, _ = installed_on_iphone(pos_card)
    keep = register_devices(wallet_pass, 1)[0]
    apns_server.reset()
    apns_server.script(phone.push_token, BAD_DEVICE_TOKEN)
    passes.mark_cards_changed(merchant=apple_merchant, card_ids=[pos_card.pk])
    passes.sync_pass(pass_id=wallet_pass.pk)
    assert list(
        AppleRegistration.objects.filter(wallet_pass=wallet_pass).values_list("device__push_token", flat=True)
    ) == [keep]


@pytest.mark.django_db
def test_a_410_older_than_a_new_registration_keeps_it(apple_merchant, pos_card, apns_server):
    wallet_pass, phone, pass_json = installed_on_iphone(pos_card)
    apns_server.reset()
    # APNs learnt the token was invalid an hour ago; the device registered again since.
    apns_server.script(phone.push_token, unregistered(int((time.time() - 3600) * 1000)))
    passes.mark_cards_changed(merchant=apple_merchant, card_ids=[pos_card.pk])
    passes.sync_pass(pass_id=wallet_pass.pk)
    assert AppleRegistration.objects.filter(wallet_pass=wallet_pass).exists()
    delivery = Delivery.objects.get(wallet_pass=wallet_pass)
    assert delivery.status == Delivery.Status.FAILED and "kept" in delivery.detail
    # The nightly cleanup keeps it as well.
    assert passes.cleanup_stale_registrations()["registrations"] == 0
    assert AppleRegistration.objects.filter(wallet_pass=wallet_pass).exists()


@pytest.mark.django_db
def test_cleanup_keeps_renewed_registrations_and_removes_orphan_devices(apple_merchant, pos_card):
    wallet_pass = passes.wallet_pass_for(card=pos_card)
    register_devices(wallet_pass, 2)
    first, second = AppleRegistration.objects.filter(wallet_pass=wallet_pass).order_by("pk")
    now = timezone.now()
    for registration in (first, second):
        Delivery.objects.create(
            merchant=apple_merchant,
            wallet_pass=wallet_pass,
            device=registration.device,
            channel="apple",
            status="unregistered",
            created_at=now - timedelta(minutes=5),
        )
    # Both registered two hours ago; the second device registered again after its 410.
    AppleRegistration.objects.filter(pk=first.pk).update(updated_at=now - timedelta(hours=2))
    AppleDevice.objects.filter(pk=first.device_id).update(updated_at=now - timedelta(hours=2))
    AppleRegistration.objects.filter(pk=second.pk).update(updated_at=now)
    orphan = AppleDevice.objects.create(
        device_library_identifier="orphan", push_token="ab" * 32, updated_at=now - timedelta(days=2)
    )
    fresh = AppleDevice.objects.create(device_library_identifier="fresh", push_token="cd" * 32, updated_at=now)
    DeviceLog.objects.create(message="old", created_at=now - timedelta(days=31))
    DeviceLog.objects.create(message="recent", created_at=now - timedelta(days=1))
    result = tasks.cleanup_wallet_registrations_task()
    assert result == {"registrations": 1, "devices": 2}  # the first device's and the orphan
    assert list(AppleRegistration.objects.filter(wallet_pass=wallet_pass)) == [second]
    assert not AppleDevice.objects.filter(pk=orphan.pk).exists()
    assert AppleDevice.objects.filter(pk=fresh.pk).exists()
    assert list(DeviceLog.objects.values_list("message", flat=True)) == ["recent"]


@pytest.mark.django_db
def test_pass_issued_under_another_certificate_is_not_pushed_with_this_one(apple_merchant, pos_card, apns_server):
    wallet_pass, phone, _ = installed_on_iphone(pos_card)
    WalletPass.objects.filter(pk=wallet_pass.pk).update(pass_type_identifier="pass.com.example.old")
    apns_server.reset()
    passes.mark_cards_changed(merchant=apple_merchant, card_ids=[pos_card.pk])
    passes.sync_pass(pass_id=wallet_pass.pk)
    assert apns_server.requests == []
    assert Delivery.objects.get(wallet_pass=wallet_pass).status == Delivery.Status.FAILED


# --- many cards at once (a design published) ------------------------------------------------


@pytest.mark.django_db
def test_design_published_to_every_card_goes_out_in_one_fan_out(
    apple_merchant, location, pos_program, apns_server, eager_celery, django_capture_on_commit_callbacks
):
    cards = [
        enroll_customer(merchant=apple_merchant, phone=f"+7916700{n:04d}", name=f"Гость {n}", location=location)
        for n in range(passes.BULK_SYNC_THRESHOLD + 10)
    ]
    tokens = []
    for card in cards:
        wallet_pass = passes.wallet_pass_for(card=card)
        WalletPass.objects.filter(pk=wallet_pass.pk).update(pass_type_identifier="pass.com.example.loyalty")
        tokens += register_devices(wallet_pass, 1)
    apns_server.reset()
    CardDesign.objects.create(
        merchant=apple_merchant, version=1, published_at=timezone.now(), background_color="#112233"
    )

    with django_capture_on_commit_callbacks(execute=True):
        marked = passes.mark_cards_changed(merchant=apple_merchant)
    assert marked == len(cards)
    assert sorted(r.token for r in apns_server.requests) == sorted(tokens)
    assert passes.sync_progress(merchant=apple_merchant) == (0, len(cards))
    assert Delivery.objects.filter(status="ok").count() == len(cards)
    # One TLS connection carried them all.
    assert len(apns_server.connections) == 1


# --- what the pass shows ---------------------------------------------------------------------


@pytest.mark.django_db
def test_published_design_blocked_card_and_messages_on_the_apple_pass(
    apple_merchant, location, pos_card, apns_server, eager_celery, django_capture_on_commit_callbacks
):
    location.latitude, location.longitude = "55.755800", "37.617300"
    location.save()
    design = CardDesign.objects.create(
        merchant=apple_merchant,
        version=3,
        published_at=timezone.now(),
        background_color="#102030",
        foreground_color="#fafafa",
        label_color="#c0c0c0",
        show_name=False,
        terms="1 балл = 1 ₽",
        website="https://zerno.example",
        phone="+7 495 000-00-00",
        barcode_format="pdf417",
        relevant_text="Заходите за кофе",
        change_message="Баллы: %@",
    )
    design.locations.add(location)
    wallet_pass, phone, pass_json = installed_on_iphone(pos_card)
    assert pass_json["backgroundColor"] == "rgb(16, 32, 48)"
    assert pass_json["barcodes"][0]["format"] == "PKBarcodeFormatPDF417"
    assert pass_json["locations"] == [{"latitude": 55.7558, "longitude": 37.6173, "relevantText": "Заходите за кофе"}]
    assert pass_json["storeCard"]["primaryFields"][0]["changeMessage"] == "Баллы: %@"
    assert "auxiliaryFields" not in pass_json["storeCard"]  # no customer name
    back = {f["key"]: f["value"] for f in pass_json["storeCard"]["backFields"]}
    assert back["terms"] == "1 балл = 1 ₽" and back["website"] == "https://zerno.example"

    # A message notifies (changeMessage "%@") while the budget lasts…
    type_id, serial = pass_json["passTypeIdentifier"], pass_json["serialNumber"]
    for n in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            passes.post_card_message(card=pos_card, header="Зерно", body=f"Новость {n}")
        fields = json.loads(unzip(phone.latest(type_id, serial).content)["pass.json"])["storeCard"]["backFields"]
        message = next(f for f in fields if f["value"] == f"Новость {n}")
        assert message["label"] == "Зерно"
        assert ("changeMessage" in message) == (n < 3), n
    assert len(apns_server.requests_for(phone.push_token)) == 4
    assert passes.notifications_used(wallet_pass=wallet_pass) == 3

    # A blocked card's pass is voided.
    with django_capture_on_commit_callbacks(execute=True):
        set_card_blocked(merchant=apple_merchant, card=pos_card, blocked=True, reason="lost", actor=None)
    assert json.loads(unzip(phone.latest(type_id, serial).content)["pass.json"])["voided"] is True


@pytest.mark.django_db
def test_stamp_card_shows_stamps_and_a_stamp_strip(merchant, owner, location, wallet_settings, pki):
    from loyalty.wallet import credentials as wallet_credentials

    wallet_credentials.upload_apple_certificate(merchant=merchant, data=pki.pass_cert.p12(b"pw"), password="pw")
    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, mechanic="stamps", stamps_per_reward=6, welcome_bonus=0)
    card = enroll_customer(merchant=merchant, phone="+79160000001", name="Анна", location=location)
    card.stamps = 4
    card.save(update_fields=["stamps"])
    data = passes.build_pass(wallet_pass=passes.wallet_pass_for(card=card))
    files = unzip(data)
    pass_json = json.loads(files["pass.json"])
    stamps = next(f for f in pass_json["storeCard"]["secondaryFields"] if f["key"] == "stamps")
    assert stamps["value"] == "4 / 6"
    assert "primaryFields" not in pass_json["storeCard"]
    assert {"strip.png", "strip@2x.png", "strip@3x.png"} <= set(files)
    card.stamps = 5
    card.save(update_fields=["stamps"])
    again = unzip(passes.build_pass(wallet_pass=passes.wallet_pass_for(card=card)))
    assert again["strip@2x.png"] != files["strip@2x.png"]


@pytest.mark.django_db
def test_push_results_for_many_devices_fly_concurrently(apple_merchant, pos_card, apns_server):
    """Many devices, one pass: the pushes share one connection and overlap in time."""
    from tests.fakes.apns import Reply

    wallet_pass = passes.wallet_pass_for(card=pos_card)
    WalletPass.objects.filter(pk=wallet_pass.pk).update(pass_type_identifier="pass.com.example.loyalty")
    tokens = register_devices(wallet_pass, 40)
    apns_server.reset()
    # Every reply is held until all 40 pushes are in flight at once; sequential pushes never get there.
    for token in tokens:
        apns_server.script(token, Reply(hold=True))
    wallet_pass.refresh_from_db()
    seen = apns_server.release_when_in_flight(40)
    outcome = passes.push_apple(wallet_pass=wallet_pass)
    assert outcome.delivered == 40
    assert seen == [40]
    assert len(apns_server.connections) == 1


@pytest.mark.django_db(transaction=True)
def test_bulk_claims_by_concurrent_workers_are_disjoint(apple_merchant, location, pos_program):
    cards = [enroll_customer(merchant=apple_merchant, phone=f"+7916800{n:04d}", location=location) for n in range(40)]
    ids = [passes.wallet_pass_for(card=card).pk for card in cards]
    WalletPass.objects.filter(pk__in=ids).update(needs_sync_since=timezone.now())
    barrier = threading.Barrier(3)
    claimed: list[list[int]] = []
    errors = []

    def worker():
        try:
            barrier.wait()
            mine = []
            while batch := passes.claim_marked_passes(merchant_id=apple_merchant.pk, limit=7):
                mine += [wallet_pass.pk for wallet_pass, _ in batch]
            claimed.append(mine)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a worker is still running"
    assert errors == []
    assert len(claimed) == 3
    everything = [pk for mine in claimed for pk in mine]
    assert sorted(everything) == sorted(ids)  # each pass claimed exactly once
    assert not WalletPass.objects.filter(needs_sync_since__isnull=False).exists()


@pytest.mark.django_db
def test_card_changed_costs_one_query_for_a_card_without_a_wallet_pass(pos_card, django_assert_num_queries):
    from loyalty.wallet.contract import card_changed

    with django_assert_num_queries(1):
        card_changed(pos_card.pk)


@pytest.mark.django_db
def test_card_changed_is_one_statement_for_a_card_with_a_wallet_pass(
    apple_merchant, pos_card, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from loyalty.wallet.contract import card_changed

    wallet_pass = passes.wallet_pass_for(card=pos_card)
    with django_capture_on_commit_callbacks() as callbacks, django_assert_num_queries(1):
        card_changed(pos_card.pk)
    assert len(callbacks) == 1  # the sync, queued for the commit
    wallet_pass.refresh_from_db()
    assert wallet_pass.needs_sync_since is not None


@pytest.mark.django_db
def test_several_cards_are_marked_in_one_statement(apple_merchant, location, pos_program, django_assert_num_queries):
    from loyalty.wallet.contract import cards_changed_by_id

    cards = [enroll_customer(merchant=apple_merchant, phone=f"+7916700{n:04d}", location=location) for n in range(3)]
    ids = [passes.wallet_pass_for(card=card).pk for card in cards[:2]]  # the third has no pass
    with django_assert_num_queries(1):
        cards_changed_by_id([card.pk for card in cards])
    assert WalletPass.objects.filter(pk__in=ids, needs_sync_since__isnull=False).count() == 2
