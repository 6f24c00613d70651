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
    r = subprocess.run(
        [
            sys.executable,
            '-m',
            'babel.messages.frontend',
            'extract',
            '--no-default-keywords',
            '-k',
            '_:1c,2',
            '-k',
            '_n:1c,2,3',
            '--no-location',
            '--omit-header',
            '-o',
            str(pot),
            'aidevbot/render.py',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    entries = lambda path: {(m.context, m.id) for m in read_po(open(path, 'rb')) if m.id}
    expected = {(k, v) for k, v in MESSAGES.items()}
    assert entries(pot) == expected
    assert entries(ROOT / 'aidevbot' / 'locales' / 'aidevbot.pot') == expected


def test_catalogs_ship_as_package_data(tmp_path):
    "Found through importlib.resources, and copied by setup.py's build into the package."
    for lang in LANGUAGES[1:]:
        assert files('aidevbot').joinpath('locales', lang, 'LC_MESSAGES', 'aidevbot.po').is_file()
    r = subprocess.run(
        [sys.executable, 'setup.py', '-q', 'build_py', '-d', str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    built = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / 'aidevbot' / 'locales').rglob('*.po*'))
    assert built == [
        'aidevbot/locales/aidevbot.pot',
        'aidevbot/locales/es/LC_MESSAGES/aidevbot.po',
        'aidevbot/locales/ru/LC_MESSAGES/aidevbot.po',
    ]


@pytest.mark.parametrize(
    'lang, heading, says',
    [
        (
            'ru',
            '## Файлы, которые сами запускают код',
            ['Сначала прочитайте их:', '— direnv запускает его', '— VS Code'],
        ),
        (
            'es',
            '## Archivos que ejecutan código por su cuenta',
            ['Léelos primero:', '— direnv lo ejecuta', '— VS Code'],
        ),
    ],
)
def test_the_readme_section_on_files_that_run_code_is_in_the_users_language(lang, heading, says):
    from aidevbot.packaging import with_autorun_section

    readme = with_autorun_section('# Tool\n\nRun it.\n', ['main.py', '.envrc', '.vscode/tasks.json'], lang=lang)
    head, section = readme.split(f'\n\n{heading}\n\n')
    assert head == '# Tool\n\nRun it.' and all(s in section for s in says), readme
    assert '- `.envrc` — ' in section and '- `.vscode/tasks.json` — ' in section and 'main.py' not in section
    assert 'Files that run code' not in readme and 'runs it' not in readme and 'Read them first' not in readme


def test_a_stored_message_is_shown_in_the_readers_language_and_an_old_row_as_it_is():
    from aidevbot.render import dump_msg, stored_msg

    check = Msg.join('; ', [Msg('check_tests_passed', passed=2, n=3), Msg('check_reviewer_notes', notes='rename x')])
    reason = Msg('reason_task_failed', i=1, total=2, title='CLI', n=3, check=check)
    stored = dump_msg(reason, limit=4000)
    assert stored != str(reason) and str(stored_msg(stored)) == str(reason) == (
        'task 1 of 2 (CLI) did not pass verification after 3 attempts: 2/3 tests passed; reviewer notes: rename x'
    )
    assert render(Msg('status_stopped', error=stored_msg(stored)), 'ru') == (
        'Остановлен: задача 1 из 2 (CLI) не прошла проверку после 3 попыток: '
        'пройдено 2 из 3 тестов; замечания ревьюера: rename x'
    )
    assert (
        stored_msg('the final test run failed: tests failed: 1 failed')
        == 'the final test run failed: tests failed: 1 failed'
    )
    assert dump_msg(reason, limit=20) == str(reason)[:20]


# --- the whole demo flow in the user's language -------------------------------------------------------------------
from aidevbot.testing import demo_responder  # noqa: E402
from aidevbot.render import Msg, render  # noqa: E402
from aidevbot.testing import FakeLLM, FakeTelegram, migrated_database  # noqa: E402
from test_bot_e2e import button, product  # noqa: E402

SAYS = {  # what each language's texts contain (from the catalogs, so a wording change does not break the test)
    lang: {
        k: render(Msg(k, **p), lang).split('\x00')[0]
        for k, p in [('btn_request_changes', {}), ('credits', dict(balance='\x00'))]
    }
    for lang in LANGUAGES
}


@pytest.mark.parametrize(
    'lang, marks',
    [
        ('ru', ['Привет', 'Задачи:', 'Задача', 'кредит', 'тесты', 'Ваш баланс']),
        ('es', ['¡Hola', 'Tareas:', 'Tarea', 'crédito', 'pruebas', 'Tu saldo']),
    ],
)
async def test_the_demo_flow_speaks_the_users_language(sqlite_url, lang, marks):
    "/start from a Telegram client in `lang`: welcome, plan, progress, delivery caption, /credits and its invoice."
    hello, tasks, task, credit, tests_word, balance = marks
    async with (
        migrated_database(sqlite_url) as db,
        FakeTelegram() as tg,
        FakeLLM(demo_responder()) as llm,
        product(db, tg, llm) as (bot, runner),
    ):
        tg.user(42, language_code=f'{lang}-{lang.upper()}', first_name='Ana')
        welcome = await bot.command(42, '/start')
        assert welcome['text'].startswith(f'{hello}') and balance in welcome['text'], welcome['text']
        assert 'Telegram Stars' in welcome['text'] and 'credits' not in welcome['text']
        planning = await bot.ask(
            lambda: tg.message(42, 'A command line tool that adds two numbers, with pytest tests.')
        )
        assert planning['text'] == render(Msg('planning', pid=1), lang)
        plan = await tg.wait_for('sendMessage', lambda c: 'approve:' in str(c.get('reply_markup')), timeout=60)
        assert tasks in plan['text'] and credit in plan['text'], plan['text']
        labels = [t for t, _ in tg.buttons(42, plan.result['message_id'])]
        assert labels == [
            render(Msg('btn_approve', credits=Msg('n_credits', n=int(labels[0].split('≈')[1].split()[0]))), lang),
            render(Msg('btn_cancel'), lang),
        ], labels
        since = len(tg.calls)
        await bot.ask(lambda: tg.callback(42, button(tg, 42, 'approve:')))
        doc = await tg.wait_for('sendDocument', timeout=120, since=since)
        done = await tg.wait_for('sendMessage', lambda c: '🎉' in c['text'], since=since)
        assert tests_word in doc['caption'] and credit in doc['caption'] and 'passed' not in doc['caption'], doc[
            'caption'
        ]
        assert SAYS[lang]['btn_request_changes'] in str(done['reply_markup'])
        progress = [c['text'] for c in tg.calls_to('editMessageText') if c.ok] + [
            m['text'] for m in tg.chat_messages(42) if m.get('text', '').startswith(('Проект #', 'Proyecto'))
        ]
        assert any(task in t for t in progress) and all('Task' not in t and 'Project' not in t for t in progress), (
            progress
        )
        credits_reply = await bot.command(42, '/credits')
        assert credits_reply['text'].startswith(SAYS[lang]['credits']), credits_reply['text']
        assert all(credit in t for t, _ in tg.buttons(42, credits_reply.result['message_id']))
        invoice = (await bot.ask(lambda: tg.callback(42, button(tg, 42, 'buy:p100')), method='sendInvoice')).params
        assert (
            credit in invoice['title'] and credit in invoice['description'] and 'credits' not in invoice['description']
        )
        refused = await bot.ask(lambda: tg.pre_checkout(42, invoice['payload'], 1), method='answerPreCheckoutQuery')
        assert (
            refused['ok'] is False and 'Stars' in refused['error_message'] and 'invoice' not in refused['error_message']
        )
        # /language en switches back, and is remembered over Telegram's language_code
        assert (await bot.command(42, '/language en'))['text'] == 'Language: English.'
        assert (await bot.command(42, '/credits'))['text'].startswith('Your balance:')
        assert (
            'Task' in (await bot.command(42, '/status'))['text']
            or 'completed' in (await bot.command(42, '/status'))['text']
        )
        choose = await bot.command(42, '/language')
        assert [d for _, d in tg.buttons(42, choose.result['message_id'])] == ['lang:en', 'lang:ru', 'lang:es']
        await bot.ask(lambda: tg.callback(42, f'lang:{lang}', choose.result['message_id']))
        assert (await bot.command(42, '/credits'))['text'].startswith(SAYS[lang]['credits'])


# --- no words outside the renderer ---------------------------------------------------------------------------------
import ast  # noqa: E402

NOT_PRODUCTION = {'render.py', '_modidx.py', 'testing.py', 'fake_llm.py', 'fake_telegram.py', 'loopback.py', 'demo.py'}
TEXT_ARGS = {  # callee name -> (positional index of the user-facing text, keywords holding user-facing text)
    'Reply': (0, {'text'}),
    'Button': (0, {'text'}),
    'Document': (2, {'caption'}),
    'InlineKeyboardButton': (0, {'text'}),
    'send_message': (1, {'text'}),
    'edit_message_text': (0, {'text'}),
    '_say': (2, {'text'}),
    'send_text': (2, {'text'}),
    'send_file': (None, {'caption'}),
    'send_document': (None, {'caption'}),
    'send_invoice': (None, {'title', 'description'}),
    'ForceReply': (None, {'input_field_placeholder'}),
    'answer': (None, {'error_message', 'text'}),
}


def _is_literal(node) -> bool:
    "A string literal, an f-string, or one built from them with + or %."
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value.strip() != ''
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_literal(node.left) or _is_literal(node.right)
    return False


def literal_texts(source: str, filename: str = '<src>') -> list[str]:
    "`file:line callee` for each string literal passed directly as user-facing text."
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, 'id', None)
        if name not in TEXT_ARGS:
            continue
        pos, kws = TEXT_ARGS[name]
        args = ([node.args[pos]] if pos is not None and len(node.args) > pos else []) + [
            k.value for k in node.keywords if k.arg in kws
        ]
        out += [(a.lineno, name) for a in args if _is_literal(a)]
    return [f"{filename}:{line} {name}" for line, name in sorted(out)]


def test_the_scan_finds_literals():
    src = '''Reply(f"Hi {x}")
Button('Cancel', 'c')
await bot.send_message(1, "hello")
ForceReply(input_field_placeholder='?!')
await _say(u, c, 'a' + b)
Reply(Msg('hi'))
Button(Msg('btn_cancel'), 'cancel:1')
await q.answer(ok=True, error_message=render(m, l))'''
    assert [x.split(' ')[1] for x in literal_texts(src)] == ['Reply', 'Button', 'send_message', 'ForceReply', '_say']


def test_no_user_facing_literal_outside_the_renderer():
    found = []
    for path in sorted((ROOT / 'aidevbot').glob('*.py')):
        if path.name not in NOT_PRODUCTION:
            found += literal_texts(path.read_text(encoding='utf-8'), path.name)
    assert found == []
