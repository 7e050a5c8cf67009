from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = _("Merchants")

    def ready(self) -> None:
        from .labels import translate_default_labels

        translate_default_labels()

        # django.contrib.admin comes first in INSTALLED_APPS: every admin module is imported by now.
        from django.contrib import admin

        from .admin_audit import audit_every_admin

        audit_every_admin(admin.site)

        from django.db.models.signals import post_migrate

        from .platform_roles import sync_after_migrate

        # Once per migrate, after the last app's (analytics) permissions exist; the sync creates any missing.
        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="merchants.platform_roles")
