"""Tasks take ids, return quietly when the row is gone, and the schedule is stored idempotently."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from loyalty.ledger import tasks
from loyalty.schedule import PERIODIC_TASKS
from tests.loyalty.conftest import T0

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
