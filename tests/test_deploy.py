"""deploy/: manifests validate offline, kustomize builds, and they point at what the code really serves and runs."""

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from aidevbot.app import WEBHOOK_PATH, make_app
from aidevbot.cli import build_parser
from aidevbot.config import Settings

DEPLOY = Path(__file__).resolve().parent.parent / 'deploy'
K8S = DEPLOY / 'kubernetes'
MANIFESTS = sorted(p for p in K8S.glob('*.yaml') if p.name != 'kustomization.yaml')


def docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def all_resources() -> list[dict]:
    return [d for p in MANIFESTS for d in docs(p)]


def by_kind(kind: str) -> list[dict]:
    return [d for d in all_resources() if d['kind'] == kind]


def deployment(name: str) -> dict:
    return next(d for d in by_kind('Deployment') if d['metadata']['name'] == name)


def app_routes() -> set[tuple[str, str]]:
    app = make_app(Settings())
    return {(m, r.path) for r in app.routes for m in getattr(r, 'methods', ())}


@pytest.mark.parametrize('path', MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_strictly(path):
    for doc in docs(path):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)  # raises on any error


def test_kustomization_lists_every_manifest():
    listed = set(yaml.safe_load((K8S / 'kustomization.yaml').read_text())['resources'])
    assert listed == {p.name for p in MANIFESTS}


def test_kustomize_builds():
    kubectl = shutil.which('kubectl')
    if not kubectl:
        pytest.skip('kubectl is not installed: `kubectl kustomize deploy/kubernetes` not checked')
    out = subprocess.run([kubectl, 'kustomize', str(K8S)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    built = [d for d in yaml.safe_load_all(out.stdout) if d]
    kinds = sorted(d['kind'] for d in built)
    for kind in (
        'Namespace',
        'ConfigMap',
        'Secret',
        'Deployment',
        'Service',
        'Ingress',
        'Job',
        'PodDisruptionBudget',
        'HorizontalPodAutoscaler',
        'NetworkPolicy',
    ):
        assert kind in kinds, kind
    assert kinds.count('Deployment') == 3
    for d in built:
        assert d['metadata'].get('namespace', 'aidevbot') == 'aidevbot'
        kubernetes_validate.validate(d, kubernetes_validate.latest_version(), strict=True)
    images = {
        c['image']
        for d in built
        if d['kind'] in ('Deployment', 'Job')
        for c in d['spec']['template']['spec']['containers']
    }
    assert images == {'ghcr.io/aidevbot/aidevbot:0.1.0'}


def test_probes_hit_routes_the_app_serves():
    routes = app_routes()
    assert ('GET', '/health') in routes and ('GET', '/ready') in routes and ('POST', WEBHOOK_PATH) in routes
    port = int(docs(K8S / 'configmap.yaml')[0]['data'].get('PORT', Settings().port))
    assert port == Settings().port
    pod = deployment('aidevbot')['spec']['template']['spec']
    c = pod['containers'][0]
    ports = {p['name']: p['containerPort'] for p in c['ports']}
    probes = {k: c[k]['httpGet'] for k in ('readinessProbe', 'livenessProbe', 'startupProbe')}
    assert probes['readinessProbe']['path'] == '/ready'
    assert probes['livenessProbe']['path'] == '/health'
    for probe in probes.values():
        assert ('GET', probe['path']) in routes
        assert ports.get(probe['port'], probe['port']) == port
    ann = deployment('aidevbot')['spec']['template']['metadata']['annotations']
    assert ('GET', ann['prometheus.io/path']) in routes and int(ann['prometheus.io/port']) == port


def test_ingress_and_service_route_the_webhook_to_the_bot():
    svc = next(s for s in by_kind('Service') if s['metadata']['name'] == 'aidevbot')
    assert svc['spec']['selector'] == deployment('aidevbot')['spec']['selector']['matchLabels']
    target = svc['spec']['ports'][0]['targetPort']
    assert target in {p['name'] for p in deployment('aidevbot')['spec']['template']['spec']['containers'][0]['ports']}
    paths = [p for r in by_kind('Ingress')[0]['spec']['rules'] for p in r['http']['paths']]
    assert [p['path'] for p in paths] == [WEBHOOK_PATH]
    assert paths[0]['backend']['service']['name'] == svc['metadata']['name']
    cm = docs(K8S / 'configmap.yaml')[0]['data']
    assert cm['WEBHOOK_URL'].endswith(WEBHOOK_PATH)
    assert cm['JOB_BACKEND'] == 'procrastinate'  # several replicas: webhook + shared queue


def test_bot_deployment_is_hardened_and_scaled():
    d = deployment('aidevbot')
    assert d['spec']['replicas'] >= 2
    pod = d['spec']['template']['spec']
    assert pod['securityContext']['runAsNonRoot'] is True and pod['securityContext']['runAsUser'] != 0
    c = pod['containers'][0]
    assert c['securityContext']['readOnlyRootFilesystem'] is True
    assert c['resources']['requests'] and c['resources']['limits']
    mounts = {m['mountPath']: m['name'] for m in c['volumeMounts']}
    assert 'emptyDir' in next(v for v in pod['volumes'] if v['name'] == mounts['/tmp'])
    grace = float(c['args'][c['args'].index('--grace-seconds') + 1])
    assert pod['terminationGracePeriodSeconds'] > grace
    hpa = next(h for h in by_kind('HorizontalPodAutoscaler') if h['spec']['scaleTargetRef']['name'] == 'aidevbot')
    assert hpa['spec']['minReplicas'] >= 2
    pdb = next(p for p in by_kind('PodDisruptionBudget') if p['metadata']['name'] == 'aidevbot')
    assert pdb['spec']['selector']['matchLabels'] == d['spec']['selector']['matchLabels']


def test_secret_example_holds_no_real_secret():
    s = docs(K8S / 'secret.example.yaml')[0]['stringData']
    assert {'TELEGRAM_BOT_TOKEN', 'LLM_API_KEY', 'WEBHOOK_SECRET', 'DATABASE_URL'} <= set(s)
    for key in ('TELEGRAM_BOT_TOKEN', 'LLM_API_KEY', 'WEBHOOK_SECRET', 'DATABASE_URL'):
        assert 'REPLACE' in s[key], key


def aidevbot_commands() -> list[tuple[str, list[str]]]:
    "Every `aidevbot ...` command line in the Dockerfile, compose file and manifests."
    found = []
    for d in all_resources():
        if d['kind'] in ('Deployment', 'Job'):
            for c in d['spec']['template']['spec']['containers']:
                found.append((d['metadata']['name'], c['args']))
    for name, svc in yaml.safe_load((DEPLOY / 'docker-compose.yml').read_text())['services'].items():
        if 'command' in svc:
            found.append((f'compose:{name}', svc['command']))
    cmd = re.search(r'^CMD\s+(\[.*\])', (DEPLOY / 'Dockerfile').read_text(), re.M)
    found.append(('Dockerfile CMD', yaml.safe_load(cmd.group(1))))
    return [(w, a) for w, a in found if a and a[0] == 'aidevbot']


def cli_commands() -> set[str]:
    return set(next(a for a in build_parser()._actions if a.dest == 'command').choices)


def test_every_command_in_deploy_is_a_real_cli_command():
    cmds = aidevbot_commands()
    seen = {argv[1] for _, argv in cmds}
    assert {'serve', 'worker', 'migrate', 'set-webhook', 'sandbox-server'} <= seen <= cli_commands()
    parser = build_parser()
    for where, argv in cmds:
        parser.parse_args(argv[1:])  # an unknown subcommand or option exits with status 2
    assert ('Dockerfile CMD', ['aidevbot', 'serve']) in cmds


def test_dockerfile_builds_a_wheel_and_runs_unprivileged():
    text = (DEPLOY / 'Dockerfile').read_text()
    assert len(re.findall(r'^FROM ', text, re.M)) >= 2
    assert 'pip wheel' in text and 'nbs' not in re.findall(r'^COPY.*$', text, re.M).__str__()
    user = re.findall(r'^USER\s+(\S+)', text, re.M)
    assert user and not user[-1].startswith(('root', '0'))
    hc = re.search(r'^HEALTHCHECK.*?CMD (.*)$', text, re.M | re.S)
    assert hc and '/health' in hc.group(1)
    env = ' '.join(re.findall(r'^ENV (.*?)(?<!\\)$', text, re.M | re.S))
    assert not re.search(r'\b(DATABASE_URL|TELEGRAM_BOT_TOKEN|LLM_API_KEY|WEBHOOK_SECRET)=', env), (
        env
    )  # the executor starts from this image
    ignore = (DEPLOY / 'Dockerfile.dockerignore').read_text()
    assert '!aidevbot/**' in ignore and '!migrations/**' in ignore


def test_shipped_executor_seccomp_profile_allows_namespaces_and_refuses_by_default():
    "What bubblewrap needs (unshare, clone with namespace flags, mount, pivot_root), no CAP_SYS_ADMIN; else defaults."
    p = json.loads((DEPLOY / 'seccomp' / 'profiles' / 'aidevbot-sandbox.json').read_text())
    assert p['defaultAction'] == 'SCMP_ACT_ERRNO'
    free = {
        n
        for r in p['syscalls']
        if r['action'] == 'SCMP_ACT_ALLOW' and not r.get('args') and not (r.get('includes') or {}).get('caps')
        for n in r['names']
    }
    assert {'unshare', 'clone', 'mount', 'umount2', 'pivot_root'} <= free
    assert not {'bpf', 'kexec_load', 'init_module', 'open_by_handle_at', 'ptrace', 'keyctl', 'add_key', 'setns'} & free


def test_compose_runs_postgres_migrate_bot_and_worker():
    compose = yaml.safe_load((DEPLOY / 'docker-compose.yml').read_text())
    svcs = compose['services']
    assert {'postgres', 'migrate', 'bot', 'worker'} <= set(svcs)
    assert svcs['bot']['depends_on']['migrate']['condition'] == 'service_completed_successfully'
    assert svcs['migrate']['depends_on']['postgres']['condition'] == 'service_healthy'
    assert svcs['worker']['environment']['JOB_BACKEND'] == 'procrastinate'
    assert svcs['bot']['environment']['DATABASE_URL'].startswith('postgresql://')
    assert shlex.join(svcs['migrate']['command']) == 'aidevbot migrate'


def test_compose_executor_is_apart_without_secrets_and_metrics_are_not_published():
    compose = yaml.safe_load((DEPLOY / 'docker-compose.yml').read_text())
    svcs = compose['services']
    sb = svcs['sandbox']
    assert sb['command'] == ['aidevbot', 'sandbox-server']
    assert not {'TELEGRAM_BOT_TOKEN', 'LLM_API_KEY', 'DATABASE_URL', 'WEBHOOK_SECRET'} & set(sb.get('environment', {}))
    assert 'env_file' not in sb and 'volumes' not in sb
    assert sb['networks'] == ['sandbox'] and compose['networks']['sandbox']['internal'] is True  # no egress
    assert sb['user'] == '10001:10001' and sb['read_only'] is True and sb['cap_drop'] == ['ALL']
    assert 'no-new-privileges:true' in sb['security_opt'] and 'cap_add' not in sb and not sb.get('privileged')
    for name in ('bot', 'worker'):
        assert svcs[name]['environment']['SANDBOX_URL'] == 'http://sandbox:8100'
        assert 'sandbox' in svcs[name]['networks'] and svcs[name]['read_only'] is True
    assert not any('ports' in s for s in svcs.values())  # /metrics (and everything else) is not published


def test_kubernetes_executor_is_apart_without_secrets_egress_or_token():
    d = deployment('aidevbot-sandbox')
    pod = d['spec']['template']['spec']
    c = pod['containers'][0]
    assert c['args'] == ['aidevbot', 'sandbox-server']
    assert 'envFrom' not in c and not [e for e in c.get('env', []) if 'valueFrom' in e]  # no Secret, no ConfigMap
    assert {e['name'] for e in c['env']} == {'SANDBOX_SERVER_PORT', 'HOME'}
    assert pod['automountServiceAccountToken'] is False and pod['enableServiceLinks'] is False
    assert (
        pod['securityContext']['runAsNonRoot'] is True
        and pod['securityContext']['seccompProfile']['type'] == 'Localhost'
    )
    sc = c['securityContext']
    assert (
        sc['capabilities'] == {'drop': ['ALL']}
        and sc['allowPrivilegeEscalation'] is False
        and sc['readOnlyRootFilesystem']
    )
    assert 'procMount' not in sc  # Default: the restricted namespace admits it
    assert c['readinessProbe']['httpGet']['path'] == '/ready' and c['livenessProbe']['httpGet']['path'] == '/health'
    profile = DEPLOY / 'seccomp' / pod['securityContext']['seccompProfile']['localhostProfile']
    assert profile.is_file(), f'{profile}: the Localhost profile the executor names is shipped'
    labels = d['spec']['selector']['matchLabels']
    np = next(n for n in by_kind('NetworkPolicy') if n['spec']['podSelector']['matchLabels'] == labels)
    assert set(np['spec']['policyTypes']) == {'Ingress', 'Egress'} and np['spec']['egress'] == []
    allowed = np['spec']['ingress'][0]['from'][0]['podSelector']['matchExpressions'][0]['values']
    assert set(allowed) == {'bot', 'worker'}
    svc = next(s for s in by_kind('Service') if s['metadata']['name'] == 'aidevbot-sandbox')
    assert svc['spec']['selector'] == labels
    cm = docs(K8S / 'configmap.yaml')[0]['data']
    assert cm['SANDBOX_URL'] == f"http://aidevbot-sandbox:{svc['spec']['ports'][0]['port']}"
    assert next(
        h for h in by_kind('HorizontalPodAutoscaler') if h['spec']['scaleTargetRef']['name'] == 'aidevbot-sandbox'
    )
