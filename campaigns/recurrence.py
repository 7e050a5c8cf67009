"""A recurring campaign's schedule: the dashboard's friendly form ("every day / every week on
Monday and Thursday / every month on the 1st, at 10:00") or crontab fields, turned into the
django-celery-beat ``CrontabSchedule`` fields (in the merchant's time zone, see
``sending.set_recurring``) and described back in words.

A recurring campaign sends at most once per local day (``sending.recurring_occurrence``), so a
schedule names one time of day: a single hour and a single minute.
"""

from __future__ import annotations

from datetime import time

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django_celery_beat.validators import day_of_month_validator, day_of_week_validator

DAILY, WEEKLY, MONTHLY, CUSTOM = "daily", "weekly", "monthly", "custom"
REPEAT_CHOICES = [
    (DAILY, gettext_lazy("Every day")),
    (WEEKLY, gettext_lazy("Every week")),
    (MONTHLY, gettext_lazy("Every month")),
    (CUSTOM, gettext_lazy("Crontab fields")),
]
# Cron's numbering (0 = Sunday), listed from Monday.
WEEKDAYS = [
    ("1", gettext_lazy("Monday")),
    ("2", gettext_lazy("Tuesday")),
    ("3", gettext_lazy("Wednesday")),
    ("4", gettext_lazy("Thursday")),
    ("5", gettext_lazy("Friday")),
    ("6", gettext_lazy("Saturday")),
    ("0", gettext_lazy("Sunday")),
]

# The same days inside a sentence ("Every week: Monday, Thursday …"; Russian writes them in lower case).
WEEKDAYS_IN_SENTENCE = {
    "1": pgettext_lazy("weekday in a sentence", "Monday"),
    "2": pgettext_lazy("weekday in a sentence", "Tuesday"),
    "3": pgettext_lazy("weekday in a sentence", "Wednesday"),
    "4": pgettext_lazy("weekday in a sentence", "Thursday"),
    "5": pgettext_lazy("weekday in a sentence", "Friday"),
    "6": pgettext_lazy("weekday in a sentence", "Saturday"),
    "0": pgettext_lazy("weekday in a sentence", "Sunday"),
}


def crontab_for(
    *, repeat: str, at: time | None = None, weekdays=(), day_of_month: int | None = None, custom=None
) -> dict[str, str]:
    """The CrontabSchedule fields. Raises ValidationError {field: message} in the user's words."""
    if repeat == CUSTOM:
        return _custom(custom or {})
    if at is None:
        raise ValidationError({"repeat_time": _("Choose the time of day, for example 10:00.")})
    fields = {"minute": str(at.minute), "hour": str(at.hour), "day_of_week": "*", "day_of_month": "*"}
    if repeat == WEEKLY:
        days = sorted({str(d) for d in weekdays}, key=lambda d: int(d) or 7)
        if not days:
            raise ValidationError({"repeat_weekdays": _("Choose at least one day of the week.")})
        fields["day_of_week"] = ",".join(days)
    elif repeat == MONTHLY:
        if day_of_month is None or not 1 <= day_of_month <= 28:
            raise ValidationError({"repeat_day_of_month": _("Choose a day from 1 to 28 (every month has it).")})
        fields["day_of_month"] = str(day_of_month)
    elif repeat != DAILY:
        raise ValidationError({"repeat": _("Choose how often the campaign repeats.")})
    return fields


def _custom(custom: dict) -> dict[str, str]:
    fields = {name: (custom.get(name) or "").strip() for name in ("minute", "hour", "day_of_week", "day_of_month")}
    errors = {}
    messages = {
        "minute": _(
            "One number from 0 to 59: a recurring campaign goes out at most once a day, so it needs one minute."
        ),
        "hour": _("One number from 0 to 23: a recurring campaign goes out at most once a day, so it needs one hour."),
    }
    for name, top in (("minute", 59), ("hour", 23)):
        value = fields[name]
        if not value.isdigit() or int(value) > top:
            errors[f"cron_{name}"] = messages[name]
        else:
            fields[name] = str(int(value))
    for name, validate, example in (
        ("day_of_week", day_of_week_validator, "1,4 · 1-5 · *"),
        ("day_of_month", day_of_month_validator, "1,15 · *"),
    ):
        fields[name] = fields[name] or "*"
        try:
            validate(fields[name])
        except ValidationError:
            errors[f"cron_{name}"] = _("Not a crontab value. Examples: %(examples)s") % {"examples": example}
    if errors:
        raise ValidationError(errors)
    return fields


def friendly_form(crontab: dict) -> dict:
    """The form's initial values for a stored crontab (the friendly kind when it is one)."""
    minute, hour = crontab.get("minute", ""), crontab.get("hour", "")
    dow, dom = crontab.get("day_of_week", "*"), crontab.get("day_of_month", "*")
    initial = {
        "repeat": CUSTOM,
        "cron_minute": minute,
        "cron_hour": hour,
        "cron_day_of_week": dow,
        "cron_day_of_month": dom,
    }
    if not (minute.isdigit() and hour.isdigit()):
        return initial
    initial["repeat_time"] = time(int(hour), int(minute))
    if dow == "*" and dom == "*":
        initial["repeat"] = DAILY
    elif dom == "*" and all(d in {"0", "1", "2", "3", "4", "5", "6"} for d in dow.split(",")):
        initial["repeat"], initial["repeat_weekdays"] = WEEKLY, dow.split(",")
    elif dow == "*" and dom.isdigit() and 1 <= int(dom) <= 28:
        initial["repeat"], initial["repeat_day_of_month"] = MONTHLY, int(dom)
    return initial


def describe(crontab: dict, *, time_zone: str) -> str:
    """ "Every Monday, Thursday at 10:00 (Europe/Moscow)"."""
    if not crontab:
        return ""
    initial = friendly_form(crontab)
    values = {"tz": time_zone}
    if "repeat_time" in initial:
        values["time"] = initial["repeat_time"].strftime("%H:%M")
    repeat = initial["repeat"]
    if repeat == DAILY:
        return _("Every day at %(time)s (%(tz)s)") % values
    if repeat == WEEKLY:
        values["days"] = ", ".join(str(WEEKDAYS_IN_SENTENCE[d]) for d in initial["repeat_weekdays"])
        return _("Every week: %(days)s at %(time)s (%(tz)s)") % values
    if repeat == MONTHLY:
        values["day"] = initial["repeat_day_of_month"]
        return _("Every month on day %(day)s at %(time)s (%(tz)s)") % values
    values["cron"] = " ".join(
        crontab.get(n, "*") for n in ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    )
    return _("Crontab %(cron)s (%(tz)s)") % values
