"""The campaign pages (owner and marketer): list, create/edit, the campaign page with its preview,
its actions (send, schedule, switch on, pause, resume, cancel), live progress and the report.
Every query starts from ``self.merchant``."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from campaigns import campaign_settings, recurrence, reports, sending
from campaigns.models import Campaign, Feedback, Kind, Status
from campaigns.preview import preview
from campaigns.tasks import enqueue_send
from merchants.permissions import CAN_SEE_CAMPAIGNS, MerchantStaffRequiredMixin

from .forms import CampaignForm, CampaignSettingsForm


class CampaignsPage(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_SEE_CAMPAIGNS
    model = Campaign

    def campaign(self, pk: int) -> Campaign:
        return get_object_or_404(Campaign.objects.for_merchant(self.merchant), pk=pk)


class CampaignListView(CampaignsPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        campaigns = list(Campaign.objects.for_merchant(self.merchant).select_related("segment")[:200])
        rows = [{"campaign": c, "progress": sending.progress(campaign=c)} for c in campaigns]
        return TemplateResponse(request, "campaigns/campaign_list.html", {"rows": rows})


class CampaignCreateView(CampaignsPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        defaults = campaign_settings.settings_for(merchant=self.merchant)
        form = CampaignForm(
            merchant=self.merchant,
            initial={
                "kind": request.GET.get("kind", Kind.BROADCAST),
                "holdout_percent": defaults.default_holdout_percent,
                "attribution_days": defaults.default_attribution_days,
            },
        )
        return TemplateResponse(request, "campaigns/campaign_form.html", {"form": form})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CampaignForm(request.POST, merchant=self.merchant)
        if not form.is_valid():
            return TemplateResponse(request, "campaigns/campaign_form.html", {"form": form}, status=400)
        campaign = form.save(commit=False)
        campaign.created_by = request.user
        campaign.send_at = form.send_at()
        campaign.save()
        return redirect("campaign_detail", pk=campaign.pk)


class CampaignEditView(CampaignsPage):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self.campaign(pk)
        form = CampaignForm(instance=campaign, merchant=self.merchant)
        return TemplateResponse(request, "campaigns/campaign_form.html", {"form": form, "campaign": campaign})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self.campaign(pk)
        if campaign.status not in (Status.DRAFT, Status.SCHEDULED, Status.PAUSED, Status.ACTIVE):
            messages.error(request, _("A campaign that is sending or sent cannot be changed."))
            return redirect("campaign_detail", pk=campaign.pk)
        form = CampaignForm(request.POST, instance=campaign, merchant=self.merchant)
        if not form.is_valid():
            return TemplateResponse(
                request, "campaigns/campaign_form.html", {"form": form, "campaign": campaign}, status=400
            )
        campaign = form.save(commit=False)
        campaign.send_at = form.send_at()
        campaign.save()
        if campaign.kind == Kind.RECURRING and campaign.status == Status.ACTIVE:
            # A live recurring campaign: its beat entry follows the new schedule at once.
            sending.set_recurring(campaign=campaign, crontab=campaign.recurrence)
        return redirect("campaign_detail", pk=campaign.pk)


class CampaignDetailView(CampaignsPage):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self.campaign(pk)
        context = {
            "campaign": campaign,
            "progress": sending.progress(campaign=campaign),
            "preview": preview(campaign=campaign) if campaign.status in (Status.DRAFT, Status.SCHEDULED) else None,
            "report": reports.campaign_report(campaign=campaign) if campaign.sends.exists() else None,
            "problems": reports.problem_rows(campaign=campaign),
            "schedule": recurrence.describe(campaign.recurrence, time_zone=self.merchant.time_zone),
        }
        return TemplateResponse(request, "campaigns/campaign_detail.html", context)


class CampaignActionView(CampaignsPage):
    action = ""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self.campaign(pk)
        action = self.action
        now = timezone.now()
        if action == "send" and campaign.status in (Status.DRAFT, Status.SCHEDULED) and campaign.kind == Kind.BROADCAST:
            if campaign.send_at and campaign.send_at > now:
                sending.schedule(campaign=campaign, send_at=campaign.send_at, now=now)
                messages.success(request, _("The campaign is scheduled."))
            else:
                with transaction.atomic():
                    send, created = sending.start_send(campaign=campaign, occurrence="once", now=now)
                    if created:
                        enqueue_send(send)
                messages.success(request, _("Sending has started."))
        elif action == "activate" and campaign.kind == Kind.AUTOMATION:
            Campaign.objects.filter(pk=campaign.pk).update(status=Status.ACTIVE, updated_at=now)
            messages.success(request, _("The automation is on."))
        elif action == "activate" and campaign.kind == Kind.RECURRING and campaign.status == Status.DRAFT:
            if not campaign.recurrence:
                messages.error(request, _("Set the schedule first: edit the campaign."))
            else:
                sending.set_recurring(campaign=campaign, crontab=campaign.recurrence, now=now)
                messages.success(request, _("The campaign is on: it goes out on its schedule."))
        elif action == "pause":
            sending.pause(campaign=campaign, now=now)
            messages.success(request, _("Paused."))
        elif action == "resume":
            # The dispatcher takes the resumed sends over at its next run (their heartbeat is old).
            sending.resume(campaign=campaign, now=now)
            if campaign.kind == Kind.RECURRING and campaign.recurrence:
                # Pausing switched its beat entry off; this switches it on again.
                sending.set_recurring(campaign=campaign, crontab=campaign.recurrence, now=now)
            messages.success(request, _("Resumed."))
        elif action == "cancel":
            sending.cancel(campaign=campaign, now=now)
            messages.success(request, _("Cancelled."))
        else:
            messages.error(request, _("This cannot be done now."))
        return redirect("campaign_detail", pk=campaign.pk)


class CampaignProgressView(CampaignsPage):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self.campaign(pk)
        return JsonResponse({"status": campaign.status, **sending.progress(campaign=campaign)})


class CampaignSettingsView(CampaignsPage):
    """The rules for all campaigns together: frequency cap, quiet hours, defaults (owner and marketer)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = CampaignSettingsForm(instance=campaign_settings.settings_for(merchant=self.merchant))
        return TemplateResponse(request, "campaigns/settings.html", {"form": form})

    def post(self, request: HttpRequest) -> HttpResponse:
        current = campaign_settings.settings_for(merchant=self.merchant)
        form = CampaignSettingsForm(request.POST, instance=current)
        if not form.is_valid():
            # Nothing is saved: the instance the form touched is thrown away.
            return TemplateResponse(request, "campaigns/settings.html", {"form": form}, status=400)
        campaign_settings.update_settings(
            merchant=self.merchant,
            actor=request.user,
            values={name: form.cleaned_data[name] for name in campaign_settings.FIELDS},
        )
        messages.success(request, _("Campaign settings saved."))
        return redirect("campaign_settings")


class FeedbackListView(CampaignsPage):
    """Customers' answers to the post-purchase follow-ups, newest first, filtered by rating."""

    per_page = 50

    def get(self, request: HttpRequest) -> HttpResponse:
        answers = (
            Feedback.objects.for_merchant(self.merchant)
            .select_related("customer", "delivery__campaign")
            .order_by("-created_at", "-pk")
        )
        rating = request.GET.get("rating", "")
        error = ""
        if rating:
            if rating in {"1", "2", "3", "4", "5"}:
                answers = answers.filter(rating=int(rating))
            else:
                error = _("Choose a rating from 1 to 5.")
                rating = ""
        page = Paginator(answers, self.per_page).get_page(request.GET.get("page"))
        context = {"page_obj": page, "rating": rating, "error": error, "ratings": ["1", "2", "3", "4", "5"]}
        return TemplateResponse(request, "campaigns/feedback_list.html", context, status=400 if error else 200)
