"""Store the periodic tasks declared in code (``<app>/schedule.py``'s
``PERIODIC_TASKS``) through django-celery-beat. Idempotent: rerunning updates
the rows in place; tasks no longer declared are disabled, not deleted."""

import importlib

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")


def declared_tasks() -> list[dict]:
    declared = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.schedule")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedule":
                raise
            continue
        declared.extend(getattr(module, "PERIODIC_TASKS", []))
    return declared


class Command(BaseCommand):
    help = "Create or update the Celery beat schedule declared in code (django-celery-beat)."

    @transaction.atomic
    def handle(self, *args, **options):
        declared = declared_tasks()
        names = set()
        for spec in declared:
            cron = {name: str(spec["crontab"].get(name, "*")) for name in CRONTAB_FIELDS}
            schedule, _ = CrontabSchedule.objects.get_or_create(timezone="UTC", **cron)
            task, created = PeriodicTask.objects.update_or_create(
                name=spec["name"],
                defaults={"task": spec["task"], "crontab": schedule, "interval": None, "enabled": True},
            )
            names.add(spec["name"])
            self.stdout.write(f"{'created' if created else 'updated'}: {task.name} ({task.task}) {schedule}")
        stale = PeriodicTask.objects.filter(task__in=[s["task"] for s in declared]).exclude(name__in=names)
        stale |= PeriodicTask.objects.filter(name__startswith="loyalty: ").exclude(name__in=names)
        for task in stale.filter(enabled=True):
            task.enabled = False
            task.save(update_fields=["enabled"])
            self.stdout.write(f"disabled (no longer declared): {task.name}")
        self.stdout.write(self.style.SUCCESS(f"{len(declared)} periodic tasks in place."))
