from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from merchants.navigation import NavItem, register
        from merchants.permissions import CAN_MANAGE_PROGRAM

        register(NavItem("program", _("Program"), CAN_MANAGE_PROGRAM, order=20))
        register(NavItem("wallet_settings", _("Wallet"), frozenset({"owner"}), order=85))
