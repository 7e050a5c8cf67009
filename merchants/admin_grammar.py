"""Django admin in grammatical Russian (issue 13).

Django builds "Add %s", "Change %s", "Select %s to change" from a model's
``verbose_name``, which is in the nominative: "Изменить карта". Every model
shown in admin therefore has its accusative form in the catalogue, under the
message context ``accusative`` and its English verbose name
(``msgctxt "accusative" msgid "card" msgstr "карту"``); the page titles,
breadcrumbs and "Add" buttons use it (``templates/admin/base_site.html``,
``change_form.html``, ``change_list_object_tools.html``). English reads the
same as before. Messages that would need other cases ("карта … был добавлен")
are reworded in the project catalogue so that the model name stays in the
nominative. ``tests/test_admin_russian.py`` fails for a model without its form.
"""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext, pgettext

ACCUSATIVE = "accusative"

# Django's own titles that put the model name right after a verb.
_TITLE_PATTERNS = ("Add %s", "Change %s", "View %s", "Select %s to change", "Select %s to view", "Select %s")


def english_name(opts) -> str:
    """The model's verbose name as written in the code (the catalogue's msgid)."""
    with translation.override(None):
        return str(opts.verbose_name)


def accusative(opts) -> str:
    """The model's name as the object of "Изменить", "Добавить", "Выберите"."""
    name = english_name(opts)
    form = pgettext(ACCUSATIVE, name)
    # No entry (nothing to translate in English): the name as the language shows it.
    return str(opts.verbose_name) if form == name else form


def grammatical_title(title, opts) -> str:
    """Django's "Изменить карта" as "Изменить карту"; any other title unchanged."""
    if not title or opts is None:
        return title
    nominative, form = str(opts.verbose_name), accusative(opts)
    text = str(title)
    for pattern in _TITLE_PATTERNS:
        translated = gettext(pattern)
        if text == translated % nominative:
            return translated % form
    return title
