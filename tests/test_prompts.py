"""Prompts as files: they ship in the wheel, state the sandbox facts from Settings, ask for the user's language, and
every call records which prompt produced it. Real database, FakeLLM on loopback, the real orchestrator."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from sqlalchemy import select, update

from aidevbot.db import ApiKeyUsage, User
from aidevbot.testing.fake_llm import RecordedRequest
from aidevbot.testing import demo_responder
from aidevbot.prompting import load_prompt, prompt_text
from aidevbot.testing import FakeLLM
from orchestrator_support import plan_and_approve, stack, unzip_and_test

ROOT = Path(__file__).resolve().parent.parent
SPANISH = 'Una herramienta de línea de comandos que cuenta las palabras de un texto y muestra las más frecuentes'
README_ES = (
    '# Estadísticas de palabras\n\nCuenta las palabras de un texto.\n\n'
    '## Pruebas\n\n```bash\npython -m pytest -q\n```\n'
)


def _system(body) -> str:
    return next(m['content'] for m in body['messages'] if m['role'] == 'system')


def spanish_responder():
    "The demo project, but the plan and README come back in Spanish only when the prompt asks for Spanish."
    demo, asked = demo_responder(), []

    def respond(body):
        kind, system = RecordedRequest(body, {}, '').schema_name, _system(body)
        if kind == 'project_plan':
            assert 'in Spanish (es)' in system and 'stay in English' in system, system
            asked.append('plan')
            return {**demo.plan, 'title': 'Estadísticas de palabras', 'summary': 'Cuenta las palabras de un texto.'}
        if kind == 'readme':
            assert 'README in Spanish (es)' in system, system
            asked.append('readme')
            return {'content': README_ES}
        return demo(body)

    respond.asked = asked
    return respond


async def test_a_spanish_request_gets_its_plan_and_readme_in_spanish_and_each_call_records_its_prompt_version(
    sqlite_url,
):
    r = spanish_responder()
    with FakeLLM(r) as fake:
        async with stack(sqlite_url, fake.base_url) as s:
            pid = await plan_and_approve(s, SPANISH)
            assert (
                'Estadísticas de palabras' in s.events[-1].reply.text
                and 'Cuenta las palabras' in s.events[-1].reply.text
            )
            assert await s.orch.advance(pid) == 'completed', s.events[-1].reply.text
            proc, project = unzip_and_test(s.events[-1].reply.document.data)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert (project / 'README.md').read_text().startswith('# Estadísticas de palabras')
            impl = fake.requests_for('task_files')[0]
            assert 'Spanish' not in _system(impl)  # code stays English: only the plan and the README are the user's
            async with s.db.sessions() as ses:
                rows = (
                    await ses.execute(
                        select(ApiKeyUsage.call_key, ApiKeyUsage.prompt_version).where(ApiKeyUsage.project_id == pid)
                    )
                ).all()
    assert r.asked == ['plan', 'readme']
    version = {k.split(':', 2)[2]: v for k, v in rows}
    assert version['plan'] == load_prompt('architect').version and version['readme'] == load_prompt('readme').version
    assert (
        version['t0:impl:1'] == load_prompt('implementer').version
        and version['t0:review:1'] == load_prompt('reviewer').version
    )
    assert all(v and len(v) == 12 for _, v in rows)


async def test_telegram_language_code_decides_when_the_request_does_not_say(sqlite_url):
    with FakeLLM(demo_responder()) as fake:
        async with stack(sqlite_url, fake.base_url) as s:
            async with s.db.sessions() as ses, ses.begin():
                await ses.execute(update(User).where(User.id == s.user_id).values(language_code='de'))
            await plan_and_approve(s, 'wordstats cli')
            await plan_and_approve(s, 'A command-line tool that counts the words in a text')
    first, second = (_system(q) for q in fake.requests_for('project_plan'))
    assert 'in German (de)' in first and 'in English (en)' in second  # the request's own language wins over the phone's


async def test_prompts_state_the_sandbox_facts_of_the_settings(sqlite_url):
    with FakeLLM(demo_responder()) as fake:
        async with stack(
            sqlite_url,
            fake.base_url,
            sandbox_timeout_seconds=17,
            sandbox_memory_mb=300,
            sandbox_disk_mb=99,
            sandbox_allow_install=True,
            sandbox_allowed_packages='requests,rich',
        ) as s:
            pid = await plan_and_approve(s)
            assert await s.orch.advance(pid) == 'completed'
    py = f'Python {sys.version_info.major}.{sys.version_info.minor}'
    for kind in ('project_plan', 'task_files', 'review_verdict', 'readme'):
        system = _system(fake.requests_for(kind)[0])
        assert py in system and '17 s, 300 MB of memory and 99 MB of disk' in system, (kind, system)
        assert (
            'may name only: requests, rich' in system and 'offline (no network)' in system and '`src/` layout' in system
        )


async def test_every_implementer_call_carries_a_repository_map(sqlite_url):
    with FakeLLM(demo_responder()) as fake:
        async with stack(sqlite_url, fake.base_url) as s:
            pid = await plan_and_approve(s)
            assert await s.orch.advance(pid) == 'completed'
    last = fake.requests_for('task_files')[-1]['messages'][-1]['content']  # task 3: report.py reads wordstats.py
    assert '+ cli.py — Command line: word statistics for a text file or stdin.' in last
    assert '+ wordstats.py (shown below)' in last and '- report.py' in last
    assert (
        '  summarize(text: str, n: int=3) -> str; main(argv=None) -> int' in last
    )  # cli.py imports wordstats: related


def test_the_prompt_files_ship_in_the_wheel(tmp_path):
    src = tmp_path / 'src'
    src.mkdir()
    for name in ('setup.py', 'settings.ini', 'README.md'):
        shutil.copy(ROOT / name, src / name)
    for d in ('aidevbot', 'migrations', 'demo_project'):
        shutil.copytree(ROOT / d, src / d, ignore=shutil.ignore_patterns('__pycache__'))
    out = subprocess.run(
        [
            sys.executable,
            '-m',
            'pip',
            'wheel',
            '--no-deps',
            '--no-build-isolation',
            '-q',
            '-w',
            str(tmp_path / 'dist'),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    (wheel,) = (tmp_path / 'dist').glob('aidevbot-*.whl')
    with zipfile.ZipFile(wheel) as z:
        shipped = {
            n.removeprefix('aidevbot/prompts/'): z.read(n).decode()
            for n in z.namelist()
            if n.startswith('aidevbot/prompts/')
        }
    assert set(shipped) == {'architect.md', 'implementer.md', 'reviewer.md', 'readme.md', 'repair.md', 'sandbox.md'}
    assert all(text == prompt_text(name.removesuffix('.md')) for name, text in shipped.items())
