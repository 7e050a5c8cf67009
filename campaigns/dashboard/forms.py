from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns import recurrence
from campaigns.models import Campaign, CampaignSettings, ChannelChoices, Kind, Segment, Trigger
from campaigns.personalize import PLACEHOLDERS

CHANNEL_SLOTS = 4
MAX_OFFER_MULTIPLIER = Decimal(10)
MAX_OFFER_DAYS = 366


class CampaignForm(forms.ModelForm):
    repeat = forms.ChoiceField(
        label=_("Repeat"), choices=recurrence.REPEAT_CHOICES, initial=recurrence.WEEKLY, required=False
    )
    repeat_time = forms.TimeField(
        label=_("At (your time zone)"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"invalid": _("Enter the time as HH:MM, for example 10:00.")},
    )
    repeat_weekdays = forms.MultipleChoiceField(
        label=_("On these days (every week)"),
        choices=recurrence.WEEKDAYS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    repeat_day_of_month = forms.IntegerField(
        label=_("Day of the month (every month)"),
        required=False,
        error_messages={"invalid": _("Enter a whole number from 1 to 28.")},
    )
    cron_minute = forms.CharField(label=_("Minute"), required=False, max_length=64)
    cron_hour = forms.CharField(label=_("Hour"), required=False, max_length=64)
    cron_day_of_week = forms.CharField(
        label=_("Days of the week"),
        required=False,
        max_length=64,
        help_text=_("0 or 7 is Sunday; 1-5 is Monday to Friday; * is every day."),
    )
    cron_day_of_month = forms.CharField(
        label=_("Days of the month"), required=False, max_length=64, help_text=_("For example 1,15; * is every day.")
    )
    send_at_local = forms.DateTimeField(
        label=_("Send at (your time zone)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Empty: send as soon as you press Send."),
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "kind",
            "trigger",
            "trigger_days",
            "segment",
            "subject",
            "body",
            "offer_points",
            "offer_multiplier",
            "offer_discount_percent",
            "offer_valid_days",
            "feedback_bonus",
            "transactional",
            "holdout_percent",
            "attribution_days",
        ]
        widgets = {"body": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        self.fields["segment"].queryset = Segment.objects.for_merchant(merchant)
        self.fields["segment"].empty_label = str(_("Everyone with consent"))
        self.fields["trigger"].required = False
        self.fields["kind"].choices = Kind.choices
        self.fields["trigger"].choices = [("", "—"), *Trigger.choices]
        self.fields["body"].help_text = _("Placeholders: %(names)s") % {
            "names": ", ".join("{" + name + "}" for name in PLACEHOLDERS)
        }
        self.fields["trigger_days"].label = _("How many days")
        self.fields["trigger_days"].help_text = _(
            "Follow-up: days after the purchase. Birthday: days before it. Win-back: days without a purchase "
            "(empty: twice your customers' usual gap between purchases). Points expiry: days before the date."
        )
        self.fields["feedback_bonus"].required = False
        self.fields["feedback_bonus"].help_text = _(
            "Follow-up after a purchase: the message carries a link to a page where the customer rates the "
            "visit 1–5; these points are given once for answering. Ratings of 2 or less are e-mailed to you. "
            "Put {feedback_link} in the message to choose where the link goes."
        )
        self.fields["holdout_percent"].max_value = 90
        self.fields["offer_valid_days"].label = _("Bonus and offer valid for, days")
        self.fields["offer_multiplier"].help_text = _(
            "For example 2: the next purchase earns twice the points. Empty: no multiplier."
        )
        self.fields["offer_discount_percent"].help_text = _(
            "The till takes this share off the next bill and shows the cashier where it comes from. Empty: no discount."
        )
        current = list(self.instance.channels or []) if self.instance.pk else ["wallet", "email"]
        for slot in range(CHANNEL_SLOTS):
            self.fields[f"channel_{slot + 1}"] = forms.ChoiceField(
                label=_("Channel %(n)s") % {"n": slot + 1},
                choices=[("", "—"), *ChannelChoices.choices],
                required=slot == 0,
                initial=current[slot] if slot < len(current) else "",
            )
        if self.instance.pk and self.instance.recurrence:
            for name, value in recurrence.friendly_form(self.instance.recurrence).items():
                self.fields[name].initial = value
        if self.instance.pk and self.instance.send_at:
            self.fields["send_at_local"].initial = timezone.localtime(self.instance.send_at, merchant.tzinfo).replace(
                tzinfo=None
            )

    def clean(self):
        data = super().clean()
        channels = []
        for slot in range(CHANNEL_SLOTS):
            value = data.get(f"channel_{slot + 1}")
            if value and value not in channels:
                channels.append(value)
        if not channels:
            self.add_error("channel_1", _("Choose at least one channel."))
        data["channels"] = channels
        data["feedback_bonus"] = data.get("feedback_bonus") or 0
        if data.get("kind") == Kind.AUTOMATION and not data.get("trigger"):
            self.add_error("trigger", _("An automation needs a trigger."))
        if data.get("kind") != Kind.AUTOMATION:
            data["trigger"] = ""
        self._clean_offer(data)
        data["recurrence"] = {}
        if data.get("kind") == Kind.RECURRING:
            try:
                data["recurrence"] = recurrence.crontab_for(
                    repeat=data.get("repeat", ""),
                    at=data.get("repeat_time"),
                    weekdays=data.get("repeat_weekdays") or (),
                    day_of_month=data.get("repeat_day_of_month"),
                    custom={
                        name: data.get(f"cron_{name}", "") for name in ("minute", "hour", "day_of_week", "day_of_month")
                    },
                )
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    for message in messages:
                        self.add_error(field, message)
        return data

    def _clean_offer(self, data: dict) -> None:
        multiplier, discount = data.get("offer_multiplier"), data.get("offer_discount_percent")
        days = data.get("offer_valid_days")
        if multiplier is not None and not (Decimal(1) < multiplier <= MAX_OFFER_MULTIPLIER):
            self.add_error("offer_multiplier", _("The multiplier must be above 1 and at most 10."))
        if discount is not None and not (Decimal(0) < discount <= Decimal(100)):
            self.add_error("offer_discount_percent", _("The discount must be above 0 % and at most 100 %."))
        if multiplier is not None and discount is not None:
            self.add_error(
                "offer_discount_percent", _("Choose either a multiplier or a discount for the next purchase, not both.")
            )
        if (multiplier is not None or discount is not None) and not days:
            self.add_error("offer_valid_days", _("Say for how many days the offer is valid."))
        if days is not None and not (1 <= days <= MAX_OFFER_DAYS):
            self.add_error("offer_valid_days", _("Choose from 1 to 366 days."))

    def send_at(self) -> datetime | None:
        value = self.cleaned_data.get("send_at_local")
        if value is None:
            return None
        return value.replace(tzinfo=self.merchant.tzinfo) if timezone.is_naive(value) else value

    def save(self, commit: bool = True) -> Campaign:
        campaign = super().save(commit=False)
        campaign.merchant = self.merchant
        campaign.channels = self.cleaned_data["channels"]
        campaign.trigger = self.cleaned_data.get("trigger", "")
        campaign.recurrence = self.cleaned_data.get("recurrence") or {}
        campaign.updated_at = timezone.now()
        if commit:
            campaign.save()
        return campaign


SENDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .&'-]*$")


class CampaignSettingsForm(forms.ModelForm):
    """Bounds a person can live with; every refusal says what to type instead."""

    class Meta:
        model = CampaignSettings
        fields = [
            "cap_messages",
            "cap_days",
            "exempt_transactional",
            "quiet_start",
            "quiet_end",
            "default_holdout_percent",
            "default_attribution_days",
            "sender_name",
            "owner_email",
        ]
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    BOUNDS = {
        "cap_messages": (1, 20, _("From 1 to 20 messages.")),
        "cap_days": (1, 60, _("From 1 to 60 days.")),
        "default_holdout_percent": (0, 90, _("From 0 to 90 %. 0 means no hold-out and no measured uplift.")),
        "default_attribution_days": (1, 90, _("From 1 to 90 days.")),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("quiet_start", "quiet_end"):
            self.fields[name].error_messages["invalid"] = _("Enter the time as HH:MM, for example 21:00.")
        for name, (low, high, _message) in self.BOUNDS.items():
            self.fields[name].widget.attrs.update({"min": low, "max": high})
            self.fields[name].error_messages["invalid"] = _("Enter a whole number.")
        self.fields["quiet_end"].help_text = _(
            "Messages due in quiet hours wait until they end (your time zone). The same time in both fields: no "
            "quiet hours."
        )
        self.fields["exempt_transactional"].help_text = _(
            "Service messages are campaigns marked “service message”, such as “your points expire”: with this on, "
            "they reach customers even over the limit."
        )
        self.fields["sender_name"].help_text = _(
            "Up to 11 Latin letters, digits and spaces: what SMS show as the sender; e-mails show it as the name."
        )

    def clean(self):
        data = super().clean()
        for name, (low, high, message) in self.BOUNDS.items():
            value = data.get(name)
            if value is not None and not low <= value <= high:
                self.add_error(name, message)
        sender = (data.get("sender_name") or "").strip()
        if sender and not SENDER_NAME.match(sender):
            self.add_error("sender_name", _("Use Latin letters, digits and spaces only (SMS allow nothing else)."))
        data["sender_name"] = sender
        return data
