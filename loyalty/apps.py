from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

TASK_MODULES = ("loyalty.ledger.tasks", "loyalty.wallet.tasks", "loyalty.api.tasks", "loyalty.customers.tasks")


def _wallet_summary(merchant) -> str:
    from loyalty.wallet.contract import wallets_available

    available = wallets_available(merchant=merchant)
    on, off = pgettext("wallet", "on"), pgettext("wallet", "off")
    return f"Apple Wallet: {on if available.apple else off} · Google Wallet: {on if available.google else off}"


# The getting-started checklist on the dashboard home (merchants.navigation).


def _program_saved(merchant) -> bool:
    from loyalty.models import ProgramVersion

    # Version 1 is the default a new merchant gets; a person saving it makes it theirs.
    return ProgramVersion.objects.for_merchant(merchant).filter(created_by__isnull=False).exists()


def _design_published(merchant) -> bool:
    from loyalty.design.selectors import published_design

    return published_design(merchant=merchant) is not None


def _web_card_only(merchant) -> bool:
    from merchants.selectors import onboarding_mark_at

    return onboarding_mark_at(merchant=merchant, key="web_card_only") is not None


def _wallet_ready(merchant) -> bool:
    from loyalty.wallet.contract import wallets_available

    available = wallets_available(merchant=merchant)
    return available.apple or available.google or _web_card_only(merchant)


def _wallet_note(merchant) -> str:
    from loyalty.wallet.contract import wallets_available

    available = wallets_available(merchant=merchant)
    if not (available.apple or available.google) and _web_card_only(merchant):
        return gettext("Your choice: web card only. Customers keep their card in the browser.")
    return _wallet_summary(merchant)


def _poster_note(merchant) -> str | None:
    from django.utils import formats, timezone

    from merchants.selectors import onboarding_mark_at

    at = onboarding_mark_at(merchant=merchant, key="poster")
    if at is None:
        return None
    when = formats.date_format(timezone.localtime(at, merchant.tzinfo), "SHORT_DATE_FORMAT")
    return gettext("You opened the poster on %(date)s.") % {"date": when}


def _has_purchases(merchant) -> bool:
    from loyalty.models import Purchase

    return Purchase.objects.for_merchant(merchant).exists()


def _follow_currency_change(*, merchant, old_currency: str) -> None:
    from loyalty.program.services import follow_currency_change

    follow_currency_change(merchant=merchant, old_currency=old_currency)


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every domain's Celery tasks are registered in each process (web and
        # worker): services enqueue them by name without importing them.
        for module in TASK_MODULES:
            import_module(module)

        from merchants.navigation import (
            ChecklistStep,
            NavItem,
            SettingsPage,
            register,
            register_checklist_step,
            register_settings_page,
        )
        from merchants.permissions import CAN_MANAGE_PROGRAM, CAN_MANAGE_STAFF, CAN_MANAGE_WALLET, CAN_SEE_ANALYTICS
        from merchants.services import register_currency_change, register_currency_lock

        # Bills and points already recorded in one currency must not be read in another.
        register_currency_lock(_has_purchases)
        # Before that, the program's defaults follow the currency (10,000 RUB thresholds become 100 USD).
        register_currency_change(_follow_currency_change)

        for step in (
            ChecklistStep(
                "program",
                _("Set up your bonus program"),
                _("Check the cashback, the welcome bonus and the tiers, then save them."),
                "program",
                order=20,
                done=_program_saved,
                link_label=_("Program"),
            ),
            ChecklistStep(
                "design",
                _("Design and publish the card"),
                _("Logo, colours and what the card shows. Customers get the card only once it is published."),
                "design",
                order=30,
                done=_design_published,
                link_label=_("Card design"),
            ),
            ChecklistStep(
                "wallet",
                _("Connect Apple Wallet and Google Wallet"),
                _("Upload your certificates, or decide to offer the web card only (you can add wallets later)."),
                "wallet_settings",
                order=40,
                done=_wallet_ready,
                note=_wallet_note,
                link_label=_("Wallet settings"),
                action_template="merchants/_web_card_only.html",
            ),
            ChecklistStep(
                "poster",
                _("Print the QR poster"),
                _("Put it by the till: customers scan it to join."),
                "enroll_qr",
                order=50,
                done=lambda merchant: _poster_note(merchant) is not None,
                note=_poster_note,
                link_label=_("QR & poster"),
            ),
        ):
            register_checklist_step(step)
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
        register_settings_page(
            SettingsPage(
                "till_settings",
                _("Till"),
                _("The largest usual bill, and whether cashiers may refund past purchases."),
                CAN_MANAGE_STAFF,
                order=45,
                icon="gear",
            )
        )
