"""The shipped image, built and run for real with podman: as uid 10001, read-only, under Docker's default seccomp
profile, `serve` against the loopback fakes on the host, and the compose stack from /start to a delivered ZIP.

Skipped when no container runtime is installed; required under CI (AIDEVBOT_REQUIRE_IMAGE=1, set by .ci/run).
The image is built once per test session by deploy/local-image.sh (layers cached, the base made once per machine).
"""

import asyncio
import base64
import contextlib
import copy
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from aidevbot.testing import FakeLLM, FakeTelegram, free_port, wait_for_url
import hostile_probe
from hostile_probe import AFTER, WORLD, leaks, probe_file, probe_report, targets

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / 'deploy'
IMAGE = os.environ.get('AIDEVBOT_IMAGE', 'localhost/aidevbot:dev')
PG_IMAGE = os.environ.get('AIDEVBOT_PG_IMAGE', 'localhost/aidevbot-postgres:dev')
PODMAN_SECCOMP = Path('/usr/share/containers/seccomp.json')
EXECUTOR_SECCOMP = (
    DEPLOY / 'seccomp' / 'profiles' / 'aidevbot-sandbox.json'
)  # what compose and Kubernetes grant the executor
HELP = (
    'podman is not installed: the image tests need it (apt-get install podman runc debootstrap uidmap bubblewrap); '
    'set AIDEVBOT_REQUIRE_IMAGE=1 to make this a failure'
)
GRACE = 5
UID = '10001'


def _require_podman() -> str:
    exe = shutil.which('podman')
    if not exe:
        if os.environ.get('AIDEVBOT_REQUIRE_IMAGE'):
            pytest.fail(HELP)
        pytest.skip(HELP)
    return exe


def podman_env() -> dict:
    env = dict(os.environ)
    if os.geteuid() == 0:
        env.setdefault('CONTAINERS_CONF', str(DEPLOY / 'local' / 'containers.conf'))
    return env


def podman(*args, timeout: float = 300, check: bool = True, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(['podman', *args], capture_output=True, text=True, timeout=timeout, env=podman_env(), **kw)
    if check:
        assert r.returncode == 0, f'podman {" ".join(args)}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
    return r


@pytest.fixture(scope='session')
def image() -> str:
    "Build (or refresh from cached layers) the aidevbot and PostgreSQL images once per session."
    _require_podman()
    r = subprocess.run(
        [str(DEPLOY / 'local-image.sh'), '--postgres', IMAGE],
        capture_output=True,
        text=True,
        timeout=1500,
        env=podman_env(),
    )
    assert r.returncode == 0, r.stderr[-5000:]
    return IMAGE


# -- Docker's default seccomp profile, derived from podman's -------------------------------------------------------

# Podman's profile allows these unconditionally; Docker's (moby) and containerd's RuntimeDefault allow them only with
# CAP_SYS_ADMIN, and clone only without namespace flags (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET).
NS_CALLS = {
    'unshare',
    'setns',
    'mount',
    'umount',
    'umount2',
    'pivot_root',
    'fsconfig',
    'fsmount',
    'fsopen',
    'fspick',
    'move_mount',
    'open_tree',
    'mount_setattr',
    'clone',
    'clone3',
}
CLONE_NS_FLAGS = 0x7E020000
ENOSYS, EPERM = 38, 1


def docker_default_profile(podman_profile: dict) -> dict:
    "Podman's default seccomp profile with namespace and mount calls gated on CAP_SYS_ADMIN, as in Docker's default."
    p = copy.deepcopy(podman_profile)
    p['defaultErrnoRet'], p['defaultErrno'] = (
        EPERM,
        'EPERM',
    )  # podman answers ENOSYS to what it does not list; Docker EPERM
    for rule in p['syscalls']:
        if rule['action'] == 'SCMP_ACT_ALLOW' and not (rule.get('includes') or {}).get('caps'):
            rule['names'] = [n for n in rule['names'] if n not in NS_CALLS]
    not_admin = {'caps': ['CAP_SYS_ADMIN']}
    masked = lambda i: [{'index': i, 'value': CLONE_NS_FLAGS, 'valueTwo': 0, 'op': 'SCMP_CMP_MASKED_EQ'}]
    p['syscalls'] += [
        {'names': sorted(NS_CALLS), 'action': 'SCMP_ACT_ALLOW', 'includes': not_admin},
        {
            'names': ['clone'],
            'action': 'SCMP_ACT_ALLOW',
            'args': masked(0),
            'excludes': {'caps': ['CAP_SYS_ADMIN'], 'arches': ['s390', 's390x']},
        },
        {
            'names': ['clone'],
            'action': 'SCMP_ACT_ALLOW',
            'args': masked(1),
            'includes': {'arches': ['s390', 's390x']},
            'excludes': not_admin,
        },
        # glibc falls back to clone when clone3 says ENOSYS (its flags live in memory seccomp cannot read)
        {'names': ['clone3'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': ENOSYS, 'excludes': not_admin},
    ]
    return p


@pytest.fixture(scope='session')
def docker_seccomp(tmp_path_factory) -> str:
    if not PODMAN_SECCOMP.exists():
        pytest.fail(f'{PODMAN_SECCOMP} is missing (podman installs it)')
    path = tmp_path_factory.mktemp('seccomp') / 'docker-default.json'
    path.write_text(json.dumps(docker_default_profile(json.loads(PODMAN_SECCOMP.read_text())), indent=1))
    return str(path)


def hardened(seccomp: str | None = None) -> list[str]:
    "The options the shipped manifests grant the bot: uid 10001, read-only root, no capabilities, no new privileges."
    opts = [
        '--user',
        f'{UID}:{UID}',
        '--read-only',
        '--tmpfs',
        '/tmp:rw,size=256m',
        '--cap-drop',
        'ALL',
        '--security-opt',
        'no-new-privileges',
    ]
    return opts + (['--security-opt', f'seccomp={seccomp}'] if seccomp else [])


def test_derived_docker_profile_refuses_unshare_that_podmans_default_allows(image, docker_seccomp):
    probe = ['unshare', '--user', '--map-root-user', 'true']
    podmans = podman('run', '--rm', *hardened(), image, *probe, check=False)
    dockers = podman('run', '--rm', *hardened(docker_seccomp), image, *probe, check=False)
    assert podmans.returncode == 0, podmans.stderr  # this host allows user namespaces, podman's profile too
    assert dockers.returncode != 0 and 'Operation not permitted' in dockers.stderr, dockers
    threads = podman(
        'run',
        '--rm',
        *hardened(docker_seccomp),
        image,
        'python3',
        '-c',
        'import threading, subprocess; t = threading.Thread(target=print); t.start(); t.join(); '
        'subprocess.run(["true"], check=True)',
        check=False,
    )
    assert threads.returncode == 0, threads.stderr  # plain clone (threads, fork) still works under it


def test_image_runs_as_uid_10001_and_carries_bubblewrap(image):
    out = podman(
        'run', '--rm', '--read-only', image, 'sh', '-c', 'id -u; id -g; command -v bwrap; bwrap --version'
    ).stdout.split()
    assert out[:3] == [UID, UID, '/usr/bin/bwrap'], out
    cmd = json.loads(podman('image', 'inspect', image).stdout)[0]['Config']
    assert cmd['User'] == f'{UID}:{UID}' and cmd['Cmd'] == ['aidevbot', 'serve']


def test_help_and_demo_run_read_only_as_uid_10001_under_docker_seccomp(image, docker_seccomp):
    r = podman('run', '--rm', *hardened(docker_seccomp), image, 'aidevbot', '--help')
    assert 'serve' in r.stdout and 'demo' in r.stdout
    r = podman(
        'run',
        '--rm',
        *hardened(docker_seccomp),
        '-e',
        'HOME=/tmp',
        image,
        'sh',
        '-c',
        'cd /tmp && aidevbot demo --out /tmp/demo && ls /tmp/demo',
        timeout=240,
        check=False,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert 'passed' in r.stdout and '.zip' in r.stdout, r.stdout[-3000:]


# -- the hostile probe, through the sandbox inside the image ---------------------------------------------------------

BOT = '/tmp/bot'  # the bot's folder in a container: its .env, its SQLite database with -wal/-shm/-journal
PASSING = {
    'calc.py': 'def add(a, b):\n    return a + b\n',
    'test_calc.py': 'from calc import add\n\ndef test():\n    assert add(2, 2) == 4\n',
}

# Run in the container as the bot would be (uid 10001, its secrets in its environment, another process holding them,
# its folder with .env and database, a listener and something on 5432): the hostile probe, then a passing project,
# through `aidevbot.sandbox.run_pytest`; then what survived. Fed to `python3 -` after hostile_probe's source.
IN_IMAGE = r'''
import dataclasses, json, os, socket, subprocess, sys
from aidevbot import sandbox
mark, tag = sys.argv[1], sys.argv[2]
subprocess.run([sys.executable, '-c', WORLD, BOT, mark], check=True, stdout=subprocess.DEVNULL)
os.chdir(BOT)
holder = subprocess.Popen(['sleep', '300'])  # another process of the bot's uid, the bot's secrets in its environment
srv = socket.create_server(('127.0.0.1', 0))
try: pg = socket.create_server(('127.0.0.1', 5432))
except OSError: pg = None
paths, db, outside = targets(BOT, tag, '/data', '/home/aidevbot')
out = {'uid': os.getuid(), 'engine': dataclasses.asdict(sandbox.engine())}
daemon = f'DAEMONMARK{tag}'
probe = probe_file(paths=paths, db=db, listener=srv.getsockname()[1], outside=outside, daemon=daemon)
jobs = {'probe': {'test_probe.py': probe}, 'passing': PASSING}
for name, files in jobs.items():
    rep = sandbox.run_pytest({k: v.encode() for k, v in files.items()}, timeout=60, pytest_args=['-s', '-q'])
    out[name] = {
        'status': rep.status, 'message': rep.message, 'output': rep.output[-4000:], 'isolation': rep.result.isolation
    }
after = subprocess.run(
    [sys.executable, '-c', AFTER, BOT, mark, json.dumps(outside), daemon], capture_output=True, text=True, check=True
)
out['after'] = json.loads(after.stdout)
holder.kill()
print('RESULT ' + json.dumps(out, default=str))
'''


def probe_in_image(image: str, seccomp: str | None) -> tuple[dict, str]:
    "The hostile probe sent through run_pytest inside the image, the bot's container shape with this seccomp profile."
    mark, tag = f'SECRETMARK{uuid.uuid4().hex[:8]}', uuid.uuid4().hex[:8]
    secrets = {
        'TELEGRAM_BOT_TOKEN': f'{mark}-token',
        'LLM_API_KEY': f'{mark}-key',
        'DATABASE_URL': f'sqlite:///{BOT}/botdata.sqlite3',
        'HOME': '/tmp',
    }
    script = Path(hostile_probe.__file__).read_text() + f'\nBOT = {BOT!r}\nPASSING = {PASSING!r}\n' + IN_IMAGE
    r = podman(
        'run',
        '--rm',
        '-i',
        *hardened(seccomp),
        *[a for k, v in secrets.items() for a in ('-e', f'{k}={v}')],
        image,
        'python3',
        '-',
        mark,
        tag,
        input=script,
        timeout=240,
        check=False,
    )
    line = next((l for l in r.stdout.splitlines() if l.startswith('RESULT ')), None)
    assert line, f'the runner failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
    return json.loads(line[7:]), mark


def not_run(job: dict) -> bool:
    "Not run, and saying why (never counted as verified)."
    return job['status'] == 'not_verified' and 'not run' in job['message'] and bool(job['isolation'].get('setup_error'))


def test_hostile_probe_in_the_image_under_dockers_profile_is_not_run(image, docker_seccomp):
    "The shipped bot container shape (Docker's default / RuntimeDefault): the sandbox cannot isolate, so nothing runs."
    res, mark = probe_in_image(image, docker_seccomp)
    assert res['uid'] == int(UID)
    for name in ('probe', 'passing'):
        assert not_run(res[name]), res[name]
    assert 'Operation not permitted' in res['passing']['message'] or 'namespace' in res['passing']['message'], res[
        'passing'
    ]['message']
    assert leaks(None, res['after'], mark=mark, bot=BOT) == []


def test_hostile_probe_in_the_image_under_podmans_profile_is_contained(image):
    "Podman's default profile allows user namespaces (and masks /proc): the sandbox runs the probe and holds."
    res, mark = probe_in_image(image, None)
    assert res['uid'] == int(UID) and res['engine']['mode'] == 'userns'
    probe = res['probe']
    report = None if not_run(probe) else probe_report(probe['output'])
    assert not_run(probe) or report is not None, probe
    assert leaks(report, res['after'], mark=mark, bot=BOT) == [], (report, res['after'])
    # this host allows user namespaces under podman's profile (test_derived_docker_profile...): so it must verify here
    assert report is not None and res['passing']['status'] == 'passed', res['passing']


def probe_executor(container: str, url: str) -> tuple[object, dict, dict | None, str]:
    """The hostile probe sent to a running executor at `url` (the test's host network), with a bot's folder, a
    process holding secrets and listeners (the host's loopback; 5432 unless something listens there) planted in its
    container."""
    from aidevbot.executor import remote_pytest

    mark, tag = f'SECRETMARK{uuid.uuid4().hex[:8]}', uuid.uuid4().hex[:8]
    podman('exec', container, 'python3', '-c', WORLD, BOT, mark)
    podman(
        'exec',
        '-d',
        '-e',
        f'TELEGRAM_BOT_TOKEN={mark}-token',
        '-e',
        f'LLM_API_KEY={mark}-key',
        container,
        'sleep',
        '300',
    )
    paths, db, outside = targets(BOT, tag, '/data', '/home/aidevbot')
    with socket.create_server(('127.0.0.1', 0)) as srv, contextlib.ExitStack() as stack:
        with contextlib.suppress(OSError):
            stack.enter_context(socket.create_server(('127.0.0.1', 5432)))
        text = probe_file(
            paths=paths, db=db, listener=srv.getsockname()[1], outside=outside, daemon=f'DAEMONMARK{tag}', show=True
        )
        rep = asyncio.run(remote_pytest(url, {'test_probe.py': text.encode()}, timeout=60))
    after = json.loads(
        podman('exec', container, 'python3', '-c', AFTER, BOT, mark, json.dumps(outside), f'DAEMONMARK{tag}').stdout
    )
    return rep, after, probe_report(rep.output), mark


def assert_executor_contains(container: str, url: str) -> None:
    "The executor runs the hostile probe (not `not_verified`), and nothing leaks."
    rep, after, report, mark = probe_executor(container, url)
    assert rep.status != 'not_verified', rep.message
    assert report is not None, rep.output[-3000:]
    assert leaks(report, after, mark=mark, bot=BOT) == [], (report, after)


# -- `aidevbot serve` in the container, against the fakes on the host ------------------------------------------------


def drive_project(tg: FakeTelegram, chat: int, *, timeout: float = 180) -> dict:
    "/start, describe, approve the plan; return the delivered document's call."
    tg.command(chat, '/start')
    tg.wait_for_sync('sendMessage', lambda c: str(c.params.get('chat_id')) == str(chat), timeout=60)
    mark = len(tg.calls)
    tg.message(chat, 'A small command-line tool that counts words, with pytest tests.')
    has_approve = lambda c: 'approve:' in str(c.params.get('reply_markup'))
    plan = tg.wait_for_sync('sendMessage', has_approve, timeout=timeout, since=mark)
    data = next(b[1] for b in tg.buttons(chat) if (b[1] or '').startswith('approve:'))
    tg.callback(chat, data, plan.result['message_id'])
    return tg.wait_for_sync('sendDocument', timeout=timeout)


def container_alive(name: str):
    "A check for wait_for_url: raises with the container's logs once it has stopped."

    def alive() -> bool:
        if podman('container', 'inspect', '--format', '{{.State.Running}}', name, check=False).stdout.strip() == 'true':
            return True
        logs = podman('logs', name, check=False)
        raise AssertionError(f'{name} stopped:\n{logs.stdout[-3000:]}\n{logs.stderr[-3000:]}')

    return alive


def test_serve_in_the_container_answers_probes_delivers_a_zip_and_stops_on_sigterm(image, docker_seccomp):
    from aidevbot.testing import demo_responder

    name = f'aidevbot-serve-{os.getpid()}'
    with FakeTelegram() as tg, FakeLLM(demo_responder()) as llm:
        port = free_port()
        env = {
            'TELEGRAM_BOT_TOKEN': tg.token,
            'TELEGRAM_API_BASE_URL': tg.base_url,
            'TELEGRAM_FILE_BASE_URL': tg.file_base_url,
            'LLM_API_KEY': 'test-llm-key-abc',
            'LLM_BASE_URL': llm.base_url,
            'HOST': '127.0.0.1',
            'PORT': str(port),
            'HOME': '/tmp',
            'DATABASE_URL': 'sqlite:////tmp/aidevbot.db',
        }
        envs = [a for k, v in env.items() for a in ('-e', f'{k}={v}')]
        podman(
            'run',
            '-d',
            '--name',
            name,
            '--network=host',
            *hardened(docker_seccomp),
            *envs,
            image,
            'aidevbot',
            'serve',
            '--grace-seconds',
            str(GRACE),
        )
        try:
            base = f'http://127.0.0.1:{port}'
            alive = container_alive(name)
            assert wait_for_url(base + '/health', alive, timeout=90).json() == {'status': 'ok'}
            assert wait_for_url(base + '/ready', alive, timeout=90).json()['ready'] is True
            doc = drive_project(tg, 4242)
            assert doc.files['document'][0].endswith('.zip')
            t0 = time.monotonic()
            podman('stop', '--time', str(GRACE + 25), name, timeout=60)  # SIGTERM, SIGKILL only after that
            took = time.monotonic() - t0
            state = json.loads(podman('container', 'inspect', name).stdout)[0]['State']
            logs = podman('logs', name).stdout + podman('logs', name).stderr
            assert state['ExitCode'] == 0, logs[-3000:]
            assert took < GRACE + 20, took
            assert tg.token not in logs and 'test-llm-key-abc' not in logs
            assert 'Traceback' not in logs, logs[-3000:]
        finally:
            podman('rm', '-f', '-v', '--time', '0', name, check=False)


# -- the compose stack, for real, through the fakes on the host -------------------------------------------------------

SECRETS = ('TELEGRAM_BOT_TOKEN', 'LLM_API_KEY', 'DATABASE_URL', 'WEBHOOK_SECRET')


def host_network_stack(compose: dict, *, pg_port: int, bot_port: int, sandbox_port: int, tg, llm) -> dict:
    """deploy/docker-compose.yml as it runs here: every service on the host's network (the fakes listen on the host's
    loopback; no container network may reach it), so hosts become 127.0.0.1 and ports free ones. Security options,
    commands, users and the secret split are kept as written."""
    c = copy.deepcopy(compose)
    c['networks'] = {}
    svcs = c['services']
    svcs.pop('set-webhook')
    for name, s in svcs.items():
        s.pop('networks', None)
        s.pop('build', None)
        s.pop('ports', None)
        s['network_mode'] = 'host'
        env = s.setdefault('environment', {})
        if name == 'postgres':
            env['PGPORT'] = str(pg_port)
        elif name == 'sandbox':
            env['SANDBOX_SERVER_PORT'] = str(sandbox_port)
            s['healthcheck']['test'][-1] = s['healthcheck']['test'][-1].replace('8100', str(sandbox_port))
        else:
            env.update(
                DATABASE_URL=f'postgresql://aidevbot:aidevbot@127.0.0.1:{pg_port}/aidevbot',
                HOST='127.0.0.1',
                PORT=str(bot_port),
                SANDBOX_URL=f'http://127.0.0.1:{sandbox_port}',
                TELEGRAM_API_BASE_URL=tg.base_url,
                TELEGRAM_FILE_BASE_URL=tg.file_base_url,
                LLM_BASE_URL=llm.base_url,
            )
    return c


def compose_cmd() -> list[str]:
    exe = shutil.which('podman-compose') or str(Path(os.sys.executable).with_name('podman-compose'))
    if not Path(exe).exists():
        msg = 'podman-compose is not installed (pip install podman-compose)'
        if os.environ.get('AIDEVBOT_REQUIRE_IMAGE'):
            pytest.fail(msg)
        pytest.skip(msg)
    return [exe]


def environ_of_pid1(container: str) -> dict[str, str]:
    "The environment of the container's PID 1, read from the host (serve, worker and sandbox-server are non-dumpable:"
    "no process in their container may read it, see test_compose_executor_holds_no_secret...)."
    pid = podman('container', 'inspect', '--format', '{{.State.Pid}}', container).stdout.strip()
    raw = Path(f'/proc/{pid}/environ').read_bytes().decode('utf-8', 'replace')
    return dict(kv.split('=', 1) for kv in raw.split('\0') if '=' in kv)


class Stack:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def container(self, service: str) -> str:
        return f'{self.project}_{service}_1'


@pytest.fixture(scope='module')
def compose_stack(image, tmp_path_factory):
    "deploy/docker-compose.yml up with podman-compose (host network), the fakes on the host; down -v afterwards."
    import yaml
    from aidevbot.testing import demo_responder

    pc = compose_cmd()
    project = f'aidevbot-it{os.getpid()}'
    with FakeTelegram() as tg, FakeLLM(demo_responder()) as llm:
        pg_port, bot_port, sb_port = free_port(), free_port(), free_port()
        stack = host_network_stack(
            yaml.safe_load((DEPLOY / 'docker-compose.yml').read_text()),
            pg_port=pg_port,
            bot_port=bot_port,
            sandbox_port=sb_port,
            tg=tg,
            llm=llm,
        )
        file = tmp_path_factory.mktemp('compose') / 'compose.yml'
        file.write_text(yaml.safe_dump(stack))
        env = {
            **podman_env(),
            'AIDEVBOT_IMAGE': image,
            'POSTGRES_IMAGE': PG_IMAGE,
            'TELEGRAM_BOT_TOKEN': tg.token,
            'LLM_API_KEY': 'compose-llm-key-xyz',
            'SANDBOX_SECCOMP': str(EXECUTOR_SECCOMP),
        }
        run = lambda *a, timeout=300: subprocess.run(
            [*pc, '-p', project, '-f', str(file), *a], env=env, capture_output=True, text=True, timeout=timeout
        )
        try:
            r = run('up', '-d', 'postgres')
            assert r.returncode == 0, r.stderr[-3000:]
            # podman 4.3 runs no healthchecks without systemd (podman-compose then skips service_healthy), and its
            # --requires cannot start a chain (bot -> migrate -> postgres): so the test orders what compose declares
            deadline = time.monotonic() + 90
            while podman('exec', f'{project}_postgres_1', 'pg_isready', '-q', check=False).returncode != 0:
                assert time.monotonic() < deadline, podman('logs', f'{project}_postgres_1', check=False).stderr
                time.sleep(1)
            r = run('up', '-d', '--no-deps', 'migrate')
            assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
            code = podman('wait', f'{project}_migrate_1', timeout=180).stdout.strip()
            assert code == '0', podman('logs', f'{project}_migrate_1').stderr[-3000:]
            r = run('up', '-d', '--no-deps', 'sandbox', 'bot', 'worker')
            assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
            wait_for_url(f'http://127.0.0.1:{sb_port}/ready', container_alive(f'{project}_sandbox_1'), timeout=120)
            wait_for_url(f'http://127.0.0.1:{bot_port}/ready', container_alive(f'{project}_bot_1'), timeout=120)
            yield Stack(project=project, tg=tg, llm=llm, bot_port=bot_port, sandbox_port=sb_port)
        finally:
            down = run('down', '-v', '-t', '5', timeout=180)
            assert down.returncode == 0, down.stderr[-2000:]


def executor_runs(container: str) -> int:
    "How many test runs the executor served (its access log)."
    logs = podman('logs', container, check=False)
    return (logs.stdout + logs.stderr).count('"POST /run HTTP/1.1" 200')


def assert_verified(doc) -> None:
    "The delivered ZIP's caption says its tests ran and passed (not `not verified`)."
    caption = doc.params.get('caption') or ''
    assert doc.files['document'][0].endswith('.zip')
    assert re.search(r'tests (\d+)/\1 passed', caption), caption


def test_compose_stack_takes_a_project_from_start_to_a_delivered_zip_through_the_executor(compose_stack):
    "The bot and the workers have SANDBOX_URL and cannot isolate code themselves: tests run, and pass, on the executor."
    doc = drive_project(compose_stack.tg, 5151, timeout=240)
    assert_verified(doc)
    assert executor_runs(compose_stack.container('sandbox')) >= 1
    for worker in ('worker_1', 'worker_2'):  # both replicas run, neither crashed
        assert container_alive(f'{compose_stack.project}_{worker}')()
    bot_env = environ_of_pid1(compose_stack.container('bot'))
    assert bot_env['TELEGRAM_BOT_TOKEN'] == compose_stack.tg.token  # the executor check below can see a secret


def test_compose_executor_holds_no_secret_no_token_and_is_ready(compose_stack):
    sb = compose_stack.container('sandbox')
    env = environ_of_pid1(sb)
    assert not set(SECRETS) & set(env), env.keys()
    assert not any(v in (compose_stack.tg.token, 'compose-llm-key-xyz', 'aidevbot:aidevbot') for v in env.values())
    assert podman('exec', sb, 'test', '-e', '/var/run/secrets/kubernetes.io', check=False).returncode != 0
    assert podman('exec', sb, 'id', '-u').stdout.strip() == UID
    assert (
        podman('exec', sb, 'cat', '/proc/1/environ', check=False).returncode != 0
    )  # non-dumpable, even to its own uid
    assert httpx.get(f'http://127.0.0.1:{compose_stack.sandbox_port}/health', timeout=5).status_code == 200
    ready = httpx.get(f'http://127.0.0.1:{compose_stack.sandbox_port}/ready', timeout=5)
    assert ready.status_code == 200, ready.text  # its sandbox probe passed under the options compose grants it


def test_compose_executor_contains_the_hostile_probe(compose_stack):
    "The executor, run with compose's exact options (uid 10001, read-only, no capability, the shipped seccomp profile)."
    sb = compose_stack.container('sandbox')
    opts = json.loads(podman('container', 'inspect', sb).stdout)[0]['HostConfig']
    assert opts['CapAdd'] in (None, []) and not opts['Privileged'] and opts['ReadonlyRootfs']
    assert_executor_contains(sb, f'http://127.0.0.1:{compose_stack.sandbox_port}')


# -- Kubernetes, as far as podman plays it ----------------------------------------------------------------------------

PLAYABLE = {
    'Deployment',
    'ConfigMap',
    'Secret',
}  # podman kube play runs these (Secret via `podman secret`); see deploy/README.md
RUNTIME_DEFAULT = 'runtime-default.json'  # Docker's default profile (derived above), as containerd's RuntimeDefault
# suffix for the played names: pods, Secret, ConfigMap and volumes of another session's run stay apart
KUBE = f'-t{os.getpid()}'


def kube_ctr(deployment: str, container: str) -> str:
    "The container podman kube play makes for a Deployment's container (its names suffixed with KUBE)."
    return f'{deployment}{KUBE}-pod-0-{container}'


def playable_manifests(
    built: list[dict], *, image: str, tg, llm, db_url: str, port: int, sandbox_port: int
) -> list[dict]:
    """`kubectl kustomize deploy/kubernetes` as podman plays it here: images swapped for the local tag, one replica,
    the host's network (the fakes are on its loopback), polling mode, the fakes' URLs in the Secret and ConfigMap, the
    executor at a free port. Seccomp as Kubernetes would apply it: podman 4.3 reads no `seccompProfile` field, only the
    annotation, so each pod's profile becomes one (Localhost: the shipped file; RuntimeDefault: Docker's default).
    Names get the suffix KUBE; podman 4.3 makes an emptyDir a named volume, shared by every pod that names it the same:
    each pod's volumes get its own name, as each Kubernetes pod gets its own emptyDir."""
    out = []
    for d in copy.deepcopy(built):
        if d['kind'] not in PLAYABLE:
            continue
        d['metadata']['name'] += KUBE
        if d['kind'] == 'ConfigMap':
            d['data'].update(
                WEBHOOK_URL='',
                HOST='127.0.0.1',
                PORT=str(port),
                LLM_BASE_URL=llm.base_url,
                TELEGRAM_API_BASE_URL=tg.base_url,
                TELEGRAM_FILE_BASE_URL=tg.file_base_url,
                SANDBOX_URL=f'http://127.0.0.1:{sandbox_port}',
            )  # no Service here: the executor's host port
        if d['kind'] == 'Secret':
            d['stringData'] = {
                'TELEGRAM_BOT_TOKEN': tg.token,
                'LLM_API_KEY': 'kube-llm-key',
                'WEBHOOK_SECRET': '',
                'DATABASE_URL': db_url,
                'ADMIN_USER_IDS': '',
            }
        if d['kind'] == 'Deployment':
            d['spec']['replicas'] = 1
            tmpl = d['spec']['template']
            pod = tmpl['spec']
            pod['hostNetwork'] = True
            own = {v['name']: f"{d['metadata']['name']}-{v['name']}" for v in pod.get('volumes', [])}
            for v in pod.get('volumes', []):
                v['name'] = own[v['name']]
            profile = pod['securityContext'].pop('seccompProfile')
            name = Path(profile['localhostProfile']).name if profile['type'] == 'Localhost' else RUNTIME_DEFAULT
            tmpl['metadata'].setdefault('annotations', {})['seccomp.security.alpha.kubernetes.io/pod'] = (
                f'localhost/{name}'
            )
            for c in pod['containers']:
                c['image'] = image
                for m in c.get('volumeMounts', []):
                    m['name'] = own[m['name']]
                for ref in c.get('envFrom', []):
                    for kind in ('configMapRef', 'secretRef'):
                        if kind in ref:
                            ref[kind]['name'] += KUBE
                named = {p['name']: p['containerPort'] for p in c.pop('ports', [])}  # host network: nothing to map
                if c['name'] == 'bot':
                    named['http'] = port
                if c['name'] == 'sandbox':
                    named['sandbox'] = sandbox_port
                    next(e for e in c['env'] if e['name'] == 'SANDBOX_SERVER_PORT')['value'] = str(sandbox_port)
                for probe in ('readinessProbe', 'livenessProbe', 'startupProbe'):
                    if probe in c:
                        c[probe]['httpGet']['port'] = named.get(
                            c[probe]['httpGet']['port'], c[probe]['httpGet']['port']
                        )
        out.append(d)
    return out


def kube_probe(container: str, probe: dict, timeout: float = 90) -> None:
    "A container's httpGet probe, sent from inside its pod as the kubelet sends it, until it answers 200."
    url = f"http://127.0.0.1:{probe['httpGet']['port']}{probe['httpGet']['path']}"
    code = ['python3', '-c', f'import urllib.request; print(urllib.request.urlopen("{url}", timeout=3).status)']
    deadline = time.monotonic() + timeout
    while (r := podman('exec', container, *code, check=False)).stdout.strip() != '200':
        assert time.monotonic() < deadline, (
            url,
            r.stderr[-2000:],
            podman('logs', container, check=False).stderr[-3000:],
        )
        time.sleep(1)


@pytest.fixture(scope='module')
def kube_pods(image, docker_seccomp, tmp_path_factory):
    "The kustomize output played with `podman kube play` (PostgreSQL and the migrate Job's command run beside it)."
    import yaml
    from aidevbot.testing import demo_responder

    kubectl = shutil.which('kubectl')
    if not kubectl:
        if os.environ.get('AIDEVBOT_REQUIRE_IMAGE'):
            pytest.fail('kubectl is not installed: it builds the kustomization')
        pytest.skip('kubectl is not installed: it builds the kustomization that podman plays')
    built = [
        d
        for d in yaml.safe_load_all(
            subprocess.run(
                [kubectl, 'kustomize', str(DEPLOY / 'kubernetes')], check=True, capture_output=True, text=True
            ).stdout
        )
        if d
    ]
    pg = f'aidevbot-kube-pg-{os.getpid()}'
    pg_port, port, sb_port = free_port(), free_port(), free_port()
    db_url = f'postgresql://aidevbot:kube@127.0.0.1:{pg_port}/aidevbot'
    tmp = tmp_path_factory.mktemp('kube')
    file, profiles = (
        tmp / 'kube.yaml',
        tmp / 'seccomp',
    )  # the kubelet's seccomp root, as deploy/README.md says to install it
    profiles.mkdir()
    shutil.copy(EXECUTOR_SECCOMP, profiles / EXECUTOR_SECCOMP.name)
    shutil.copy(docker_seccomp, profiles / RUNTIME_DEFAULT)
    with FakeTelegram() as tg, FakeLLM(demo_responder()) as llm:
        try:
            podman(
                'run',
                '-d',
                '--name',
                pg,
                '--network=host',
                '-e',
                'POSTGRES_USER=aidevbot',
                '-e',
                'POSTGRES_PASSWORD=kube',
                '-e',
                'POSTGRES_DB=aidevbot',
                '-e',
                f'PGPORT={pg_port}',
                PG_IMAGE,
            )
            deadline = time.monotonic() + 60
            while podman('exec', pg, 'pg_isready', '-q', check=False).returncode != 0:
                assert time.monotonic() < deadline
                time.sleep(1)
            # the migrate Job, run as podman runs one-off containers (kube play does not play Jobs)
            podman(
                'run',
                '--rm',
                '--network=host',
                *hardened(),
                '-e',
                f'DATABASE_URL={db_url}',
                image,
                'aidevbot',
                'migrate',
            )
            played = playable_manifests(
                built, image=image, tg=tg, llm=llm, db_url=db_url, port=port, sandbox_port=sb_port
            )
            # podman 4.3 reads a Secret for envFrom from its own secret store: a JSON map of base64 values
            secret = next(d for d in played if d['kind'] == 'Secret')
            data = {k: base64.b64encode(v.encode()).decode() for k, v in secret['stringData'].items()}
            podman('secret', 'rm', secret['metadata']['name'], check=False)
            podman('secret', 'create', secret['metadata']['name'], '-', input=json.dumps(data))
            file.write_text(yaml.safe_dump_all([d for d in played if d['kind'] != 'Secret']))
            podman('kube', 'play', '--seccomp-profile-root', str(profiles), str(file), timeout=180)
            yield Stack(tg=tg, llm=llm, played=played, port=port, sandbox_port=sb_port)
        finally:
            if file.exists():
                podman('kube', 'down', str(file), check=False, timeout=120)
            for name in ('aidevbot', 'aidevbot-worker', 'aidevbot-sandbox'):
                podman('pod', 'rm', '-f', f'{name}{KUBE}-pod-0', check=False)
                podman('volume', 'rm', '-f', f'{name}{KUBE}-tmp', check=False)
            podman('secret', 'rm', f'aidevbot{KUBE}', check=False)
            podman('rm', '-f', '-v', '--time', '0', pg, check=False)


def test_kube_play_starts_bot_worker_and_executor_pods_and_their_probes_report_ready(kube_pods):
    pods = {p['Name'] for p in json.loads(podman('pod', 'ps', '--format', 'json').stdout)}
    assert {f'{n}{KUBE}-pod-0' for n in ('aidevbot', 'aidevbot-worker', 'aidevbot-sandbox')} <= pods, pods
    deployments = {d['metadata']['name']: d for d in kube_pods.played if d['kind'] == 'Deployment'}
    for dep, ctr in (('aidevbot', 'bot'), ('aidevbot-sandbox', 'sandbox')):
        c = next(c for c in deployments[dep + KUBE]['spec']['template']['spec']['containers'] if c['name'] == ctr)
        kube_probe(kube_ctr(dep, ctr), c['readinessProbe'])  # the executor's: /ready, its sandbox probe passed
    # the profiles took: bot and worker (RuntimeDefault) may not make namespaces,
    # the executor (its Localhost profile) may
    userns = ['unshare', '--user', '--map-root-user', 'true']
    for ctr in (kube_ctr('aidevbot', 'bot'), kube_ctr('aidevbot-worker', 'worker')):
        assert 'Operation not permitted' in podman('exec', ctr, *userns, check=False).stderr, ctr
    assert podman('exec', kube_ctr('aidevbot-sandbox', 'sandbox'), *userns, check=False).returncode == 0
    worker = json.loads(podman('container', 'inspect', kube_ctr('aidevbot-worker', 'worker')).stdout)[0]
    assert worker['State']['Running'], podman('logs', kube_ctr('aidevbot-worker', 'worker')).stderr[-3000:]
    assert worker['Config']['User'] == '10001' or worker['Config']['User'].startswith('10001')
    # the bot pod and the worker pod finish a project together, its tests run on the executor pod
    doc = drive_project(kube_pods.tg, 6161, timeout=240)
    assert_verified(doc)
    assert executor_runs(kube_ctr('aidevbot-sandbox', 'sandbox')) >= 1


def test_kube_executor_pod_holds_no_secret_and_contains_the_hostile_probe(kube_pods):
    "The executor with its Deployment's securityContext as podman translates it, and the shipped Localhost profile."
    ctr = kube_ctr('aidevbot-sandbox', 'sandbox')
    env = environ_of_pid1(ctr)
    assert not set(SECRETS) & set(env) and 'kube-llm-key' not in json.dumps(env), env.keys()
    info = json.loads(podman('container', 'inspect', ctr).stdout)[0]
    assert info['Config']['User'].startswith(UID) and info['HostConfig']['ReadonlyRootfs'], info['Config']['User']
    assert not info['HostConfig']['Privileged'] and info['HostConfig']['CapAdd'] in (None, [])
    assert info['EffectiveCaps'] in (None, []), info['EffectiveCaps']
    mounts = {m['Destination']: m.get('Name') for m in info['Mounts']}
    assert mounts['/tmp'] == f'aidevbot-sandbox{KUBE}-tmp', mounts  # its own emptyDir, not the bot's
    assert_executor_contains(ctr, f'http://127.0.0.1:{kube_pods.sandbox_port}')
