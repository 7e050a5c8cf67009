import re
import subprocess

from django.conf import settings

from tests.commands import needs_command

CATALOGUE = settings.BASE_DIR / "locale/ru/LC_MESSAGES/django.po"
SOURCES = [settings.BASE_DIR / "loyalty/wallet/certificates.py", settings.BASE_DIR / "loyalty/wallet/images.py"]


def _entries(text: str) -> dict[str, str]:
    def unquote(block: str) -> str:
        return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', block)).replace('\\"', '"').replace("\\\\", "\\")

    pairs = re.findall(r'msgid ((?:"(?:[^"\\]|\\.)*"\s*)+)msgstr ((?:"(?:[^"\\]|\\.)*"\s*)+)', text)
    return {unquote(a): unquote(b) for a, b in pairs}


@needs_command("xgettext", package="gettext")
def test_every_wallet_message_has_a_russian_translation_with_the_same_placeholders(tmp_path):
    pot = tmp_path / "wallet.pot"
    subprocess.run(
        ["xgettext", "--language=Python", "--keyword=_", "--from-code=UTF-8", "-o", str(pot), *map(str, SOURCES)],
        check=True,
    )
    wanted = set(_entries(pot.read_text(encoding="utf-8"))) - {""}
    assert wanted
    entries = _entries(CATALOGUE.read_text(encoding="utf-8"))
    for msgid in wanted:
        msgstr = entries.get(msgid)
        assert msgstr and msgstr != msgid, msgid
        assert sorted(re.findall(r"%\(\w+\)s", msgid)) == sorted(re.findall(r"%\(\w+\)s", msgstr)), msgid
