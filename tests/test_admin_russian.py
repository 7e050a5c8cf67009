"""The Russian admin reads as Russian (issue 13): every model of the project that
admin shows has Russian names (singular and plural, not "Deliverys"), and every
field label is translated, including fields declared without a verbose_name."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.utils import translation

PROJECT_APPS = {"merchants", "loyalty", "campaigns", "analytics"}
# Labels that read the same in both languages.
SAME_IN_BOTH = {"e-mail", "ID", "Pass Type ID"}


def in_language(language: str, value) -> str:
    with translation.override(language):
        return str(value)


def project_models():
    return sorted(
        (model for model in admin.site._registry if model._meta.app_label in PROJECT_APPS),
        key=lambda model: model._meta.label,
    )


def test_every_model_name_and_field_label_is_russian():
    untranslated = []
    for model in project_models():
        meta = model._meta
        for what, value in (("name", meta.verbose_name), ("plural", meta.verbose_name_plural)):
            if in_language("ru", value) == in_language("en", value):
                untranslated.append(f"{meta.label} {what}: {in_language('en', value)}")
        for field in meta.concrete_fields:
            english, russian = in_language("en", field.verbose_name), in_language("ru", field.verbose_name)
            if russian == english and english not in SAME_IN_BOTH:
                untranslated.append(f"{meta.label}.{field.name}: {english}")
    assert not untranslated, "\n".join(untranslated)


@pytest.mark.django_db
def test_the_admin_index_reads_russian(client):
    from merchants.models import User

    client.force_login(User.objects.create_superuser("support@platform.test", "correct-horse-battery"))
    page = client.get("/admin/", headers={"Accept-Language": "ru"}).content.decode()
    assert "Отправки в кошельки" in page and "Ключи кошельков" in page and "Журнал действий" in page
    assert "Deliverys" not in page and "credentialss" not in page
