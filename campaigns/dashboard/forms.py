from __future__ import annotations

from datetime import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, ChannelChoices, Kind, Segment, Trigger
from campaigns.personalize import PLACEHOLDERS

CHANNEL_SLOTS = 4


class CampaignForm(forms.ModelForm):
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
        current = list(self.instance.channels or []) if self.instance.pk else ["wallet", "email"]
        for slot in range(CHANNEL_SLOTS):
            self.fields[f"channel_{slot + 1}"] = forms.ChoiceField(
                label=_("Channel %(n)s") % {"n": slot + 1},
                choices=[("", "—"), *ChannelChoices.choices],
                required=slot == 0,
                initial=current[slot] if slot < len(current) else "",
            )
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
        return data

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
        campaign.updated_at = timezone.now()
        if commit:
            campaign.save()
        return campaign
