"""Field labels in the language of the admin (issue 13: "the Russian admin reads
as Russian everywhere").

A model field without a ``verbose_name`` gets its name with spaces ("created
at"), a plain string that gettext never sees. ``translate_default_labels``
gives such fields of the project's apps the same words wrapped in
``gettext_lazy``, so that the label comes from the catalogue
(locale/ru/LC_MESSAGES/django.po) like every other. Only the runtime label
changes: ``deconstruct()`` reads the field's own argument, so migrations do not
see it.
"""

from __future__ import annotations

from django.apps import apps
from django.utils.translation import gettext_lazy

PROJECT_APPS = ("merchants", "loyalty", "campaigns", "analytics")


def translate_default_labels(app_labels: tuple[str, ...] = PROJECT_APPS) -> int:
    changed = 0
    for app_label in app_labels:
        try:
            config = apps.get_app_config(app_label)
        except LookupError:
            continue
        for model in config.get_models():
            for field in model._meta.concrete_fields:
                if getattr(field, "_verbose_name", "") is not None:
                    continue
                if isinstance(field.verbose_name, str) and field.verbose_name == field.name.replace("_", " "):
                    field.verbose_name = gettext_lazy(field.verbose_name)
                    changed += 1
    return changed
