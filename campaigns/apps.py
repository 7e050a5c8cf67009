from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    """The marketer's half of the dashboard: segments, campaigns, channels, triggers, reports.

    Uses the loyalty domains only through their published contracts; loyalty never imports campaigns.
    """

    name = "campaigns"
    verbose_name = _("Campaigns")
    default_auto_field = "django.db.models.BigAutoField"
