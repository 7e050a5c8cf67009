"""The Russian admin reads as Russian (issue 13): every model of the project that
admin shows has Russian names (singular and plural, not "Deliverys"), and every
field label is translated, including fields declared without a verbose_name."""

from __future__ import annotations

import re

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


# --- titles, breadcrumbs and buttons in grammatical Russian ---------------------------------------

# Django's admin puts the model's name right after these words; in Russian it must be in the accusative.
VERB_PATTERNS = (
    "Добавить {}",
    "Изменить {}",
    "Просмотреть {}",
    "Выберите {} для изменения",
    "Выберите {} для просмотра",
)


def russian_forms(model) -> tuple[str, str]:
    from merchants.admin_grammar import accusative

    with translation.override("ru"):
        return str(model._meta.verbose_name), accusative(model._meta)


def test_every_model_in_admin_has_its_accusative_in_the_catalogue():
    """A model added to admin later fails here until its accusative is written
    (``msgctxt "accusative"`` in locale/ru/LC_MESSAGES/django.po)."""
    from django.utils.translation import trans_real

    from merchants.admin_grammar import ACCUSATIVE, english_name

    catalog = trans_real.translation("ru")._catalog
    missing = [
        f'{model._meta.label}: msgctxt "accusative" msgid "{english_name(model._meta)}"'
        for model in admin.site._registry
        if f"{ACCUSATIVE}\x04{english_name(model._meta)}" not in catalog
    ]
    assert not missing, "Add the accusative form of:\n" + "\n".join(missing)


def test_a_model_without_its_accusative_is_caught():
    """The check above is not vacuous: a name the catalogue does not know is reported."""
    from django.utils.translation import trans_real

    from merchants.admin_grammar import ACCUSATIVE

    catalog = trans_real.translation("ru")._catalog
    assert f"{ACCUSATIVE}\x04card" in catalog
    assert f"{ACCUSATIVE}\x04gift voucher" not in catalog


def ungrammatical(page: str, model) -> list[str]:
    nominative, accusative = russian_forms(model)
    if nominative.lower() == accusative.lower():
        return []
    # Whole words: "Изменить клиента" is right, "Изменить клиент" (then not a letter) is wrong.
    return [
        pattern.format(nominative)
        for pattern in VERB_PATTERNS
        if re.search(re.escape(pattern.format(nominative)) + r"(?!\w)", page, re.IGNORECASE)
    ]


@pytest.fixture
def admin_world(db):
    """One of as many admin-visible things as a purchase and a few services make."""
    from django.contrib.auth.models import Group

    from loyalty.enrollment.services import enroll_customer
    from loyalty.ledger import purchase
    from loyalty.program.services import program_for, save_program
    from tests import factories

    merchant = factories.MerchantFactory(name="Кофейня «Зерно»")
    location = factories.LocationFactory(merchant=merchant, name="Тверская")
    owner = factories.UserFactory(merchant=merchant, role="owner", email="owner@zerno.test")
    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, welcome_bonus=0)
    card = enroll_customer(merchant=merchant, phone="+79165550101", location=location)
    purchase(merchant=merchant, card=card, location=location, bill_amount=500, receipt_id="R-1", idempotency_key="k-1")
    Group.objects.get_or_create(name="Поддержка")
    return merchant


@pytest.mark.django_db
def test_every_admin_page_names_its_model_in_the_accusative(client, admin_world):
    """Walks every registered ModelAdmin's list, add and change pages in Russian (as a superuser,
    who sees them all): "Изменить карта", "Выберите клиент для изменения" fail."""
    from merchants.models import User

    superuser = User.objects.create_superuser("root@platform.test", "correct-horse-battery")
    client.force_login(superuser)
    problems, changed_pages = [], []
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label):
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        urls = [base]
        if model_admin.has_add_permission(_request(superuser)):
            urls.append(f"{base}add/")
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            urls.append(f"{base}{obj.pk}/change/")
            changed_pages.append(opts.label)
        nominative, accusative = russian_forms(model)
        for url in urls:
            response = client.get(url, headers={"Accept-Language": "ru"})
            assert response.status_code == 200, (url, response.status_code)
            page = response.content.decode()
            problems += [f"{url}: {text}" for text in ungrammatical(page, model)]
            if url == base:
                # The list's title: "Выберите карту для изменения" / "… для просмотра".
                assert f"Выберите {accusative} для" in page, (url, accusative)
            if url.endswith("/add/"):
                assert f"Добавить {accusative}" in page, (url, accusative)
    assert not problems, "\n".join(problems)
    # The change pages of the models whose nominative and accusative differ were really opened.
    assert {"loyalty.Card", "loyalty.Customer", "merchants.User", "auth.Group", "loyalty.Purchase"} <= set(
        changed_pages
    )


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_the_title_fix_changes_only_djangos_own_titles():
    from loyalty.models import Card
    from merchants.admin_grammar import grammatical_title

    with translation.override("ru"):
        assert grammatical_title("Изменить карта", Card._meta) == "Изменить карту"
        assert grammatical_title("Выберите карта для изменения", Card._meta) == "Выберите карту для изменения"
        assert grammatical_title("Списать баллы с карты", Card._meta) == "Списать баллы с карты"
    with translation.override("en"):
        assert grammatical_title("Change card", Card._meta) == "Change card"


@pytest.mark.django_db
def test_admin_messages_keep_the_model_name_in_the_nominative(client):
    """Django's "группа «…» был успешно добавлен" is reworded: "Добавлено: группа «…»"."""
    from django.contrib.auth.models import Group

    from merchants.models import User

    client.force_login(User.objects.create_superuser("root@platform.test", "correct-horse-battery"))
    response = client.post(
        "/admin/auth/group/add/", {"name": "Старшие"}, headers={"Accept-Language": "ru"}, follow=True
    )
    page = response.content.decode()
    assert "Добавлено: группа" in page and "был успешно добавлен" not in page
    group = Group.objects.get(name="Старшие")
    response = client.post(
        f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"}, headers={"Accept-Language": "ru"}, follow=True
    )
    page = response.content.decode()
    assert "Удалено: группа «Старшие»" in page and "был успешно удален" not in page
