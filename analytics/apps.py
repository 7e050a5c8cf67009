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
            register,
            register_home_panel,
        )
        from merchants.permissions import CAN_SEE_ANALYTICS

        # The import/export and ROI pages are marketers' tools too, so they live in the Analytics
        # section (linked from the analytics page), not on the settings hub: the hub is the
        # owner's set-up place and a card there would open it to marketers.
        register(
            NavItem(
                "analytics",
                _("Analytics"),
                CAN_SEE_ANALYTICS,
                order=50,
                section=("roi_calculator", "customer_import", "customer_import_detail"),
            )
        )

        def home_context(request, merchant):
            from analytics.views import home_panel_context

            return home_panel_context(request, merchant)

        register_home_panel(
            HomePanel("analytics", "analytics/_home.html", CAN_SEE_ANALYTICS, context=home_context, order=10)
        )
