"""`aidevbot bench` (issue 12): the shipped specs, the offline bench, the budget cap, the secrecy of the hidden tests
and the preflight, through the real command against loopback FakeLLMs and a real (throw-away) SQLite database."""

import io
import json
import subprocess
import sys
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from decimal import Decimal
from pathlib import Path

import pytest

from aidevbot.bench.runner import FAKE_SPECS, fake_responder, leaks, load_spec, run_hidden, spec_names
from aidevbot.cli import main
from aidevbot.config import env
from aidevbot.testing.fake_llm import FakeLLM
from aidevbot.testing.loopback import free_port

ROOT = Path(__file__).resolve().parents[1]
CLEAN = dict(LLM_BASE_URL=None, LLM_API_KEY=None, ARCHITECT_MODEL=None, IMPLEMENTER_MODEL=None, REVIEWER_MODEL=None)


def bench(*argv: str, **environ) -> tuple[int, str, str]:
    "`aidevbot bench ARGV` in this process: (exit status, stdout, stderr)."
    out, err = io.StringIO(), io.StringIO()
    with env(**{**CLEAN, **environ}), redirect_stdout(out), redirect_stderr(err):
        rc = main(['bench', *argv])
    return rc, out.getvalue(), err.getvalue()


def report(out: Path) -> dict:
    return json.loads((out / 'report.json').read_text(encoding='utf-8'))


# --- the specs ---------------------------------------------------------------------------------------------------


def test_there_are_twelve_specs_of_graded_difficulty_each_naming_its_public_interface():
    names = spec_names()
    assert len(names) == 12
    specs = [load_spec(n) for n in names]
    assert {s.difficulty for s in specs} == {1, 2, 3}
    for s in specs:
        assert s.hidden and all(p.startswith('test_') and p.endswith('.py') for p in s.hidden), s.name
        for module in s.reference:  # the request names every module the hidden tests import or run
            assert module in s.request, (s.name, module)


@pytest.mark.parametrize('name', spec_names())
def test_every_specs_hidden_tests_pass_against_its_reference_in_the_sandbox(name):
    spec = load_spec(name)
    r = run_hidden(spec, spec.reference, timeout=60)
    assert (r.status, r.passed, r.total) == ('passed', spec.hidden_tests, spec.hidden_tests), r.message


@pytest.mark.parametrize('name', spec_names())
def test_every_specs_hidden_tests_fail_without_a_solution(name):
    r = run_hidden(load_spec(name), {'README.md': b'# nothing here\n'}, timeout=60)
    assert not r.ok and r.passed == 0


def test_the_specs_ship_in_the_wheel(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'pip',
            'wheel',
            '-q',
            '--no-deps',
            '--no-build-isolation',
            '-w',
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob('aidevbot-*.whl')
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in spec_names():
        spec, base = load_spec(name), f'aidevbot/bench/specs/{name}'
        assert {f'{base}/request.md', f'{base}/spec.json'} <= names, name
        assert {f'{base}/hidden/{p}' for p in spec.hidden} <= names, name
        assert {f'{base}/reference/{p}' for p in spec.reference} <= names, name
    assert 'aidevbot/bench/runner.py' in names


# --- the offline bench -------------------------------------------------------------------------------------------


def test_fake_bench_reports_one_passing_and_one_false_verified_project_with_a_consistent_ledger(tmp_path):
    out = tmp_path / 'report'
    rc, stdout, stderr = bench('--fake', '--out', str(out))
    assert rc == 0, stderr
    assert (out / 'report.md').read_text().startswith('# aidevbot bench')
    assert (out / 'report.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    rep = report(out)
    assert rep['per_spec'] == {
        'word_freq': {'set1': ['pass']},
        'lru_cache': {'set1': ['false-verified']},
        'state_machine': {'set1': ['failed']},
    }
    (s,) = rep['sets']
    assert (
        s['projects'],
        s['passed'],
        s['delivered_verified'],
        s['false_verified'],
        s['false_verified_rate'],
        s['failed'],
    ) == (3, 1, 2, 1, 0.5, 1)
    assert (s['tests_passed'], s['tests_total']) == (7 + 7, 7 + 9 + 6)
    assert s['fix_rounds'] == 2 and s['tokens'] > 0 and Decimal(s['usd']) > 0
    money = rep['money']
    assert money['consistent'] and money['open_holds'] == 0 and money['ledger_problems'] == []
    assert Decimal(money['credits_spent']) == Decimal(money['credits_metered']) == Decimal(s['credits']) > 0
    assert rep['hidden_test_leaks'] == [] and rep['stopped'] is None
    assert (
        rep['aidevbot_version']
        and rep['prompt_versions']['all']
        and set(rep['sets'][0]['models']) == {'architect', 'implementer', 'reviewer'}
    )
    assert '3/3' in stderr and 'false-verified 50%' in stdout  # the progress bar, the summary


def test_hidden_tests_never_appear_in_any_request_the_model_received(tmp_path):
    specs = [load_spec(n) for n in FAKE_SPECS]
    with FakeLLM(fake_responder(), report_cost=True) as fake:
        rc, _, stderr = bench(
            '--specs',
            ','.join(FAKE_SPECS),
            '--yes',
            '--out',
            str(tmp_path),
            LLM_BASE_URL=fake.base_url,
            LLM_API_KEY='sk-test',
        )
        requests = fake.requests
    assert rc == 0, stderr
    assert len(requests) >= 9 and any(
        specs[1].request.splitlines()[0] in json.dumps(r, ensure_ascii=False) for r in requests
    )
    assert leaks(requests, specs) == []
    bodies = '\n'.join(json.dumps(r, ensure_ascii=False) for r in requests)
    for spec in specs:
        for name, data in spec.hidden.items():
            assert json.dumps(data.decode())[1:-1] not in bodies and name not in bodies
    assert 'bench_hidden' not in bodies


def test_max_usd_stops_before_spending_more_than_the_cap_and_says_how_far_it_got(tmp_path):
    with FakeLLM(fake_responder(), report_cost=True) as fake:
        rc, _, stderr = bench(
            '--specs',
            ','.join(FAKE_SPECS),
            '--max-usd',
            '0.1',
            '--yes',
            '--out',
            str(tmp_path),
            LLM_BASE_URL=fake.base_url,
            LLM_API_KEY='sk-test',
        )
        plans = len(fake.requests_for('project_plan'))
    assert rc == 0, stderr
    rep = report(tmp_path)
    assert 0 < rep['finished'] < rep['planned'] == 3
    assert Decimal(rep['money']['usd_spent']) <= Decimal('0.1')  # the cost the FakeLLM reported, as metered
    assert rep['money']['consistent'] and Decimal(rep['money']['credits_spent']) == Decimal(
        rep['money']['credits_metered']
    )
    assert [p['state'] for p in rep['projects']][-1] == 'budget' and plans <= rep['finished'] + 1
    assert f"{rep['finished']} of 3 projects finished" in stderr and 'stopped at the budget of $0.1' in stderr


def test_two_model_sets_are_compared_side_by_side_each_with_its_own_models(tmp_path):
    with FakeLLM(fake_responder(), report_cost=True) as fake:
        rc, _, stderr = bench(
            '--specs',
            'word_freq',
            '--repeat',
            '2',
            '--concurrency',
            '2',
            '--yes',
            '--out',
            str(tmp_path),
            '--models',
            'name=big,architect=openai/gpt-5,implementer=openai/gpt-5,reviewer=openai/gpt-5',
            '--models',
            'name=small,implementer=openai/gpt-4.1-mini',
            LLM_BASE_URL=fake.base_url,
            LLM_API_KEY='sk-test',
        )
        implementers = {r['model'] for r in fake.requests_for('task_files')}
    assert rc == 0, stderr
    rep = report(tmp_path)
    assert [(x['name'], x['models']['implementer'], x['projects'], x['pass_rate']) for x in rep['sets']] == [
        ('big', 'openai/gpt-5', 2, 1.0),
        ('small', 'openai/gpt-4.1-mini', 2, 1.0),
    ]
    assert rep['per_spec'] == {'word_freq': {'big': ['pass', 'pass'], 'small': ['pass', 'pass']}}
    assert implementers == {'openai/gpt-5', 'openai/gpt-4.1-mini'}


# --- before anything is spent ------------------------------------------------------------------------------------


def test_an_unreachable_endpoint_is_one_line_and_exit_2(tmp_path):
    rc, _, stderr = bench(
        '--yes', '--out', str(tmp_path / 'r'), LLM_BASE_URL=f'http://127.0.0.1:{free_port()}/v1', LLM_API_KEY='sk-test'
    )
    assert rc == 2
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith('aidevbot bench: ') and '/models' in stderr
    assert not (tmp_path / 'r').exists()


def test_a_refused_key_is_one_line_and_exit_2_before_any_project_call(tmp_path):
    with FakeLLM(fake_responder(), api_key='sk-right', report_cost=True) as fake:
        rc, _, stderr = bench('--yes', '--out', str(tmp_path / 'r'), LLM_BASE_URL=fake.base_url, LLM_API_KEY='sk-wrong')
        asked = [r.schema_name for r in fake.requests]
    assert rc == 2
    assert len(stderr.strip().splitlines()) == 1 and 'failed' in stderr and 'sk-wrong' not in stderr
    assert asked == [None]  # the one tiny probe; no plan, no file was ever asked for
    assert not (tmp_path / 'r').exists()


def test_a_model_the_endpoint_does_not_offer_is_refused_before_anything_runs(tmp_path):
    with FakeLLM(fake_responder(), report_cost=True) as fake:
        rc, _, stderr = bench(
            '--models',
            'implementer=acme/none-such',
            '--yes',
            '--out',
            str(tmp_path / 'r'),
            LLM_BASE_URL=fake.base_url,
            LLM_API_KEY='sk-test',
        )
        n = fake.request_count
    assert rc == 2 and 'does not offer acme/none-such' in stderr and n == 0


def test_a_real_run_without_yes_and_no_terminal_asks_for_yes_and_runs_nothing(tmp_path):
    exe = Path(sys.executable).parent / 'aidevbot'
    with FakeLLM(fake_responder(), report_cost=True) as fake:
        proc = subprocess.run(
            [str(exe), 'bench', '--specs', 'word_freq', '--out', str(tmp_path / 'r')],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            env={
                'PATH': '/usr/bin:/bin',
                'LLM_BASE_URL': fake.base_url,
                'LLM_API_KEY': 'sk-test',
                'HOME': str(tmp_path),
            },
        )
        plans = fake.requests_for('project_plan')
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith('aidevbot bench: ') and '--yes' in proc.stderr
    assert plans == [] and not (tmp_path / 'r').exists()
