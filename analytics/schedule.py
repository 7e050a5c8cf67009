"""The analytics app's periodic tasks (stored by ``manage.py setup_periodic_tasks``).
Crontab fields are in UTC. The nightly rebuild runs once for every merchant at
a quiet hour for Europe and Russia; pages read the old figures until it commits.
The prediction dispatcher runs hourly and picks each merchant at its own local hour."""

PERIODIC_TASKS = [
    {
        "name": "analytics: add new purchases to the summaries",
        "task": "analytics.tasks.refresh_summaries_task",
        "crontab": {"minute": "*/5", "hour": "*"},
    },
    {
        "name": "analytics: nightly rebuild of summaries, cohorts and tiers",
        "task": "analytics.tasks.nightly_summaries_task",
        "crontab": {"minute": "10", "hour": "0"},
    },
    {
        "name": "analytics: nightly predicted customer value",
        "task": "analytics.tasks.fit_predictions_dispatch_task",
        "crontab": {"minute": "25", "hour": "*"},
    },
]
