from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = _("Merchants")

    def ready(self) -> None:
        from .labels import translate_default_labels

        translate_default_labels()

        from django.db.backends.signals import connection_created

        from .local_calendar import register as register_local_calendar

        # SQLite (the quick start) gets the merchant's local day and month as SQL functions.
        connection_created.connect(register_local_calendar, dispatch_uid="merchants.local_calendar")

        # django.contrib.admin comes first in INSTALLED_APPS: every admin module is imported by now.
        from django.contrib import admin

        from .admin_audit import audit_every_admin
        from .two_factor import replace_device_admins

        replace_device_admins(admin.site)
        audit_every_admin(admin.site)

        from django.db.models.signals import post_migrate

        from .platform_roles import sync_after_migrate

        # Once per migrate, after the last app's (analytics) permissions exist; the sync creates any missing.
        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="merchants.platform_roles")

        from .navigation import SettingsPage, register_settings_page
        from .permissions import CAN_MANAGE_STAFF

        register_settings_page(
            SettingsPage(
                "two_factor",
                _("Two-factor authentication"),
                _("A code from your phone besides the password: recommended for the owner."),
                CAN_MANAGE_STAFF,
                order=90,
                icon="gear",
                summary=_two_factor_summary,
            )
        )


def _two_factor_summary(merchant):
    from .two_factor import is_enabled

    owner = merchant.memberships.filter(role="owner").select_related("user").first()
    if owner is not None and is_enabled(owner.user):
        return pgettext_lazy("two-factor", "On")
    return _("Off: recommended")
