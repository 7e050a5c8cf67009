from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    """The owner's numbers: summaries fed from the ledger's append-only rows, metrics, predictions,
    import and export. Reads loyalty; never writes ledger rows."""

    name = "analytics"
    verbose_name = _("Analytics")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import_module("analytics.tasks")

        from merchants.navigation import (
            HomePanel,
            NavItem,
            SettingsPage,
            register,
            register_home_panel,
            register_settings_page,
        )
        from merchants.permissions import CAN_SEE_ANALYTICS, CAN_SEE_CUSTOMERS

        register(NavItem("analytics", _("Analytics"), CAN_SEE_ANALYTICS, order=50))
        register_settings_page(
            SettingsPage(
                "customer_import",
                _("Import and export"),
                _("Bring customers and balances over from a spreadsheet; download customers, purchases, the ledger."),
                CAN_SEE_CUSTOMERS,
                order=60,
                icon="people",
            )
        )
        register_settings_page(
            SettingsPage(
                "roi_calculator",
                _("ROI calculator"),
                _("How many returning customers a month pay for the loyalty programme, from your own figures."),
                CAN_SEE_ANALYTICS,
                order=65,
                icon="gear",
            )
        )

        def home_context(request, merchant):
            from analytics.views import home_panel_context

            return home_panel_context(request, merchant)

        register_home_panel(
            HomePanel("analytics", "analytics/_home.html", CAN_SEE_ANALYTICS, context=home_context, order=10)
        )
