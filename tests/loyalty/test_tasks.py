"""Tasks take ids, return quietly when the row is gone, and the schedule is stored idempotently."""

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from loyalty.ledger import tasks
from loyalty.schedule import PERIODIC_TASKS
from tests.loyalty.conftest import T0, fresh

pytestmark = pytest.mark.django_db


def test_tasks_for_a_missing_merchant_do_nothing():
    assert tasks.settle_merchant_cards_task(999999) == 0
    assert tasks.grant_birthday_bonuses_task(999999) == 0
    assert tasks.demote_tiers_task(999999) == 0


def test_tasks_retry_on_transient_database_errors():
    for task in (tasks.settle_merchant_cards_task, tasks.expire_points_task, tasks.birthday_bonuses_task):
        assert task.max_retries == 5
        assert task.retry_backoff is True
        assert task.acks_late is True


@pytest.mark.django_db(transaction=True)
def test_a_task_retries_through_celery_after_a_real_lock_timeout(card, buy, rules, merchant):
    """Another session holds the card's row lock; the task's first run hits PostgreSQL's lock_timeout
    (a real OperationalError), Celery retries it (autoretry), and the retry, once the lock is gone, settles
    the card."""
    from celery.signals import task_prerun, task_retry
    from django.db import connection, connections, transaction

    from loyalty.models import Card

    rules(points_expiry_days=1)
    buy(card, "1000")
    assert fresh(card).balance == 50
    holding, release, released = threading.Event(), threading.Event(), threading.Event()
    errors, attempts, retried = [], [], []

    def hold_the_card():
        try:
            with transaction.atomic():
                Card.objects.select_for_update().get(pk=card.pk)
                holding.set()
                release.wait(60)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)
        finally:
            connections.close_all()
            released.set()

    def on_prerun(task_id=None, task=None, **kwargs):
        attempts.append(task.request.retries)
        if len(attempts) == 2:  # the retry: let the other session go first
            release.set()
            released.wait(30)

    def on_retry(request=None, reason=None, **kwargs):
        retried.append(reason)

    task_prerun.connect(on_prerun, weak=False)
    task_retry.connect(on_retry, weak=False)
    blocker = threading.Thread(target=hold_the_card)
    blocker.start()
    try:
        assert holding.wait(30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        result = tasks.settle_merchant_cards_task.apply(args=[merchant.pk, False, (T0 + timedelta(days=3)).isoformat()])
    finally:
        release.set()
        blocker.join(60)
        task_prerun.disconnect(on_prerun)
        task_retry.disconnect(on_retry)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert errors == []
    assert attempts == [0, 1]  # the first run and one retry, through Celery
    assert result.successful(), result.traceback
    assert result.get() == 1
    assert fresh(card).balance == 0  # the retry expired the 50 points
    # Celery retried because of the real error PostgreSQL raised.
    assert len(retried) == 1 and "lock timeout" in str(retried[0]), retried


def test_expire_dispatcher_queues_merchants_with_due_lots(card, buy, rules, merchant, settings, monkeypatch):
    rules(points_expiry_days=1)
    buy(card, "1000")
    queued = []
    monkeypatch.setattr(tasks.settle_merchant_cards_task, "delay", lambda *a, **k: queued.append(a))
    import time_machine

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        tasks.expire_points_task()
    assert queued == []
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        tasks.expire_points_task()
    assert queued == [(merchant.pk,)]


def test_setup_periodic_tasks_is_idempotent():
    out = StringIO()
    call_command("setup_periodic_tasks", stdout=out)
    call_command("setup_periodic_tasks", stdout=out)
    names = {spec["name"] for spec in PERIODIC_TASKS}
    stored = PeriodicTask.objects.filter(name__in=names)
    assert stored.count() == len(PERIODIC_TASKS)
    assert all(t.enabled and t.crontab is not None for t in stored)
    # The wallet jobs (loyalty/wallet/tasks.py) are declared in the same list.
    assert {t.task for t in stored} >= {
        "loyalty.tasks.expire_points_task",
        "loyalty.tasks.activate_pending_points_task",
        "loyalty.tasks.birthday_bonuses_task",
        "loyalty.tasks.nightly_tier_demotion_task",
    }
    # An admin retiming is overwritten back to the declaration on the next run.
    task = stored.get(task="loyalty.tasks.expire_points_task")
    task.enabled = False
    task.save()
    call_command("setup_periodic_tasks", stdout=out)
    assert PeriodicTask.objects.get(pk=task.pk).enabled


def test_every_declared_task_exists():
    from celery import current_app

    import loyalty.ledger.tasks  # noqa: F401 - registers the tasks

    for spec in PERIODIC_TASKS:
        assert spec["task"] in current_app.tasks
