"""The debounced sync's due set in Redis (loyalty/wallet/debounce.py): a burst
adds its pass once and starts one drain chain; a drain takes only what is due
and runs again for the rest; a chain stops when the set is empty or another
chain owns it, and a lost chain is replaced by the next change. With a real
worker, the whole way from a purchase to the push."""

# ruff: noqa: F811  (fixtures imported from support modules)

from __future__ import annotations

import pytest

from loyalty.wallet import debounce, passes, tasks
from tests.loyalty.api_support import pos, pos_card, pos_key, pos_program  # noqa: F401
from tests.wallet.pipeline_support import apple_merchant, clear_due_set, wallet_settings  # noqa: F401
from tests.wallet.test_pipeline import buy, celery_worker, installed_on_iphone, task_log, wait_until  # noqa: F401


@pytest.fixture
def due_set():
    assert debounce.available()
    clear_due_set()
    yield
    clear_due_set()


def flag() -> str | None:
    client = debounce._redis()[0]
    value = client.get(debounce.redis_keys()[1])
    return value.decode() if value is not None else None


def drains_published(task_log) -> list[tuple]:
    return [headers for name, headers in task_log["published"] if name == tasks.drain_due_syncs_task.name]


def test_a_burst_starts_one_chain_and_keeps_the_first_due_time(due_set, task_log):
    debounce.schedule([7], delay=2, now=1000.0)
    debounce.schedule([7, 8], delay=2, now=1001.0)
    assert debounce.due_passes() == {7: 1002.0, 8: 1003.0}
    assert len(drains_published(task_log)) == 1  # the second change found the chain on its way
    assert flag() is not None


def test_a_drain_takes_what_is_due_and_runs_again_for_the_rest(due_set, task_log):
    debounce.schedule([1, 2], delay=0, now=1000.0)
    debounce.schedule([3], delay=10, now=1000.0)
    token = flag()
    assert debounce.drain(token, now=1001.0) == ([1, 2], 1010.0)
    assert debounce.due_passes() == {3: 1010.0}
    assert debounce.drain(token, now=1005.0) == ([], 1010.0)
    # The last one: the set is empty, the chain ends and the next change starts a new one.
    assert debounce.drain(token, now=1010.0) == ([3], None)
    assert flag() is None
    debounce.schedule([4], delay=1, now=1020.0)
    assert len(drains_published(task_log)) == 2 and flag() not in (None, token)


def test_a_drain_of_another_chain_stops(due_set):
    debounce.schedule([1, 2], delay=0, now=1000.0)
    debounce.schedule([3], delay=10, now=1000.0)
    owner = flag()
    # A chain whose flag expired and was replaced: it takes what is due but does not run again.
    assert debounce.drain("stale-chain", now=1001.0) == ([1, 2], None)
    assert flag() == owner and debounce.due_passes() == {3: 1010.0}


def test_a_lost_chain_is_replaced_by_the_next_change(due_set, task_log):
    debounce.schedule([1], delay=0, now=1000.0)
    debounce._redis()[0].delete(debounce.redis_keys()[1])  # the flag expired: its drain died with a worker
    debounce.schedule([2], delay=0, now=1001.0)
    assert len(drains_published(task_log)) == 2
    assert debounce.drain(flag(), now=1002.0) == ([1, 2], None)


def test_a_drain_adopts_the_set_when_no_chain_owns_it(due_set):
    debounce.schedule([1], delay=0, now=1000.0)
    debounce.schedule([2], delay=10, now=1000.0)
    debounce._redis()[0].delete(debounce.redis_keys()[1])
    assert debounce.drain("survivor", now=1001.0) == ([1], 1010.0)
    assert flag() == "survivor"


@pytest.mark.django_db(transaction=True)
def test_purchases_reach_the_phone_through_the_due_set_with_a_real_worker(
    apple_merchant, pos, pos_card, apns_server, settings, celery_worker, task_log
):
    settings.WALLET_SYNC_DEBOUNCE_SECONDS = 1
    wallet_pass, phone, _ = installed_on_iphone(pos_card)
    celery_worker()
    for burst in (1, 2):
        buy(pos, pos_card, "100.00")
        buy(pos, pos_card, "100.00")
        # One push per burst, and the chain of drains ends with the set empty.
        wait_until(lambda n=burst: len(apns_server.requests_for(phone.push_token)) == n, f"push {burst}")
        wait_until(lambda: {task_id for _, task_id in task_log["published"]} <= set(task_log["finished"]), "the tasks")
        wait_until(lambda: flag() is None, "the chain to end")
        assert debounce.due_passes() == {}
        wallet_pass.refresh_from_db()
        assert wallet_pass.needs_sync_since is None
    assert len(apns_server.requests_for(phone.push_token)) == 2
    # Each burst published one drain here; the drains published the syncs; nothing published a delayed sync.
    names = [name for name, _ in task_log["published"]]
    assert names.count(tasks.drain_due_syncs_task.name) == 2
    assert names.count(tasks.sync_pass_task.name) == 2
    assert passes.sync_pass(pass_id=wallet_pass.pk).status == "already synced"
