"""Hostile projects, in each host mode the bot is deployed in: the code is contained, or it is not run at all.

Modes reproduced here (the bot process is started in that shape, then sends hostile test files through run_pytest):
root (a VM); uid 10001 under a Docker-like seccomp filter (the shipped container: unshare refused); root without
CAP_SYS_ADMIN, with and without that filter; uid 10001 where user namespaces are allowed (rootless hosts, laptops).
uid 10001 cannot read the pyenv Python under /root, so those modes use a venv built from Debian's /usr/bin/python3."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from hostile_probe import PROBE  # the same hostile test file the image and executor tests send

REPO = Path(__file__).resolve().parents[1]
MARK = f'SECRETMARK{uuid.uuid4().hex[:8]}'
DAEMON = f'DAEMONMARK{uuid.uuid4().hex[:8]}'  # this session's daemons only (other suites may run probes of their own)
BOT_UID = 10001


@pytest.fixture(autouse=True, scope='module')
def _can_take_each_mode():
    "Root (for each mode's identity), bubblewrap, Debian's Python; a skip fails under CI (AIDEVBOT_REQUIRE_SANDBOX=1)."
    missing = [
        what
        for what, ok in (
            ('root', os.geteuid() == 0),
            ('bubblewrap', shutil.which('bwrap')),
            ('/usr/bin/python3', os.path.exists('/usr/bin/python3')),
        )
        if not ok
    ]
    if missing:
        why = f"the host-mode tests need {', '.join(missing)}"
        pytest.fail(why) if os.environ.get('AIDEVBOT_REQUIRE_SANDBOX') else pytest.skip(why)


MEMORY = r'''
import os, time
def test_memory_total():
    r, w = os.pipe()
    for i in range(8):
        if os.fork() == 0:
            try:
                b = bytearray(400 << 20)
                for j in range(0, len(b), 4096): b[j] = 1
                os.write(w, b'H'); time.sleep(8)
            except MemoryError: os.write(w, b'M')
            os._exit(0)
    time.sleep(6)
    os.set_blocking(r, False)
    try: got = os.read(r, 100)
    except BlockingIOError: got = b''
    print('MEMPROBE', got.count(b'H'))
'''

DISK = r'''
import os
def test_disk_total():
    n = 0
    for d in ('.', '/tmp', '/dev/shm'):
        for i in range(20):
            try:
                with open(f'{d}/f{i}', 'wb') as f: f.write(b'x' * (15 << 20))
                n += 15
            except OSError: break
    print('DISKPROBE', n)
'''

PASSING = {
    'calc.py': 'def add(a, b):\n    return a + b\n',
    'test_calc.py': 'from calc import add\n\ndef test():\n    assert add(2, 2) == 4\n',
}


@pytest.fixture(scope='module')
def debian_venv():
    "A venv from Debian's Python with pytest (what uid 10001 can run), kept per machine."
    path = Path('/var/tmp/aidevbot-test-venv-debian')
    if not (path / 'bin' / 'pytest').exists():
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run(['/usr/bin/python3', '-m', 'venv', str(path)], check=True)
        subprocess.run([str(path / 'bin' / 'pip'), 'install', '-q', 'pytest', 'pytest-asyncio'], check=True)
    if subprocess.run([str(path / 'bin' / 'python'), '-c', 'import babel, fastcore'], capture_output=True).returncode:
        # the sandbox imports packaging, which names autorun files through the renderer (Babel catalogs, fastcore)
        subprocess.run([str(path / 'bin' / 'pip'), 'install', '-q', 'babel', 'fastcore'], check=True)
    return path / 'bin' / 'python'


@pytest.fixture(scope='module')
def world():
    "A world-readable copy of the package, the bot's folder with its secrets, a listener, and a secret-holding process."
    top = Path(tempfile.mkdtemp(prefix='aidevbot-modes-', dir='/var/tmp'))
    top.chmod(0o755)
    shutil.copytree(REPO / 'aidevbot', top / 'pkg' / 'aidevbot', ignore=shutil.ignore_patterns('__pycache__'))
    for p in (top / 'pkg').rglob('*'):
        p.chmod(0o755 if p.is_dir() else 0o644)
    (top / 'pkg').chmod(0o755)
    bot = top / 'bot'
    bot.mkdir(mode=0o700)
    db = bot / 'botdata.sqlite3'  # not ending in .db: no denylist can guess it
    import sqlite3

    with sqlite3.connect(db) as c:
        c.execute('create table users (token text)')
        c.execute(f"insert into users values ('{MARK}-row')")
    for suffix in ('-wal', '-shm', '-journal'):
        (bot / f'botdata.sqlite3{suffix}').write_text(f'{MARK}-{suffix}')
    (bot / '.env').write_text(f'TELEGRAM_BOT_TOKEN={MARK}-token\n')
    srv = socket.create_server(('127.0.0.1', 0))
    srv.settimeout(0.1)
    yield {'top': top, 'bot': bot, 'db': db, 'listener': srv}
    srv.close()
    shutil.rmtree(top, ignore_errors=True)


def _files(world, name: str) -> dict:
    bot, db = world['bot'], world['db']
    paths = [
        str(db),
        f'{db}-wal',
        f'{db}-shm',
        f'{db}-journal',
        str(bot / '.env'),
        str(bot),
        '/root',
        str(REPO),
        str(REPO / 'settings.ini'),
    ]
    tag = uuid.uuid4().hex[:8]
    outside = [f'/tmp/OUTMARK{tag}', f'/dev/shm/OUTMARK{tag}', f'/var/tmp/OUTMARK{tag}', str(bot / f'OUTMARK{tag}')]
    head = (
        f'PATHS = {paths!r}\nDB = {str(db)!r}\nLISTENER = {world["listener"].getsockname()[1]}\nOUTSIDE = {outside!r}\n'
        f'DAEMON = {DAEMON!r}\n'
    )
    return {
        'probe': {'files': {'test_probe.py': head + PROBE}},
        'memory': {'files': {'test_memory.py': MEMORY}, 'timeout': 40},
        'disk': {'files': {'test_disk.py': DISK}},
        'passing': {'files': PASSING},
    }, outside


def _run_mode(
    world, python, *, uid: int | None, docker_seccomp: bool = False, drop_sys_admin: bool = False
) -> tuple[dict, list]:
    jobs, outside = _files(world, 'x')
    spec = world['top'] / f'spec-{uuid.uuid4().hex[:6]}.json'
    spec.write_text(
        json.dumps(
            {'pkg': str(world['top'] / 'pkg'), 'cwd': str(world['bot']), 'jobs': jobs, 'docker_seccomp': docker_seccomp}
        )
    )
    spec.chmod(0o644)
    if uid is not None:
        shutil.chown(world['bot'], uid, uid)
        [shutil.chown(p, uid, uid) for p in world['bot'].iterdir()]
    else:
        shutil.chown(world['bot'], 0, 0)
        [shutil.chown(p, 0, 0) for p in world['bot'].iterdir()]
    env = {
        'PATH': '/usr/bin:/bin',
        'TELEGRAM_BOT_TOKEN': f'{MARK}-token',
        'LLM_API_KEY': f'{MARK}-key',
        'DATABASE_URL': f"sqlite:///{world['db']}",
        'HOME': '/root',
    }
    user = dict(user=uid, group=uid, extra_groups=[]) if uid is not None else {}
    other = subprocess.Popen(
        ['/bin/sleep', '120'], env=env, **user
    )  # another process of the bot's uid, holding secrets
    cmd = [str(python), str(REPO / 'tests' / 'sandbox_mode_runner.py'), str(spec)]
    if drop_sys_admin:
        cmd = ['setpriv', '--bounding-set=-sys_admin', '--inh-caps=-sys_admin', '--', *cmd]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400, cwd=str(world['top']), **user)
    finally:
        other.kill()
        other.wait()
    line = next((l for l in proc.stdout.splitlines() if l.startswith('RESULT ')), None)
    assert line, f'runner failed: {proc.stdout[-2000:]}\n{proc.stderr[-3000:]}'
    return json.loads(line[7:]), outside


def _daemons() -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            if DAEMON.encode() in open(f'/proc/{pid}/cmdline', 'rb').read():
                found.append(int(pid))
        except OSError:
            pass
    return found


def _assert_contained_or_not_run(res: dict, outside: list, world) -> bool:
    "Every hostile job was contained, or not run with a reason; True when they ran."
    ran = []
    for name in ('probe', 'memory', 'disk'):
        job = res[name]
        if job['status'] == 'not_verified' and 'not run' in job['message']:
            assert job['isolation'].get('setup_error'), job
            continue
        ran.append(name)
        out = job['output']
        if name == 'probe':
            r = json.loads(next(l for l in out.splitlines() if l.startswith('PROBE '))[6:])
            assert r['environ_leaks'] == [], r
            assert r['read'] == {} or all(MARK not in json.dumps(v) for v in r['read'].values()), r['read']
            assert not {
                str(world['db']),
                str(world['bot'] / '.env'),
                str(world['bot']),
                str(REPO / 'settings.ini'),
            } & set(r['read']), r['read']
            assert not {'settings.ini', 'aidevbot', 'nbs', '.git'} & set(r['read'].get(str(REPO), [])), r[
                'read'
            ]  # at most the venv's folder
            assert r['db_insert'] is False and set(r['net'].values()) == {'closed'}, r
        if name == 'memory':
            held = [l for l in out.splitlines() if l.startswith('MEMPROBE')]
            assert not held or int(held[0].split()[1]) <= 1, (held, job['killed_reason'])
        if name == 'disk':
            n = [l for l in out.splitlines() if l.startswith('DISKPROBE')]
            assert not n or int(n[0].split()[1]) <= 256, n
    for path in outside:
        assert not os.path.exists(path), f'{path} survived the run'
    deadline = time.monotonic() + 5
    while _daemons() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _daemons() == [], 'a process was left running'
    import sqlite3

    with sqlite3.connect(world['db']) as c:
        assert c.execute('select count(*) from users').fetchone()[0] == 1
    return bool(ran)


def test_root_contains_hostile_code_and_verifies(world):
    res, outside = _run_mode(world, sys.executable, uid=None)
    assert res['engine']['mode'] == 'privileged'
    assert _assert_contained_or_not_run(res, outside, world)
    assert res['passing']['status'] == 'passed', res['passing']
    assert res['probe']['isolation']['seccomp'] and res['probe']['isolation']['no_new_privs']


def test_uid_10001_under_dockers_seccomp_refuses_to_run(world, debian_venv):
    "The shipped container shape: unshare refused. Nothing runs, and every result says why."
    res, outside = _run_mode(world, debian_venv, uid=BOT_UID, docker_seccomp=True)
    assert res['uid'] == BOT_UID
    assert not _assert_contained_or_not_run(res, outside, world)
    for name in ('probe', 'memory', 'disk', 'passing'):
        assert res[name]['status'] == 'not_verified' and 'not run' in res[name]['message'], res[name]['message']
    assert 'namespace' in res['passing']['message'].lower() or 'permitted' in res['passing']['message'].lower()


def test_root_without_sys_admin_uses_a_user_namespace(world, debian_venv):
    res, outside = _run_mode(world, debian_venv, uid=None, drop_sys_admin=True)
    assert res['engine']['mode'] == 'userns'
    assert _assert_contained_or_not_run(res, outside, world)
    assert res['passing']['status'] == 'passed', res['passing']
    assert res['probe']['isolation']['unprivileged_uid'] >= 1_800_000_000


def test_root_without_sys_admin_under_dockers_seccomp_refuses_to_run(world, debian_venv):
    res, outside = _run_mode(world, debian_venv, uid=None, drop_sys_admin=True, docker_seccomp=True)
    assert not _assert_contained_or_not_run(res, outside, world)
    assert res['passing']['status'] == 'not_verified'


def test_uid_10001_with_user_namespaces_verifies(world, debian_venv):
    "Rootless hosts and laptops: verification works, and hostile code is contained."
    res, outside = _run_mode(world, debian_venv, uid=BOT_UID)
    assert res['uid'] == BOT_UID and res['engine']['mode'] == 'userns'
    assert _assert_contained_or_not_run(res, outside, world)
    assert res['passing']['status'] == 'passed', res['passing']
    for name in ('probe', 'memory', 'disk'):
        assert res[name]['status'] != 'not_verified', res[name]
