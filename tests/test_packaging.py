"""Hostile model output never becomes a file outside the project, and ZIPs are safe and reproducible."""

import io
import os
import tempfile
import zipfile

import pytest

from aidevbot.packaging import (
    MAX_ZIP_BYTES,
    Limits,
    TooLarge,
    UnsafePath,
    build_zip,
    safe_path,
    slugify,
    validate_files,
)

HOSTILE = [
    '../x',
    '/etc/x',
    'C:\\x',
    'a/../../x',
    '..\\x',
    'x\x00y',
    'CON',
    'con.txt',
    'nul',
    'COM1.py',
    'LPT9',
    'a\\b.py',
    '\\\\server\\share\\x',
    'c:/windows/x',
    '//x',
    'a//b',
    './a',
    'a/.',
    'a/./b',
    '',
    ' ',
    '`..`/x',
    '**../x**',
    'a/b.',
    'a /b',
    'x\ny',
    'x\ry',
    'x\ty',
    '\x7f',
    'a:b',
    'x' * 241,
    'a/' + 'é' * 128,
    'a\u202eb',
]


def assert_extracts_inside(data: bytes) -> list[str]:
    "Extract `data` into a fresh directory; every entry must resolve inside it. Returns the names."
    with tempfile.TemporaryDirectory() as d, zipfile.ZipFile(io.BytesIO(data)) as zf:
        base = os.path.realpath(d)
        for name in zf.namelist():
            target = os.path.realpath(os.path.join(base, name))
            assert os.path.commonpath([base, target]) == base and target != base, name
        zf.extractall(d)
        for root, dirs, files in os.walk(d):
            for f in files:
                assert os.path.realpath(os.path.join(root, f)).startswith(base + os.sep)
        return zf.namelist()


@pytest.mark.parametrize('name', HOSTILE)
def test_hostile_names_rejected(name):
    with pytest.raises(UnsafePath) as e:
        safe_path(name)
    assert 'Unsafe file name' in str(e.value)
    with pytest.raises(UnsafePath):
        validate_files({name: 'x', 'ok.py': 'y'})
    with pytest.raises(UnsafePath):
        build_zip({name: 'x'})


@pytest.mark.parametrize(
    'raw,clean',
    [
        ('`main.py`', 'main.py'),
        ('  **src/app.py**  ', 'src/app.py'),
        ('"README.md"', 'README.md'),
        ("'a.txt'", 'a.txt'),
        ('[tests/test_a.py]', 'tests/test_a.py'),
        ('__init__.py', '__init__.py'),
        ('pkg/__main__.py', 'pkg/__main__.py'),
    ],
)
def test_wrapped_names_cleaned(raw, clean):
    assert safe_path(raw) == clean
    data = build_zip({raw: 'print(1)\n'}, root='proj')
    assert assert_extracts_inside(data) == [f'proj/{clean}']


def test_reasons_are_readable():
    with pytest.raises(UnsafePath, match=r"contains '\.\.'"):
        safe_path('a/../../x')
    with pytest.raises(UnsafePath, match='absolute'):
        safe_path('/etc/x')
    with pytest.raises(UnsafePath, match='drive letter'):
        safe_path('C:\\x')
    with pytest.raises(UnsafePath, match='backslash'):
        safe_path('..\\x')
    with pytest.raises(UnsafePath, match='control character'):
        safe_path('x\x00y')
    with pytest.raises(UnsafePath, match='reserved device name'):
        safe_path('CON')


def test_case_folded_duplicates_rejected():
    with pytest.raises(UnsafePath, match='case-insensitive'):
        validate_files({'A.txt': 'a', 'a.txt': 'b'})
    with pytest.raises(UnsafePath, match='case-insensitive'):
        build_zip({'src/App.py': 'a', 'SRC/app.py': 'b'})
    with pytest.raises(UnsafePath, match='both a file and a folder'):
        validate_files({'pkg': '', 'pkg/mod.py': ''})


def test_ten_thousand_files_rejected():
    with pytest.raises(TooLarge, match='10000 files; the limit is 200'):
        validate_files({f'f{i}.py': '' for i in range(10_000)})


def test_one_hundred_megabyte_file_rejected():
    big = b'\0' * 100_000_000
    with pytest.raises(TooLarge, match='big.bin is 100.0 MB'):
        validate_files({'big.bin': big})
    # even without the per-file limit the total limit stops it
    with pytest.raises(TooLarge, match='add up to more than 20.0 MB'):
        validate_files({'big.bin': big}, limits=Limits(max_file_bytes=10**9))


def test_zip_over_telegram_limit_refused():
    incompressible = os.urandom(MAX_ZIP_BYTES // 4)
    files = {f'r{i}.bin': incompressible for i in range(5)}
    with pytest.raises(TooLarge, match='more than a Telegram bot can send'):
        build_zip(files)


def test_validated_project_zips_deterministically_and_safely():
    files = validate_files(
        {
            '`app/main.py`': 'from app.util import f\n',
            'app/util.py': 'def f(): return 1\n',
            'app/__init__.py': '',
            'tests/test_util.py': 'def test(): pass\n',
            'notes/ünï.txt': 'ü',
        }
    )
    z1 = build_zip(files, root=slugify('My App'))
    z2 = build_zip(dict(sorted(files.items(), reverse=True)), root='my-app')
    assert z1 == z2
    names = assert_extracts_inside(z1)
    assert names == sorted(names) and names[0] == 'my-app/app/__init__.py'
    with zipfile.ZipFile(io.BytesIO(z1)) as zf:
        assert zf.read('my-app/notes/ünï.txt') == 'ü'.encode()
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert (info.external_attr >> 16) & 0o777 == 0o644
            assert info.compress_type == zipfile.ZIP_DEFLATED


def test_every_zip_of_mixed_hostile_output_is_safe():
    "Only the names that survive validation reach a ZIP, and each of those extracts inside the folder."
    survivors = {}
    for i, name in enumerate(HOSTILE + ['`main.py`', 'ok/a.py', '.env.example']):
        try:
            survivors[safe_path(name)] = f'# {i}\n'
        except UnsafePath:
            pass
    assert set(survivors) == {'main.py', 'ok/a.py', '.env.example'}
    assert_extracts_inside(build_zip(survivors))
    assert_extracts_inside(build_zip(survivors, root='x'))


def test_slugify_gives_safe_folder_names():
    for title in ['../../etc/passwd', 'CON', '', '   ', 'C:\\Windows', 'a' * 300, 'Hello, World!']:
        slug = slugify(title)
        assert safe_path(slug) == slug and '/' not in slug


@pytest.mark.parametrize(
    'name',
    [
        '.git/config',
        '.GIT/hooks/x',
        'sub/.Git/x',
        'GIT~1/config',
        '．git/config',
        'ѕetup.py',
        'src/pаypal.py',
        'ｍain.py',
        '．．/x.py',
        '．．／evil.py',
        '\u2024\u2024/x.py',
    ],
)
def test_git_lookalike_and_fullwidth_names_never_reach_a_zip(name):
    "A '.git' part in any case, a word mixing scripts, a name whose NFKC form escapes: refused everywhere."
    with pytest.raises(UnsafePath, match='Unsafe file name'):
        safe_path(name)
    with pytest.raises(UnsafePath):
        validate_files({'main.py': 'x = 1\n', name: 'boom'})
    with pytest.raises(UnsafePath):
        build_zip({'main.py': 'x = 1\n', name: 'boom'})


def test_names_in_one_script_and_fullwidth_names_are_delivered_under_their_plain_form():
    files = validate_files({'docs/отчёт.py': 'x = 1\n', 'テスト.txt': 'a', 'ｔｏｏｌ.py': 'b', '.gitignore': '*.pyc\n'})
    assert list(files) == ['.gitignore', 'docs/отчёт.py', 'tool.py', 'テスト.txt']
    names = assert_extracts_inside(build_zip(files, root='p'))
    assert names == ['p/.gitignore', 'p/docs/отчёт.py', 'p/tool.py', 'p/テスト.txt']
    with pytest.raises(UnsafePath, match='Duplicate'):  # ｔｏｏｌ.py is tool.py: they cannot both exist
        validate_files({'tool.py': '', 'ｔｏｏｌ.py': ''})


def test_files_that_run_code_when_opened_are_named():
    from aidevbot.packaging import autorun_files, with_autorun_section

    paths = [
        'main.py',
        '.envrc',
        '.vscode/tasks.json',
        '.vscode/settings.json',
        '.github/workflows/ci.yml',
        'lib/x.pth',
        'tests/conftest.py',
        '.gitattributes',
        'setup.py',
    ]
    assert list(autorun_files(paths)) == [
        '.envrc',
        '.github/workflows/ci.yml',
        '.vscode/settings.json',
        '.vscode/tasks.json',
        'lib/x.pth',
    ]
    readme = with_autorun_section('# Tool\n\nRun it.\n', paths)
    section = readme.split('## Files that run code on their own')[1]
    assert '`.envrc` — direnv' in section and '`.vscode/tasks.json` — VS Code' in section and 'setup.py' not in section
