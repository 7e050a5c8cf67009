from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

TASK_MODULES = ("campaigns.segments.tasks", "campaigns.tasks")


class CampaignsConfig(AppConfig):
    """The marketer's half of the dashboard: segments, campaigns, channels, triggers, reports.

    Uses the loyalty domains only through their published contracts; loyalty never imports campaigns.
    """

    name = "campaigns"
    verbose_name = _("Campaigns")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Tasks are registered in every process (web and worker), as in loyalty.
        for module in TASK_MODULES:
            import_module(module)

        from loyalty.demo import register_demo_step

        from .demo import seed_demo_campaigns

        register_demo_step(seed_demo_campaigns)

        from campaigns.privacy import erase_customer
        from loyalty.customers.privacy import customer_anonymised

        customer_anonymised.connect(erase_customer, dispatch_uid="campaigns.erase_customer")

        from django.db.backends.signals import connection_created

        from .dialect import register_functions

        # SQLite (the quick start) gets its twins of the PostgreSQL expressions the sending SQL uses.
        connection_created.connect(register_functions, dispatch_uid="campaigns.sqlite_functions")

        from merchants.navigation import ChecklistStep, NavItem, register, register_checklist_step
        from merchants.permissions import CAN_SEE_CAMPAIGNS

        from .onboarding import has_first_campaign

        register_checklist_step(
            ChecklistStep(
                "campaign",
                _("Send your first campaign"),
                _(
                    "A message to your customers' cards, e-mail, SMS or Telegram, or an automation such as "
                    "win-back; the report shows what it brought back."
                ),
                "campaign_list",
                order=80,
                done=lambda merchant: has_first_campaign(merchant=merchant),
                link_label=_("Campaigns"),
                optional=True,
            )
        )

        # One menu entry for the marketer's half: campaigns, saved segments and RFM groups are its tabs.
        register(
            NavItem(
                "campaign_list",
                _("Campaigns"),
                CAN_SEE_CAMPAIGNS,
                order=40,
                section=(
                    "campaign_create",
                    "campaign_detail",
                    "campaign_edit",
                    "segment_list",
                    "segment_create",
                    "segment_edit",
                    "segment_delete",
                    "rfm_grid",
                    "campaign_settings",
                    "campaign_feedback",
                ),
            )
        )

        from analytics.sections import Section, register_section
        from campaigns import insights

        # The RFM grid and each campaign's uplift on the analytics page, what the measured
        # campaigns returned on the ROI page (analytics never imports campaigns).
        register_section(
            Section(
                "rfm",
                "analytics",
                "campaigns/analytics_rfm.html",
                insights.rfm_context,
                csv=insights.rfm_csv,
                order=10,
                half=True,
            )
        )
        register_section(
            Section(
                "uplift",
                "analytics",
                "campaigns/analytics_uplift.html",
                insights.uplift_context,
                csv=insights.uplift_csv,
                order=20,
                scripts=("js/campaign-uplift-chart.js",),
            )
        )
        register_section(Section("campaign_returns", "roi", "campaigns/roi_returns.html", insights.returns_context))
