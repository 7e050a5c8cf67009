"""Merchant tests read Russian text from this app's translation part
(locale/ru/LC_MESSAGES/parts/merchants.po), compiled here, so that they pass
whether or not the part has been merged into django.po yet."""

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings as django_settings

PART = django_settings.BASE_DIR / "locale" / "ru" / "LC_MESSAGES" / "parts" / "merchants.po"


@pytest.fixture(scope="session")
def merchants_catalog_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("locale")
    target = root / "ru" / "LC_MESSAGES"
    target.mkdir(parents=True)
    header = (
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: ru\\n"\n'
        '"Plural-Forms: nplurals=4; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && '
        '(n%100<12 || n%100>14) ? 1 : n%10==0 || (n%10>=5 && n%10<=9) || (n%100>=11 && n%100<=14)? 2 : 3);\\n"\n\n'
    )
    catalog = read_po((header + PART.read_text(encoding="utf-8")).splitlines(keepends=True), locale="ru")
    with open(target / "django.mo", "wb") as out:
        write_mo(out, catalog)
    return root


@pytest.fixture(autouse=True)
def _merchants_translations(settings, merchants_catalog_dir):
    settings.LOCALE_PATHS = [merchants_catalog_dir, *settings.LOCALE_PATHS]
