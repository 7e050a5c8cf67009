"""The loyalty app's periodic tasks, declared once. ``manage.py
setup_periodic_tasks`` stores them through django-celery-beat (admin can then
pause or retime them). Crontab fields are in UTC; the tasks themselves decide
"nightly" and "birthday" in each merchant's time zone."""

PERIODIC_TASKS = [
    {
        "name": "loyalty: expire points and stamps",
        "task": "loyalty.tasks.expire_points_task",
        "crontab": {"minute": "5", "hour": "*"},
    },
    {
        "name": "loyalty: activate pending points",
        "task": "loyalty.tasks.activate_pending_points_task",
        "crontab": {"minute": "*/10", "hour": "*"},
    },
    {
        "name": "loyalty: birthday bonuses",
        "task": "loyalty.tasks.birthday_bonuses_task",
        "crontab": {"minute": "20", "hour": "*"},
    },
    {
        "name": "loyalty: nightly tier demotion",
        "task": "loyalty.tasks.nightly_tier_demotion_task",
        "crontab": {"minute": "40", "hour": "*"},
    },
    {
        "name": "pos api: forget old idempotency records",
        "task": "loyalty.tasks.purge_idempotent_requests_task",
        "crontab": {"minute": "50", "hour": "3"},
    },
    # Personal data retention (loyalty/customers/tasks.py): at each merchant's nightly hour.
    {
        "name": "loyalty: anonymise inactive customers (retention)",
        "task": "loyalty.customers.tasks.retention_task",
        "crontab": {"minute": "45", "hour": "*"},
    },
    # Wallets (loyalty/wallet/tasks.py).
    {
        "name": "wallet: re-queue lost pass updates",
        "task": "loyalty.wallet.tasks.sweep_lost_wallet_syncs_task",
        "crontab": {"minute": "*/5", "hour": "*"},
    },
    {
        "name": "wallet: clean up stale Apple registrations",
        "task": "loyalty.wallet.tasks.cleanup_wallet_registrations_task",
        "crontab": {"minute": "15", "hour": "2"},
    },
    {
        "name": "wallet: warn owners before the Apple certificate expires",
        "task": "loyalty.wallet.tasks.warn_wallet_certificate_expiry_task",
        "crontab": {"minute": "30", "hour": "6"},
    },
]
