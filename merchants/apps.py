from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = _("Merchants")

    def ready(self) -> None:
        # django.contrib.admin comes first in INSTALLED_APPS: every admin module is imported by now.
        from django.contrib import admin

        from .admin_audit import audit_every_admin

        audit_every_admin(admin.site)
