from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

TASK_MODULES = ("loyalty.ledger.tasks", "loyalty.wallet.tasks", "loyalty.api.tasks")


def _wallet_summary(merchant) -> str:
    from loyalty.wallet.contract import wallets_available

    available = wallets_available(merchant=merchant)
    on, off = pgettext("wallet", "on"), pgettext("wallet", "off")
    return f"Apple Wallet: {on if available.apple else off} · Google Wallet: {on if available.google else off}"


def _has_purchases(merchant) -> bool:
    from loyalty.models import Purchase

    return Purchase.objects.for_merchant(merchant).exists()


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every domain's Celery tasks are registered in each process (web and
        # worker): services enqueue them by name without importing them.
        for module in TASK_MODULES:
            import_module(module)

        from merchants.navigation import NavItem, SettingsPage, register, register_settings_page
        from merchants.permissions import CAN_MANAGE_PROGRAM, CAN_MANAGE_WALLET, CAN_SEE_ANALYTICS
        from merchants.services import register_currency_lock

        # Bills and points already recorded in one currency must not be read in another.
        register_currency_lock(_has_purchases)

        register(NavItem("customer_list", _("Customers"), CAN_SEE_ANALYTICS, order=10, section=("card_detail",)))
        register(NavItem("program", _("Program"), CAN_MANAGE_PROGRAM, order=20))
        register_settings_page(
            SettingsPage(
                "wallet_settings",
                _("Wallet"),
                _("Apple Wallet certificate and Google Wallet issuer account for your customers' cards."),
                CAN_MANAGE_WALLET,
                order=40,
                icon="wallet",
                summary=_wallet_summary,
            )
        )
