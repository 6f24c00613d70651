"""Generated code runs contained: limits stop it, nothing survives it, it sees no secret and cannot touch the bot."""

import io
import os
import socket
import sqlite3
import threading
import time
import zipfile
from pathlib import Path

import pytest

from aidevbot.packaging import UnsafePath
from aidevbot.sandbox import _procs_of_uid, run_in_sandbox, run_pytest

REPO = Path(__file__).resolve().parents[1]
SECRETS = {
    'TELEGRAM_BOT_TOKEN': '987654:FAKE-BOT-TOKEN-xyz',
    'LLM_API_KEY': 'sk-fake-llm-key-abc',
    'DATABASE_URL': 'postgresql://bot:fake-db-password@127.0.0.1:5432/bot',
}


def assert_nothing_left(res, wait: float = 10.0):
    "No process of the run's group or uid is alive (zombies get a moment to be reaped)."
    assert res.isolation['left_behind'] == 0
    deadline = time.monotonic() + wait

    def group_alive():
        try:
            os.killpg(res.isolation['pgid'], 0)
        except ProcessLookupError:
            return False
        return True

    while group_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(ProcessLookupError):
        os.killpg(res.isolation['pgid'], 0)
    uid = res.isolation['unprivileged_uid']
    if uid is not None:
        while _procs_of_uid(uid, zombies=True) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _procs_of_uid(uid, zombies=True) == []


def needs_uid(res):
    if res.isolation['unprivileged_uid'] is None:
        pytest.skip('the bot is not running as root here, so the sandbox cannot switch to its own uid')


def test_infinite_loop_is_stopped_at_the_time_limit():
    res = run_in_sandbox({'loop.py': 'while True:\n    pass\n'}, ['python', 'loop.py'], timeout=2)
    assert res.timed_out and res.returncode != 0
    assert res.killed_reason == 'stopped at the time limit (2 s)'
    assert res.duration < 30  # generous: the point is that it ends
    assert_nothing_left(res)


def test_cpu_limit_stops_a_busy_loop_before_the_wall_clock():
    res = run_in_sandbox({}, ['python', '-c', 'while True: pass'], timeout=30, cpu_seconds=1)
    assert not res.timed_out and 'CPU time limit' in res.killed_reason
    assert_nothing_left(res)


FORK_BOMB = '''
import os, time
fd = os.open('born', os.O_WRONLY | os.O_CREAT | os.O_APPEND)
if os.fork() == 0: os.setsid()          # one branch even leaves the process group
while True:
    try:
        if os.fork(): os.write(fd, b'x')  # one byte per process created
    except OSError:
        time.sleep(0.001)
'''


def test_fork_bomb_is_contained_and_leaves_nothing():
    res = run_in_sandbox(
        {'bomb.py': FORK_BOMB}, ['python', 'bomb.py'], timeout=4, max_processes=16, memory_mb=128, collect=['born']
    )
    assert res.timed_out
    assert_nothing_left(res)
    if (
        res.isolation['unprivileged_uid'] is not None or res.isolation['cgroup_pids']
    ):  # a limit that counts the run alone
        assert 0 < len(res.files.get('born', b'')) < 16


def test_memory_hog_is_stopped_at_the_memory_limit():
    res = run_in_sandbox(
        {'hog.py': 'x = []\nwhile True:\n    x.append(bytearray(10**6))\n'},
        ['python', 'hog.py'],
        timeout=30,
        memory_mb=128,
    )
    assert not res.timed_out and res.returncode != 0
    assert res.killed_reason == 'ran out of memory (limit 128 MB)'
    assert_nothing_left(res)


def test_file_size_limit():
    res = run_in_sandbox({}, ['python', '-c', "open('big', 'wb').write(b'0' * 3 * 2**20)"], timeout=30, max_file_mb=1)
    assert res.returncode != 0 and 'size limit (1 MB)' in res.killed_reason


def test_background_children_die_with_the_command():
    code = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
        "print('started')"
    )
    res = run_in_sandbox({}, ['python', '-c', code], timeout=20)
    assert res.ok and res.stdout.strip() == 'started'
    assert_nothing_left(res)


def test_generated_code_sees_no_secret(monkeypatch):
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    code = '''
import os
print(dict(os.environ))
for pid in os.listdir('/proc'):
    for f in ('environ', 'cmdline'):
        try: print(open(f'/proc/{pid}/{f}', 'rb').read().decode('utf-8', 'replace'))
        except OSError: pass
'''
    res = run_in_sandbox({'spy.py': code}, ['python', 'spy.py'], timeout=20)
    assert res.ok, res.stderr
    assert 'PATH' in res.stdout and 'HOME' in res.stdout
    for name, value in SECRETS.items():
        assert value not in res.stdout + res.stderr
        assert f"'{name}'" not in res.stdout


@pytest.fixture
def bot_dir():
    "A folder standing in for the bot's own files, outside /tmp (which the sandbox replaces), removed afterwards."
    import shutil, uuid

    d = REPO / f'.sandbox-probe-{uuid.uuid4().hex[:8]}'
    d.mkdir(mode=0o755)
    (d / 'settings.ini').write_text('[DEFAULT]\n')
    try:
        yield d
    finally:
        shutil.rmtree(d)


def test_cannot_touch_the_bots_files_or_database(tmp_path, monkeypatch, bot_dir):
    # only meaningful with a uid of its own: without one the probe below would really write (and is not run)
    needs_uid(run_in_sandbox({}, ['true'], timeout=10))
    db = bot_dir / 'bot.db'
    with sqlite3.connect(db) as conn:
        conn.execute('create table users (token text)')
        conn.execute("insert into users values ('SECRET-ROW')")
    db.chmod(0o644)  # even a world-readable database stays out of reach
    monkeypatch.setenv('DATABASE_URL', f'sqlite:///{db}')
    code = f'''
import os, sqlite3
def attempt(label, fn):
    try: fn(); print(label, 'OK')
    except Exception as e: print(label, 'DENIED', type(e).__name__)
attempt('read-db', lambda: print(open({str(db)!r}, 'rb').read()[:200]))
attempt('query-db', lambda: print(sqlite3.connect({str(db)!r}).execute('select * from users').fetchall()))
attempt('write-bot-dir', lambda: open({str(bot_dir / 'PWNED')!r}, 'w').write('x'))
attempt('write-settings', lambda: open({str(bot_dir / 'settings.ini')!r}, 'a').write('x'))
attempt('write-tmp-outside', lambda: open({str(tmp_path / 'pwned')!r}, 'w').write('x'))
attempt('write-own', lambda: open('mine.txt', 'w').write('x'))
'''
    res = run_in_sandbox({'probe.py': code}, ['python', 'probe.py'], timeout=20)
    assert res.ok, res.stderr
    out = res.stdout
    assert 'SECRET-ROW' not in out and 'SQLite format' not in out  # the file reads as empty
    for label in ('query-db', 'write-bot-dir', 'write-settings', 'write-tmp-outside'):
        assert f'{label} OK' not in out, out
    assert 'write-own OK' in out
    assert not (bot_dir / 'PWNED').exists() and not (tmp_path / 'pwned').exists()
    assert (bot_dir / 'settings.ini').read_text() == '[DEFAULT]\n'
    assert str(db) in res.isolation['hidden']


def test_cannot_reach_postgresql():
    "Neither over TCP on localhost nor over its Unix socket (which often needs no password)."
    code = '''
import socket
try: socket.create_connection(('127.0.0.1', 5432), timeout=3); print('tcp OPEN')
except OSError as e: print('tcp closed', e)
for path in ('/run/postgresql/.s.PGSQL.5432', '/var/run/postgresql/.s.PGSQL.5432', '/tmp/.s.PGSQL.5432'):
    s = socket.socket(socket.AF_UNIX)
    try: s.connect(path); print('unix OPEN', path)
    except OSError as e: print('unix closed', path, e)
'''
    res = run_in_sandbox({}, ['python', '-c', code], timeout=20)
    if not (res.isolation['network_isolated'] and res.isolation['mount_namespace']):
        pytest.skip('needs network and mount namespaces')
    assert res.ok and 'OPEN' not in res.stdout, res.stdout


def test_no_network_but_own_loopback_works():
    server = socket.create_server(('127.0.0.1', 0))
    port = server.getsockname()[1]

    def serve():
        try:
            for _ in range(2):
                server.accept()
        except OSError:
            pass  # closed at the end of the test

    threading.Thread(target=serve, daemon=True).start()
    code = f'''
import socket
try: socket.create_connection(('127.0.0.1', {port}), timeout=3); print('host reachable')
except OSError as e: print('host unreachable', e)
s = socket.create_server(('127.0.0.1', 0))
c = socket.create_connection(s.getsockname(), timeout=3); print('own loopback ok')
'''
    try:
        res = run_in_sandbox({}, ['python', '-c', code], timeout=20)
        if not res.isolation['network_isolated']:
            pytest.skip('no network namespace on this kernel')
        assert 'host unreachable' in res.stdout and 'own loopback ok' in res.stdout, res
        res = run_in_sandbox({}, ['python', '-c', code], timeout=20, allow_network=True)
        assert 'host reachable' in res.stdout and res.isolation['network_isolated'] is False
    finally:
        server.close()


def test_unsafe_file_names_are_never_written():
    with pytest.raises(UnsafePath):
        run_in_sandbox({'../escape.py': 'x'}, ['true'], timeout=5)


def test_isolation_is_reported():
    res = run_in_sandbox({}, ['true'], timeout=10)
    iso = res.isolation
    assert res.ok and iso['empty_environment'] and iso['process_group']
    nproc = iso['rlimits'].pop('nproc')  # without a uid of its own, the limit counts on top of the bot's processes
    assert iso['rlimits'] == {'cpu': 11, 'as': 512 << 20, 'fsize': 16 << 20, 'nofile': 256, 'core': 0}
    assert nproc == 64 if iso['unprivileged_uid'] is not None else nproc >= 64
    if os.geteuid() == 0 and open('/proc/self/uid_map').read().split() == ['0', '0', '4294967295']:
        # what this machine (root on Linux, not in a user namespace) must provide
        assert iso['unprivileged_uid'] and iso['network_isolated'] and iso['pid_namespace'] and iso['mount_namespace']
        assert iso['cgroup_pids'] and 'warning' not in iso and 'exposed' not in iso


PROJECT = {
    'calc.py': 'def add(a, b):\n    return a + b\n',
    'tests/test_calc.py': 'from calc import add\n\ndef test_small():\n    assert add(2, 2) == 4\n\n'
    'def test_negative():\n    assert add(-1, 1) == 0\n',
}


def test_passing_project_is_reported_passed():
    rep = run_pytest(PROJECT, timeout=60)
    assert (rep.status, rep.ran, rep.passed, rep.failed, rep.errors) == ('passed', 2, 2, 0, 0), rep.output
    assert rep.ok and rep.message == '2 tests passed.'


def test_failing_project_is_reported_failed():
    rep = run_pytest({**PROJECT, 'calc.py': 'def add(a, b):\n    return a * b\n'}, timeout=60)
    assert (rep.status, rep.ran, rep.passed, rep.failed) == ('failed', 2, 1, 1)
    assert not rep.ok and 'test_negative' in rep.output and rep.message == '1 failed of 2 tests.'


def test_syntax_error_is_an_error_not_a_pass():
    rep = run_pytest({**PROJECT, 'calc.py': 'def add(a, b)\n    return a + b\n'}, timeout=60)
    assert rep.status == 'failed' and rep.errors >= 1 and 'SyntaxError' in rep.output
    assert 'could not be collected' in rep.message


def test_import_of_a_missing_file_is_named():
    rep = run_pytest({'tests/test_app.py': 'from helpers import util\n\ndef test():\n    assert util()\n'}, timeout=60)
    assert rep.status == 'error' and rep.missing_modules == ['helpers']
    assert 'helpers' in rep.message and 'requirements.txt' in rep.message


def test_missing_package_is_not_verified_and_named():
    files = {
        'app.py': 'import acme_widgets\n',
        'requirements.txt': 'acme-widgets==1.0\n',
        'test_app.py': 'import app\n\ndef test():\n    pass\n',
    }
    rep = run_pytest(files, timeout=60)
    assert rep.status == 'not_verified' and rep.missing_packages == ['acme_widgets']
    assert rep.message == 'Not verified: missing package acme_widgets (installing packages is turned off).'


def test_no_tests_collected_is_said_plainly():
    rep = run_pytest({'app.py': 'print(1)\n'}, timeout=60)
    assert rep.status == 'no_tests' and rep.message == 'No tests were collected.' and rep.ran == 0


def test_hanging_test_times_out():
    rep = run_pytest({'test_hang.py': 'def test():\n    while True: pass\n'}, timeout=3)
    assert rep.status == 'timeout' and rep.result.timed_out
    assert_nothing_left(rep.result)


def test_async_tests_run():
    files = {
        'test_async.py': 'import asyncio, pytest\n\n@pytest.mark.asyncio\n'
        'async def test_sleep():\n    await asyncio.sleep(0)\n'
    }
    rep = run_pytest(files, timeout=60)
    assert rep.status == 'passed' and rep.passed == 1, rep.output


def _wheel(name: str, version: str, module_source: str) -> bytes:
    "A minimal pure-Python wheel, so installing needs no package index."
    dist = f'{name}-{version}.dist-info'
    entries = {
        f'{name}.py': module_source,
        f'{dist}/METADATA': f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n',
        f'{dist}/WHEEL': 'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
    }
    entries[f'{dist}/RECORD'] = ''.join(f'{n},,\n' for n in entries) + f'{dist}/RECORD,,\n'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as zf:
        for n, data in entries.items():
            zf.writestr(n, data)
    return buf.getvalue()


def test_allowed_install_makes_the_tests_run():
    files = {
        'wheels/acme_widgets-1.0-py3-none-any.whl': _wheel('acme_widgets', '1.0', 'def answer():\n    return 42\n'),
        'requirements.txt': './wheels/acme_widgets-1.0-py3-none-any.whl\n',
        'test_app.py': 'from acme_widgets import answer\n\ndef test():\n    assert answer() == 42\n',
    }
    assert run_pytest(files, timeout=60).status == 'not_verified'
    rep = run_pytest(files, timeout=60, allow_install=True, install_timeout=120)
    assert rep.status == 'passed' and rep.passed == 1, (rep.message, rep.output)


def _live_with_marker(marker: str) -> list[int]:
    "Live processes of another uid (the sandboxed command) whose command line holds `marker`."
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            if (
                marker.encode() in open(f'/proc/{pid}/cmdline', 'rb').read()
                and os.stat(f'/proc/{pid}').st_uid != os.getuid()
                and open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0] != 'Z'
            ):
                found.append(int(pid))
        except OSError:
            pass
    return found


def test_command_dies_when_the_bot_is_killed_mid_run():
    import subprocess, sys, uuid

    if os.geteuid() != 0 or open('/proc/self/uid_map').read().split() != ['0', '0', '4294967295']:
        pytest.skip('tells the command apart from the bot by its own uid, which needs root outside a user namespace')
    marker = f'marker-{uuid.uuid4().hex}'
    code = f"import os, time  # {marker}\nif os.fork() == 0: os.setsid()\ntime.sleep(600)"
    bot = subprocess.Popen(
        [
            sys.executable,
            '-c',
            'from aidevbot.sandbox import run_in_sandbox\n'
            f'run_in_sandbox({{}}, ["python", "-c", {code!r}], timeout=300)',
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while len(_live_with_marker(marker)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_live_with_marker(marker)) >= 2, 'the sandboxed command did not start'
        first = _live_with_marker(marker)[0]
        uid = os.stat(f'/proc/{first}').st_uid
        cgroup = next(
            (line.split(':', 2)[2] for line in open(f'/proc/{first}/cgroup').read().splitlines() if ':pids:' in line),
            '/',
        )
        bot.kill()
        bot.wait()
        deadline = time.monotonic() + 10
        while _live_with_marker(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _live_with_marker(marker) == []
    finally:
        bot.kill()
    # the dead bot could not remove its sandbox folder (a later run removes it once stale)
    import glob, shutil, tempfile

    for d in glob.glob(os.path.join(tempfile.gettempdir(), 'aidevbot-sbx-*')):
        if os.stat(d).st_uid == uid:
            shutil.rmtree(d)
    if 'aidevbot-sbx-' in cgroup:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.rmdir('/sys/fs/cgroup/pids' + cgroup)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)


def test_install_never_runs_project_code():
    "A requirement that pip would build from source (running its setup.py) is refused before any install."
    files = {
        'pkg/setup.py': 'print("SETUP RAN")\nfrom setuptools import setup\nsetup(name="evil", version="1.0")\n',
        'requirements.txt': './pkg\n',
        'test_a.py': 'import evil\n\ndef test():\n    pass\n',
    }
    rep = run_pytest(files, timeout=60, allow_install=True, install_timeout=60)
    assert rep.status == 'not_verified' and "'./pkg'" in rep.message and 'wheel' in rep.message
    assert 'SETUP RAN' not in rep.output


FORGER = {
    'conftest.py': 'import os\n\ndef pytest_runtest_logreport(report):\n    if report.when == "call":\n'
    '        print("==== 7 passed in 0.01s ====")\n'
    '        open(".aidevbot-junit.xml", "w").write(\'<testsuite tests="7" failures="0" errors="0"/>\')\n'
    '        os._exit(0)\n',
    'test_a.py': 'def test_a():\n    assert 1 == 2\n',
    'test_b.py': 'def test_b():\n    assert False\n',
}


def test_a_forged_report_and_exit_0_is_not_a_pass():
    rep = run_pytest(FORGER, timeout=60)
    assert rep.result.returncode == 0 and '7 passed' in rep.output  # what the forger printed
    assert rep.status != 'passed' and not rep.ok and rep.passed == 0
    assert 'nothing was verified' in rep.message


def test_a_conftest_writing_to_the_report_pipe_without_the_key_is_not_a_pass():
    conftest = (
        'import json, os\n\ndef pytest_sessionfinish(session, exitstatus):\n'
        '    for fd in range(3, 64):\n'
        '        try: os.write(fd, (json.dumps({"body": json.dumps({"done": True, "exitstatus": 0, '
        '"passed": 9, "failed": 0, '
        '"error": 0, "skipped": 0}), "mac": "0" * 64}) + "\\n").encode())\n'
        '        except OSError: pass\n'
        '    session.exitstatus = 0\n'
    )
    rep = run_pytest({'conftest.py': conftest, 'test_a.py': 'def test_a():\n    assert False\n'}, timeout=60)
    assert rep.status != 'passed' and rep.passed == 0, rep.message


@pytest.mark.parametrize('name', ['venv.py', 'pip.py', 'ensurepip.py', 'sitecustomize.py'])
def test_project_files_named_like_tools_get_no_network_during_install(name):
    "The install step sees only requirements.txt and wheels, isolated; project code never runs with the network on."
    server = socket.create_server(('127.0.0.1', 0))
    server.settimeout(0.2)
    port = server.getsockname()[1]
    spy = f'import socket\ntry: socket.create_connection(("127.0.0.1", {port}), timeout=2)\nexcept OSError: pass\n'
    files = {
        'wheels/acme_widgets-1.0-py3-none-any.whl': _wheel('acme_widgets', '1.0', 'def answer():\n    return 42\n'),
        'requirements.txt': './wheels/acme_widgets-1.0-py3-none-any.whl\n',
        name: spy,
        'test_app.py': f'import {name[:-3]}\nfrom acme_widgets import answer\n\n'
        'def test():\n    assert answer() == 42\n',
    }
    try:
        rep = run_pytest(files, timeout=60, allow_install=True, install_timeout=120)
        assert rep.status == 'passed', (rep.message, rep.output[-2000:])
        with pytest.raises(TimeoutError):
            server.accept()  # nobody connected: not during the install, not during the tests
    finally:
        server.close()
