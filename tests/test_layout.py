"""Where things live:
fakes only under `aidevbot/testing/`, the demo project shipped in the wheel, never collected here."""

import ast
import importlib.util
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from aidevbot.testing.demo import run_tests
from aidevbot.testing.demo_model import demo_project_dir

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / 'aidevbot'


def _imports(tree: ast.AST, module: str):
    "(absolute module name, inside a function?) for every import in a module's syntax tree."
    package = module.rsplit('.', 1)[0]

    def walk(node, in_func):
        for child in ast.iter_child_nodes(node):
            nested = in_func or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                yield from ((a.name, in_func) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ''
                if child.level:
                    parts = package.split('.')[: len(package.split('.')) - child.level + 1]
                    base = '.'.join(parts + ([base] if base else []))
                yield base, in_func
                yield from ((f'{base}.{a.name}', in_func) for a in child.names)
            yield from walk(child, nested)

    return walk(tree, False)


def test_production_modules_do_not_import_the_fakes_except_the_demo_command():
    production = [p for p in LIB.rglob('*.py') if 'testing' not in p.relative_to(LIB).parts and p.name != '_modidx.py']
    assert len(production) > 15
    found = []
    for path in production:
        module = '.'.join(path.relative_to(ROOT).with_suffix('').parts)
        for name, in_func in _imports(ast.parse(path.read_text(encoding='utf-8')), module):
            if name == 'aidevbot.testing' or name.startswith('aidevbot.testing.'):
                found.append((module, name, in_func))
    # `aidevbot demo` and `aidevbot bench --fake` (the bench's offline demonstration) are the only production paths
    # that run the fakes, and only when chosen
    assert {(m, n) for m, n, _ in found} == {
        ('aidevbot.cli', 'aidevbot.testing.demo'),
        ('aidevbot.cli', 'aidevbot.testing.demo.run_demo'),
        ('aidevbot.bench.runner', 'aidevbot.testing.demo_model'),
        ('aidevbot.bench.runner', 'aidevbot.testing.demo_model._last_user'),
        ('aidevbot.bench.runner', 'aidevbot.testing.demo_model._route'),
        ('aidevbot.bench.runner', 'aidevbot.testing.demo_model._user_text'),
        ('aidevbot.bench.runner', 'aidevbot.testing.fake_llm'),
        ('aidevbot.bench.runner', 'aidevbot.testing.fake_llm.FakeLLM'),
    }
    assert all(in_func for *_, in_func in found)


HANDLERS = ['bot', 'payments', 'app', 'notifier', 'telegram_io', 'cli']  # Telegram and HTTP handlers, the command line
SQL = {'select', 'update', 'delete', 'insert', 'text'}  # statement builders: queries belong in aidevbot.repository


def sql_uses(source: str, module: str) -> list[str]:
    "Statement builders a module imports from SQLAlchemy (or reaches as `sqlalchemy.x`), anywhere in it."
    tree = ast.parse(source)
    found = [
        name for name, _ in _imports(tree, module) if name.startswith('sqlalchemy.') and name.rsplit('.', 1)[1] in SQL
    ]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in SQL
            and getattr(node.value, 'id', '') in ('sqlalchemy', 'sa')
        ):
            found.append(f'{node.value.id}.{node.attr}')
    return found


def test_the_sql_scan_finds_statement_builders():
    src = """from sqlalchemy import func, select\nimport sqlalchemy as sa\ndef f():
    from sqlalchemy.dialects.sqlite import insert\n    return sa.update(x)"""
    assert sql_uses(src, 'aidevbot.x') == ['sqlalchemy.select', 'sqlalchemy.dialects.sqlite.insert', 'sa.update']


def test_handlers_hold_no_sql():
    "Every query of the handlers is a function of aidevbot.repository (or of the service that owns the data)."
    found = {m: sql_uses((LIB / f'{m}.py').read_text(encoding='utf-8'), f'aidevbot.{m}') for m in HANDLERS}
    assert {m: names for m, names in found.items() if names} == {}


def test_every_fake_lives_in_aidevbot_testing():
    for name in ('loopback', 'fake_llm', 'fake_telegram', 'testing', 'demo'):
        assert not (LIB / f'{name}.py').exists(), name
    fakes = {
        p.relative_to(LIB).as_posix()
        for p in LIB.rglob('*.py')
        if re.search(r'^class (Fake\w+|LoopbackServer)\b', p.read_text(encoding='utf-8'), re.M)
    }
    assert fakes == {'testing/loopback.py', 'testing/fake_llm.py', 'testing/fake_telegram.py'}


def _dockerfile_copies() -> list[str]:
    "What the image's build stage copies from the checkout before `pip wheel .`."
    text = (ROOT / 'deploy' / 'Dockerfile').read_text()
    return [
        src
        for line in text.split('pip wheel')[0].splitlines()
        if line.startswith('COPY ')
        for src in line.split()[1:-1]
    ]


def test_the_wheel_ships_the_demo_project_and_reads_it_from_there(tmp_path):
    allowed = (ROOT / 'deploy' / 'Dockerfile.dockerignore').read_text().splitlines()
    assert all(f'!{n}' in allowed or f'!{n}/**' in allowed for n in _dockerfile_copies()), (
        'the build context filter drops a COPY'
    )
    src = tmp_path / 'src'
    src.mkdir()
    for name in _dockerfile_copies():  # exactly what the image builds from
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, src / name)
    isolation = ['--no-build-isolation'] if importlib.util.find_spec('wheel') else []
    subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', *isolation, '-w', str(tmp_path / 'out'), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / 'out').glob('aidevbot-*.whl')
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        f'aidevbot/testing/demo_project/{p.relative_to(ROOT / "demo_project").as_posix()}'
        for p in (ROOT / 'demo_project').rglob('*')
        if p.is_file() and '__pycache__' not in p.parts
    }
    assert 'aidevbot/testing/demo_project/small/tests/test_cli.py' in shipped and shipped <= names, shipped - names
    assert not any(n.startswith('aidevbot/testing/demo_project/small/') and n.endswith('__init__.py') for n in names)
    assert {'aidevbot/fake_llm.py', 'aidevbot/testing.py', 'aidevbot/demo.py'}.isdisjoint(names)
    unpacked = tmp_path / 'site'
    zipfile.ZipFile(wheel).extractall(unpacked)
    code = (
        "from aidevbot.testing.demo_model import demo_project_dir, demo_responder; "
        "print(demo_project_dir()); print(len(demo_responder().files))"
    )
    r = subprocess.run(
        [sys.executable, '-c', code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={'PYTHONPATH': str(unpacked), 'PATH': '/usr/bin:/bin'},
    )
    assert r.returncode == 0, r.stderr
    where, count = r.stdout.split()
    assert where.startswith(str(unpacked)) and count == '7', r.stdout


def test_the_demo_project_passes_its_own_tests(tmp_path):
    project = shutil.copytree(Path(str(demo_project_dir())) / 'small', tmp_path / 'small')
    ok, output = run_tests(project)
    assert ok and '6 passed' in output, output


def test_pytest_here_does_not_collect_the_demo_projects_tests():
    r = subprocess.run(
        [
            sys.executable,
            '-m',
            'pytest',
            '--collect-only',
            '-q',
            '-p',
            'no:cacheprovider',
            '--ignore=tests',
            '--ignore=nbs',
            '.',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 5 and 'no tests collected' in r.stdout, r.stdout + r.stderr  # 5: nothing collected


def test_lines_stay_within_120_characters_except_the_all_line_nbdev_writes():
    "ruff allows 130 only for the `__all__` line nbdev generates (wrapped at 120 after its prefix); nothing else."
    long = []
    files = [*(ROOT / 'aidevbot').rglob('*.py'), *(ROOT / 'tests').glob('*.py'), *(ROOT / 'bench').glob('*.py')]
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        if rel == 'aidevbot/_modidx.py' or rel.startswith('aidevbot/bench/specs/'):
            continue
        for n, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
            if len(line) > 120 and not line.startswith('__all__ = ['):
                long.append(f"{rel}:{n} ({len(line)})")
    assert long == []
