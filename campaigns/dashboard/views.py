"""The campaign pages (owner and marketer): list, create/edit, the campaign page with its preview,
its actions (send, schedule, switch on, pause, resume, cancel), live progress and the report.
Every query starts from ``self.merchant``."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from campaigns import reports, sending
from campaigns.models import Campaign, Kind, Status
from campaigns.preview import preview
from campaigns.tasks import enqueue_send
from merchants.permissions import CAN_SEE_CAMPAIGNS, MerchantStaffRequiredMixin

from .forms import CampaignForm


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
        form = CampaignForm(merchant=self.merchant, initial={"kind": request.GET.get("kind", Kind.BROADCAST)})
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
        return redirect("campaign_detail", pk=campaign.pk)


class CampaignDetailView(CampaignsPage):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = self.campaign(pk)
        context = {
            "campaign": campaign,
            "progress": sending.progress(campaign=campaign),
            "preview": preview(campaign=campaign) if campaign.status in (Status.DRAFT, Status.SCHEDULED) else None,
            "report": reports.campaign_report(campaign=campaign) if campaign.sends.exists() else None,
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
        elif action == "pause":
            sending.pause(campaign=campaign, now=now)
            messages.success(request, _("Paused."))
        elif action == "resume":
            # The dispatcher takes the resumed sends over at its next run (their heartbeat is old).
            sending.resume(campaign=campaign, now=now)
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
