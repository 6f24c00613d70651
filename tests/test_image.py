"""The shipped image, built and run for real with podman: as uid 10001, read-only, under Docker's default seccomp profile,
`serve` against the loopback fakes on the host, and the compose stack from /start to a delivered ZIP.

Skipped when no container runtime is installed; required under CI (AIDEVBOT_REQUIRE_IMAGE=1, set by .ci/run).
The image is built once per test session by deploy/local-image.sh (layers cached, the base made once per machine).
"""
import base64
import copy
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from aidevbot.testing import FakeLLM, FakeTelegram, free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / 'deploy'
IMAGE = os.environ.get('AIDEVBOT_IMAGE', 'localhost/aidevbot:dev')
PG_IMAGE = os.environ.get('AIDEVBOT_PG_IMAGE', 'localhost/aidevbot-postgres:dev')
PODMAN_SECCOMP = Path('/usr/share/containers/seccomp.json')
HELP = ('podman is not installed: the image tests need it (apt-get install podman runc debootstrap uidmap bubblewrap); '
        'set AIDEVBOT_REQUIRE_IMAGE=1 to make this a failure')
GRACE = 5
UID = '10001'


def _require_podman() -> str:
    exe = shutil.which('podman')
    if not exe:
        if os.environ.get('AIDEVBOT_REQUIRE_IMAGE'): pytest.fail(HELP)
        pytest.skip(HELP)
    return exe


def podman_env() -> dict:
    env = dict(os.environ)
    if os.geteuid() == 0: env.setdefault('CONTAINERS_CONF', str(DEPLOY / 'local' / 'containers.conf'))
    return env


def podman(*args, timeout: float = 300, check: bool = True, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(['podman', *args], capture_output=True, text=True, timeout=timeout, env=podman_env(), **kw)
    if check: assert r.returncode == 0, f'podman {" ".join(args)}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
    return r


@pytest.fixture(scope='session')
def image() -> str:
    "Build (or refresh from cached layers) the aidevbot and PostgreSQL images once per session."
    _require_podman()
    r = subprocess.run([str(DEPLOY / 'local-image.sh'), '--postgres', IMAGE], capture_output=True, text=True,
                       timeout=1500, env=podman_env())
    assert r.returncode == 0, r.stderr[-5000:]
    return IMAGE


# -- Docker's default seccomp profile, derived from podman's -------------------------------------------------------

# Podman's profile allows these unconditionally; Docker's (moby) and containerd's RuntimeDefault allow them only with
# CAP_SYS_ADMIN, and clone only without namespace flags (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET).
NS_CALLS = {'unshare', 'setns', 'mount', 'umount', 'umount2', 'pivot_root', 'fsconfig', 'fsmount', 'fsopen', 'fspick',
            'move_mount', 'open_tree', 'mount_setattr', 'clone', 'clone3'}
CLONE_NS_FLAGS = 0x7E020000
ENOSYS, EPERM = 38, 1


def docker_default_profile(podman_profile: dict) -> dict:
    "Podman's default seccomp profile with namespace and mount calls gated on CAP_SYS_ADMIN, as in Docker's default."
    p = copy.deepcopy(podman_profile)
    p['defaultErrnoRet'], p['defaultErrno'] = EPERM, 'EPERM'  # podman answers ENOSYS to what it does not list; Docker EPERM
    for rule in p['syscalls']:
        if rule['action'] == 'SCMP_ACT_ALLOW' and not (rule.get('includes') or {}).get('caps'):
            rule['names'] = [n for n in rule['names'] if n not in NS_CALLS]
    not_admin = {'caps': ['CAP_SYS_ADMIN']}
    masked = lambda i: [{'index': i, 'value': CLONE_NS_FLAGS, 'valueTwo': 0, 'op': 'SCMP_CMP_MASKED_EQ'}]
    p['syscalls'] += [
        {'names': sorted(NS_CALLS), 'action': 'SCMP_ACT_ALLOW', 'includes': not_admin},
        {'names': ['clone'], 'action': 'SCMP_ACT_ALLOW', 'args': masked(0), 'excludes': {'caps': ['CAP_SYS_ADMIN'], 'arches': ['s390', 's390x']}},
        {'names': ['clone'], 'action': 'SCMP_ACT_ALLOW', 'args': masked(1), 'includes': {'arches': ['s390', 's390x']}, 'excludes': not_admin},
        # glibc falls back to clone when clone3 says ENOSYS (its flags live in memory seccomp cannot read)
        {'names': ['clone3'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': ENOSYS, 'excludes': not_admin},
    ]
    return p


@pytest.fixture(scope='session')
def docker_seccomp(tmp_path_factory) -> str:
    if not PODMAN_SECCOMP.exists(): pytest.fail(f'{PODMAN_SECCOMP} is missing (podman installs it)')
    path = tmp_path_factory.mktemp('seccomp') / 'docker-default.json'
    path.write_text(json.dumps(docker_default_profile(json.loads(PODMAN_SECCOMP.read_text())), indent=1))
    return str(path)


def hardened(seccomp: str|None = None) -> list[str]:
    "The options the shipped manifests grant the bot: uid 10001, read-only root, no capabilities, no new privileges."
    opts = ['--user', f'{UID}:{UID}', '--read-only', '--tmpfs', '/tmp:rw,size=256m',
            '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges']
    return opts + (['--security-opt', f'seccomp={seccomp}'] if seccomp else [])


def test_derived_docker_profile_refuses_unshare_that_podmans_default_allows(image, docker_seccomp):
    probe = ['unshare', '--user', '--map-root-user', 'true']
    podmans = podman('run', '--rm', *hardened(), image, *probe, check=False)
    dockers = podman('run', '--rm', *hardened(docker_seccomp), image, *probe, check=False)
    assert podmans.returncode == 0, podmans.stderr  # this host allows user namespaces, podman's profile too
    assert dockers.returncode != 0 and 'Operation not permitted' in dockers.stderr, dockers
    threads = podman('run', '--rm', *hardened(docker_seccomp), image, 'python3', '-c',
                     'import threading, subprocess; t = threading.Thread(target=print); t.start(); t.join(); '
                     'subprocess.run(["true"], check=True)', check=False)
    assert threads.returncode == 0, threads.stderr  # plain clone (threads, fork) still works under it


def test_image_runs_as_uid_10001_and_carries_bubblewrap(image):
    out = podman('run', '--rm', '--read-only', image, 'sh', '-c', 'id -u; id -g; command -v bwrap; bwrap --version').stdout.split()
    assert out[:3] == [UID, UID, '/usr/bin/bwrap'], out
    cmd = json.loads(podman('image', 'inspect', image).stdout)[0]['Config']
    assert cmd['User'] == f'{UID}:{UID}' and cmd['Cmd'] == ['aidevbot', 'serve']


def test_help_and_demo_run_read_only_as_uid_10001_under_docker_seccomp(image, docker_seccomp):
    r = podman('run', '--rm', *hardened(docker_seccomp), image, 'aidevbot', '--help')
    assert 'serve' in r.stdout and 'demo' in r.stdout
    r = podman('run', '--rm', *hardened(docker_seccomp), '-e', 'HOME=/tmp', image,
               'sh', '-c', 'cd /tmp && aidevbot demo --out /tmp/demo && ls /tmp/demo', timeout=240, check=False)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert 'passed' in r.stdout and '.zip' in r.stdout, r.stdout[-3000:]


# -- `aidevbot serve` in the container, against the fakes on the host ------------------------------------------------

def wait_ok(url: str, alive, timeout: float = 90) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert alive(), 'the container stopped'
        try:
            r = httpx.get(url, timeout=3)
            if r.status_code == 200: return r
        except httpx.TransportError: pass
        time.sleep(0.3)
    raise TimeoutError(url)


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
    "A check for wait_ok: raises with the container's logs once it has stopped."
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
        env = {'TELEGRAM_BOT_TOKEN': tg.token, 'TELEGRAM_API_BASE_URL': tg.base_url, 'TELEGRAM_FILE_BASE_URL': tg.file_base_url,
               'LLM_API_KEY': 'test-llm-key-abc', 'LLM_BASE_URL': llm.base_url, 'HOST': '127.0.0.1', 'PORT': str(port),
               'HOME': '/tmp', 'DATABASE_URL': 'sqlite:////tmp/aidevbot.db'}
        envs = [a for k, v in env.items() for a in ('-e', f'{k}={v}')]
        podman('run', '-d', '--name', name, '--network=host', *hardened(docker_seccomp), *envs, image,
               'aidevbot', 'serve', '--grace-seconds', str(GRACE))
        try:
            base = f'http://127.0.0.1:{port}'
            assert wait_ok(base + '/health', container_alive(name)).json() == {'status': 'ok'}
            assert wait_ok(base + '/ready', container_alive(name)).json()['ready'] is True
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


def has_sandbox_server(image: str) -> bool:
    return 'sandbox-server' in podman('run', '--rm', image, 'aidevbot', '--help').stdout


def host_network_stack(compose: dict, *, pg_port: int, bot_port: int, sandbox_port: int, tg, llm, sandbox: bool) -> dict:
    """deploy/docker-compose.yml as it runs here: every service on the host's network (the fakes listen on the host's
    loopback; no container network may reach it), so hosts become 127.0.0.1 and ports free ones. Security options,
    commands, users and the secret split are kept as written."""
    c = copy.deepcopy(compose)
    c['networks'] = {}
    svcs = c['services']
    svcs.pop('set-webhook')
    if not sandbox:
        svcs.pop('sandbox')
    for name, s in svcs.items():
        s.pop('networks', None)
        s.pop('build', None)
        s.pop('ports', None)
        s['network_mode'] = 'host'
        if not sandbox: s.get('depends_on', {}).pop('sandbox', None)
        env = s.setdefault('environment', {})
        if name == 'postgres':
            env['PGPORT'] = str(pg_port)
        elif name == 'sandbox':
            env['SANDBOX_SERVER_PORT'] = str(sandbox_port)
            s['healthcheck']['test'][-1] = s['healthcheck']['test'][-1].replace('8100', str(sandbox_port))
        else:
            env.update(DATABASE_URL=f'postgresql://aidevbot:aidevbot@127.0.0.1:{pg_port}/aidevbot', HOST='127.0.0.1',
                       PORT=str(bot_port), SANDBOX_URL=f'http://127.0.0.1:{sandbox_port}', TELEGRAM_API_BASE_URL=tg.base_url,
                       TELEGRAM_FILE_BASE_URL=tg.file_base_url, LLM_BASE_URL=llm.base_url)
    return c


def compose_cmd() -> list[str]:
    exe = shutil.which('podman-compose') or str(Path(os.sys.executable).with_name('podman-compose'))
    if not Path(exe).exists():
        msg = 'podman-compose is not installed (pip install podman-compose)'
        if os.environ.get('AIDEVBOT_REQUIRE_IMAGE'): pytest.fail(msg)
        pytest.skip(msg)
    return [exe]


def environ_of_pid1(container: str) -> dict[str, str]:
    raw = podman('exec', container, 'cat', '/proc/1/environ').stdout
    return dict(kv.split('=', 1) for kv in raw.split('\0') if '=' in kv)


class Stack:
    def __init__(self, **kw): self.__dict__.update(kw)
    def container(self, service: str) -> str: return f'{self.project}_{service}_1'


@pytest.fixture(scope='module')
def compose_stack(image, tmp_path_factory):
    "deploy/docker-compose.yml up with podman-compose (host network), the fakes on the host; down -v afterwards."
    import yaml
    from aidevbot.testing import demo_responder
    pc = compose_cmd()
    project = f'aidevbot-it{os.getpid()}'
    sandbox = has_sandbox_server(image)
    with FakeTelegram() as tg, FakeLLM(demo_responder()) as llm:
        pg_port, bot_port, sb_port = free_port(), free_port(), free_port()
        stack = host_network_stack(yaml.safe_load((DEPLOY / 'docker-compose.yml').read_text()), pg_port=pg_port,
                                   bot_port=bot_port, sandbox_port=sb_port, tg=tg, llm=llm, sandbox=sandbox)
        file = tmp_path_factory.mktemp('compose') / 'compose.yml'
        file.write_text(yaml.safe_dump(stack))
        env = {**podman_env(), 'AIDEVBOT_IMAGE': image, 'POSTGRES_IMAGE': PG_IMAGE, 'TELEGRAM_BOT_TOKEN': tg.token,
               'LLM_API_KEY': 'compose-llm-key-xyz', 'SANDBOX_SECCOMP': str(PODMAN_SECCOMP)}
        run = lambda *a, timeout=300: subprocess.run([*pc, '-p', project, '-f', str(file), *a], env=env, capture_output=True,
                                                     text=True, timeout=timeout)
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
            r = run('up', '-d', '--no-deps', *[s for s in ('sandbox', 'bot', 'worker') if s in stack['services']])
            assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
            wait_ok(f'http://127.0.0.1:{bot_port}/ready', container_alive(f'{project}_bot_1'), timeout=120)
            yield Stack(project=project, tg=tg, llm=llm, bot_port=bot_port, sandbox_port=sb_port, sandbox=sandbox)
        finally:
            down = run('down', '-v', '-t', '5', timeout=180)
            assert down.returncode == 0, down.stderr[-2000:]


def test_compose_stack_takes_a_project_from_start_to_a_delivered_zip(compose_stack):
    doc = drive_project(compose_stack.tg, 5151, timeout=240)
    assert doc.files['document'][0].endswith('.zip')
    for worker in ('worker_1', 'worker_2'):  # both replicas run, neither crashed
        assert container_alive(f'{compose_stack.project}_{worker}')()
    bot_env = environ_of_pid1(compose_stack.container('bot'))
    assert bot_env['TELEGRAM_BOT_TOKEN'] == compose_stack.tg.token  # the executor check below can see a secret


def test_compose_executor_holds_no_secret_no_token_and_answers_health(compose_stack):
    if not compose_stack.sandbox:
        pytest.skip('the stack ran without its executor: this image has no `aidevbot sandbox-server` yet')
    sb = compose_stack.container('sandbox')
    env = environ_of_pid1(sb)
    assert not set(SECRETS) & set(env), env.keys()
    assert not any(v in (compose_stack.tg.token, 'compose-llm-key-xyz', 'aidevbot:aidevbot') for v in env.values())
    assert podman('exec', sb, 'test', '-e', '/var/run/secrets/kubernetes.io', check=False).returncode != 0
    assert podman('exec', sb, 'id', '-u').stdout.strip() == UID
    assert httpx.get(f'http://127.0.0.1:{compose_stack.sandbox_port}/health', timeout=5).status_code == 200


# -- Kubernetes, as far as podman plays it ----------------------------------------------------------------------------

PLAYABLE = {'Deployment', 'ConfigMap', 'Secret'}  # podman kube play runs these (Secret via `podman secret`); see deploy/README.md


def playable_manifests(built: list[dict], *, image: str, tg, llm, db_url: str, port: int, sandbox: bool) -> list[dict]:
    """`kubectl kustomize deploy/kubernetes` as podman plays it here: images swapped for the local tag, one replica,
    the host's network (the fakes are on its loopback), polling mode, the fakes' URLs in the Secret and ConfigMap."""
    out = []
    for d in copy.deepcopy(built):
        if d['kind'] not in PLAYABLE: continue
        if d['kind'] == 'ConfigMap':
            d['data'].update(WEBHOOK_URL='', HOST='127.0.0.1', PORT=str(port), LLM_BASE_URL=llm.base_url,
                             TELEGRAM_API_BASE_URL=tg.base_url, TELEGRAM_FILE_BASE_URL=tg.file_base_url)
        if d['kind'] == 'Secret':
            d['stringData'] = {'TELEGRAM_BOT_TOKEN': tg.token, 'LLM_API_KEY': 'kube-llm-key', 'WEBHOOK_SECRET': '',
                               'DATABASE_URL': db_url, 'ADMIN_USER_IDS': ''}
        if d['kind'] == 'Deployment':
            if d['metadata']['name'] == 'aidevbot-sandbox' and not sandbox: continue
            d['spec']['replicas'] = 1
            pod = d['spec']['template']['spec']
            pod['hostNetwork'] = True
            pod['securityContext'].pop('seccompProfile', None)  # podman applies its default profile (see README)
            for c in pod['containers']:
                c['image'] = image
                named = {p['name']: p['containerPort'] for p in c.pop('ports', [])}  # host network: nothing to map
                if c['name'] == 'bot': named['http'] = port
                for probe in ('readinessProbe', 'livenessProbe', 'startupProbe'):
                    if probe in c: c[probe]['httpGet']['port'] = named.get(c[probe]['httpGet']['port'], c[probe]['httpGet']['port'])
        out.append(d)
    return out


def test_kube_play_starts_bot_worker_and_executor_pods_and_their_probes_report_ready(image, tmp_path):
    import yaml
    from aidevbot.testing import demo_responder
    kubectl = shutil.which('kubectl')
    if not kubectl: pytest.skip('kubectl is not installed: it builds the kustomization that podman plays')
    built = [d for d in yaml.safe_load_all(subprocess.run([kubectl, 'kustomize', str(DEPLOY / 'kubernetes')], check=True,
                                                          capture_output=True, text=True).stdout) if d]
    sandbox = has_sandbox_server(image)
    pg = f'aidevbot-kube-pg-{os.getpid()}'
    pg_port, port = free_port(), free_port()
    db_url = f'postgresql://aidevbot:kube@127.0.0.1:{pg_port}/aidevbot'
    file = tmp_path / 'kube.yaml'
    with FakeTelegram() as tg, FakeLLM(demo_responder()) as llm:
        try:
            podman('run', '-d', '--name', pg, '--network=host', '-e', 'POSTGRES_USER=aidevbot', '-e', 'POSTGRES_PASSWORD=kube',
                   '-e', 'POSTGRES_DB=aidevbot', '-e', f'PGPORT={pg_port}', PG_IMAGE)
            deadline = time.monotonic() + 60
            while podman('exec', pg, 'pg_isready', '-q', check=False).returncode != 0:
                assert time.monotonic() < deadline
                time.sleep(1)
            # the migrate Job, run as podman runs one-off containers (kube play does not play Jobs)
            podman('run', '--rm', '--network=host', *hardened(), '-e', f'DATABASE_URL={db_url}', image, 'aidevbot', 'migrate')
            played = playable_manifests(built, image=image, tg=tg, llm=llm, db_url=db_url, port=port, sandbox=sandbox)
            # podman 4.3 reads a Secret for envFrom from its own secret store: a JSON map of base64 values
            secret = next(d for d in played if d['kind'] == 'Secret')
            data = {k: base64.b64encode(v.encode()).decode() for k, v in secret['stringData'].items()}
            podman('secret', 'rm', secret['metadata']['name'], check=False)
            podman('secret', 'create', secret['metadata']['name'], '-', input=json.dumps(data))
            file.write_text(yaml.safe_dump_all([d for d in played if d['kind'] != 'Secret']))
            podman('kube', 'play', str(file), timeout=180)
            pods = {p['Name']: p for p in json.loads(podman('pod', 'ps', '--format', 'json').stdout)}
            want = {'aidevbot-pod-0', 'aidevbot-worker-pod-0'} | ({'aidevbot-sandbox-pod-0'} if sandbox else set())
            assert want <= set(pods), pods.keys()
            probes = {'aidevbot-pod-0-bot': (port, '/ready'), 'aidevbot-sandbox-pod-0-sandbox': (8100, '/health')}
            for ctr, (p, path) in probes.items():  # the readiness probe, from inside the pod as the kubelet sends it
                if ctr.startswith('aidevbot-sandbox') and not sandbox: continue
                probe = ['python3', '-c', f'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:{p}{path}", timeout=3).status)']
                deadline = time.monotonic() + 90
                while (r := podman('exec', ctr, *probe, check=False)).stdout.strip() != '200':
                    assert time.monotonic() < deadline, (r.stderr[-2000:], podman('logs', ctr, check=False).stderr[-3000:])
                    time.sleep(1)
            worker = json.loads(podman('container', 'inspect', 'aidevbot-worker-pod-0-worker').stdout)[0]
            assert worker['State']['Running'], podman('logs', 'aidevbot-worker-pod-0-worker').stderr[-3000:]
            assert worker['Config']['User'] == '10001' or worker['Config']['User'].startswith('10001')
            doc = drive_project(tg, 6161, timeout=240)  # the bot pod and the worker pod finish a project together
            assert doc.files['document'][0].endswith('.zip')
            # without `aidevbot sandbox-server` in the image the executor pod is left out (test_pending_commands_exist)
        finally:
            if file.exists(): podman('kube', 'down', str(file), check=False, timeout=120)
            for name in ('aidevbot-pod-0', 'aidevbot-worker-pod-0', 'aidevbot-sandbox-pod-0'):
                podman('pod', 'rm', '-f', name, check=False)
            podman('secret', 'rm', 'aidevbot', check=False)
            podman('rm', '-f', '-v', '--time', '0', pg, check=False)
