"""The analytics app's periodic tasks, declared once (``manage.py setup_periodic_tasks``
stores them through django-celery-beat). Crontab fields are in UTC; the dispatcher
picks each merchant at its own local hour."""

PERIODIC_TASKS = [
    {
        "name": "analytics: nightly predicted customer value",
        "task": "analytics.tasks.fit_predictions_dispatch_task",
        "crontab": {"minute": "25", "hour": "*"},
    },
]
