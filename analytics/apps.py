from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    """The owner's numbers: summaries fed from the ledger's append-only rows, metrics, predictions,
    import and export. Reads loyalty; never writes ledger rows."""

    name = "analytics"
    verbose_name = _("Analytics")
    default_auto_field = "django.db.models.BigAutoField"
