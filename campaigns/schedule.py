"""The campaigns app's periodic tasks, declared once (stored through
django-celery-beat by ``manage.py setup_periodic_tasks``). Crontab fields are
in UTC; each task decides "nightly" in the merchant's time zone."""

PERIODIC_TASKS = [
    {
        "name": "campaigns: nightly RFM scores",
        "task": "campaigns.tasks.recompute_rfm_task",
        "crontab": {"minute": "45", "hour": "*"},
    },
    {
        # Due broadcasts, stalled sends taken over, deferred deliveries re-queued, automations' triggers.
        "name": "campaigns: dispatcher",
        "task": "campaigns.tasks.dispatch_campaigns_task",
        "crontab": {"minute": "*", "hour": "*"},
    },
]
