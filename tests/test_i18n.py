"""Every word a user sees comes from the renderer and its catalogs, in the user's language (en, ru, es)."""
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from aidevbot.render import LANGUAGES, MESSAGES, catalog_file, catalog_problems

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize('lang', LANGUAGES[1:])
def test_every_message_is_translated_with_the_same_placeholders(lang):
    assert catalog_problems(lang) == []


def test_a_catalog_missing_a_message_fails(tmp_path):
    po = catalog_file('ru').read_text(encoding='utf-8')
    entry = 'msgctxt "btn_cancel"\nmsgid "Cancel"\nmsgstr "Отмена"\n'
    assert entry in po
    (tmp_path / 'missing.po').write_text(po.replace(entry, ''), encoding='utf-8')
    (tmp_path / 'empty.po').write_text(po.replace(entry, entry.replace('"Отмена"', '""')), encoding='utf-8')
    (tmp_path / 'wrong.po').write_text(po.replace('msgstr "Язык: {name}."', 'msgstr "Язык: {nom}."'), encoding='utf-8')
    assert catalog_problems('ru', tmp_path / 'missing.po') == ['ru: btn_cancel is not translated']
    assert catalog_problems('ru', tmp_path / 'empty.po') == ['ru: btn_cancel is not translated']
    assert catalog_problems('ru', tmp_path / 'wrong.po') == ["ru: language_set has other placeholders: 'Язык: {nom}.'"]


def test_the_template_holds_exactly_the_messages_of_the_renderer(tmp_path):
    "`pybabel extract` over aidevbot/render.py finds every message, and the committed .pot is up to date."
    pot = tmp_path / 'fresh.pot'
    r = subprocess.run([sys.executable, '-m', 'babel.messages.frontend', 'extract', '--no-default-keywords', '-k', '_:1c,2',
                        '-k', '_n:1c,2,3', '--no-location', '--omit-header', '-o', str(pot), 'aidevbot/render.py'],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    entries = lambda path: {(m.context, m.id) for m in read_po(open(path, 'rb')) if m.id}
    expected = {(k, v) for k, v in MESSAGES.items()}
    assert entries(pot) == expected
    assert entries(ROOT / 'aidevbot' / 'locales' / 'aidevbot.pot') == expected


def test_catalogs_ship_as_package_data(tmp_path):
    "Found through importlib.resources, and copied by setup.py's build into the package."
    for lang in LANGUAGES[1:]:
        assert files('aidevbot').joinpath('locales', lang, 'LC_MESSAGES', 'aidevbot.po').is_file()
    r = subprocess.run([sys.executable, 'setup.py', '-q', 'build_py', '-d', str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    built = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / 'aidevbot' / 'locales').rglob('*.po*'))
    assert built == ['aidevbot/locales/aidevbot.pot', 'aidevbot/locales/es/LC_MESSAGES/aidevbot.po',
                     'aidevbot/locales/ru/LC_MESSAGES/aidevbot.po']
