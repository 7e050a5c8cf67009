"""Recurring campaigns from the dashboard: the friendly schedule ("every week on Monday and
Thursday at 10:00") or crontab fields, mapped to a django-celery-beat CrontabSchedule in the
merchant's time zone, editable while live, with errors a person understands."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from campaigns.models import Campaign

pytestmark = pytest.mark.django_db

BASE = {
    "name": "Новинки недели",
    "kind": "recurring",
    "body": "{first_name}, у нас новинки!",
    "channel_1": "email",
    "holdout_percent": 10,
    "attribution_days": 14,
    "offer_points": 0,
    "feedback_bonus": 0,
}


def login(user, language="en") -> Client:
    client = Client(headers={"Accept-Language": language})
    client.force_login(user)
    return client


def test_a_weekly_schedule_becomes_a_beat_entry_in_the_merchants_zone(merchant, marketer):
    client = login(marketer)
    response = client.post(
        reverse("campaign_create"),
        {**BASE, "repeat": "weekly", "repeat_time": "10:00", "repeat_weekdays": ["4", "1"]},
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    campaign = Campaign.objects.get(merchant=merchant)
    assert campaign.recurrence == {"minute": "0", "hour": "10", "day_of_week": "1,4", "day_of_month": "*"}
    page = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert "Every week: Monday, Thursday at 10:00 (Europe/Moscow)" in page
    assert campaign.periodic_task_id is None  # nothing fires before it is switched on

    client.post(reverse("campaign_activate", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == "active"
    task = PeriodicTask.objects.get(pk=campaign.periodic_task_id)
    assert task.enabled and task.task == "campaigns.tasks.run_recurring_campaign_task"
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week, crontab.day_of_month, crontab.month_of_year) == (
        "0",
        "10",
        "1,4",
        "*",
        "*",
    )
    assert str(crontab.timezone) == "Europe/Moscow"

    # Edited while live: the beat entry follows at once.
    client.post(
        reverse("campaign_edit", args=[campaign.pk]),
        {**BASE, "repeat": "monthly", "repeat_time": "09:30", "repeat_day_of_month": "15"},
    )
    task.refresh_from_db()
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_month, task.crontab.day_of_week) == (
        "30",
        "9",
        "15",
        "*",
    )
    form = client.get(reverse("campaign_edit", args=[campaign.pk])).context["form"]
    assert (form["repeat"].value(), form["repeat_day_of_month"].value()) == ("monthly", 15)

    # Paused: the entry is off; resumed: on again.
    client.post(reverse("campaign_pause", args=[campaign.pk]))
    task.refresh_from_db()
    assert not task.enabled
    client.post(reverse("campaign_resume", args=[campaign.pk]))
    task.refresh_from_db()
    assert task.enabled


def test_crontab_fields_are_accepted_once_a_day(merchant, marketer):
    client = login(marketer)
    response = client.post(
        reverse("campaign_create"),
        {
            **BASE,
            "repeat": "custom",
            "cron_minute": "05",
            "cron_hour": "18",
            "cron_day_of_week": "1-5",
            "cron_day_of_month": "*",
        },
    )
    assert response.status_code == 302
    campaign = Campaign.objects.get(merchant=merchant)
    assert campaign.recurrence == {"minute": "5", "hour": "18", "day_of_week": "1-5", "day_of_month": "*"}
    page = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert "Crontab 5 18 * * 1-5 (Europe/Moscow)" in page


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"repeat": "weekly", "repeat_time": "10:00"}, "repeat_weekdays", "Choose at least one day of the week."),
        ({"repeat": "daily"}, "repeat_time", "Choose the time of day, for example 10:00."),
        ({"repeat": "daily", "repeat_time": "25:00"}, "repeat_time", "Enter the time as HH:MM"),
        ({"repeat": "monthly", "repeat_time": "10:00", "repeat_day_of_month": "31"}, "repeat_day_of_month", "1 to 28"),
        ({"repeat": "custom", "cron_minute": "*/5", "cron_hour": "10"}, "cron_minute", "One number from 0 to 59"),
        ({"repeat": "custom", "cron_minute": "0", "cron_hour": "9-18"}, "cron_hour", "One number from 0 to 23"),
        (
            {"repeat": "custom", "cron_minute": "0", "cron_hour": "9", "cron_day_of_week": "8"},
            "cron_day_of_week",
            "Not a crontab value",
        ),
        (
            {"repeat": "custom", "cron_minute": "0", "cron_hour": "9", "cron_day_of_month": "32"},
            "cron_day_of_month",
            "Not a crontab value",
        ),
        ({"repeat": "hourly", "repeat_time": "10:00"}, "repeat", "Select a valid choice"),
    ],
)
def test_a_bad_schedule_is_refused_in_words_and_nothing_is_saved(merchant, marketer, fields, field, words):
    response = login(marketer).post(reverse("campaign_create"), {**BASE, **fields})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and any(words in e for e in errors[field]), errors
    assert not Campaign.objects.exists() and not PeriodicTask.objects.filter(name__startswith="campaign").exists()


def test_schedule_errors_read_in_russian(merchant, marketer):
    response = login(marketer, "ru").post(
        reverse("campaign_create"), {**BASE, "repeat": "custom", "cron_minute": "*", "cron_hour": "10"}
    )
    assert response.status_code == 400
    [error] = response.context["form"].errors["cron_minute"]
    assert error == (
        "Одно число от 0 до 59: регулярная рассылка уходит не чаще раза в день, поэтому нужна одна минута."
    )
    page = login(marketer, "ru").get(reverse("campaign_create")).content.decode()
    assert "Каждую неделю" in page and "Понедельник" in page
