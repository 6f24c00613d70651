"""Sandbox overhead per test run: today's bubblewrap sandbox beside the sandbox it replaced, measured in the same run.

The baseline is the previous implementation (hand-written namespaces, commit 6779ede), taken from git history into a
throw-away package, so both run on this machine, now, on the same project. Each side runs in its own process:
  - `true` in the sandbox (pure overhead: set-up, start, tear-down),
  - pytest on a two-test project (what the orchestrator does once per verification).
The figure is new/old per test run; the target is at most 1.5x.

usage: .venv/bin/python bench/bench_sandbox.py [RUNS]   (default 15)
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = '6779ede'
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 15

MEASURE = r'''
import json, sys, time
from aidevbot.sandbox import run_in_sandbox, run_pytest
project = {'calc.py': 'def add(a, b):\n    return a + b\n',
           'test_calc.py': 'from calc import add\n\ndef test_a():\n    assert add(1, 2) == 3\n\n'
                           'def test_b():\n    assert add(-1, 1) == 0\n'}
runs = int(sys.argv[1])
run_in_sandbox({}, ['true'], timeout=30); run_pytest(project, timeout=60)  # warm caches
out = {'true': [], 'pytest': []}
for _ in range(runs):
    t = time.perf_counter()
    r = run_in_sandbox({}, ['true'], timeout=30)
    out['true'].append(time.perf_counter() - t)
    assert r.ok, r
    t = time.perf_counter(); rep = run_pytest(project, timeout=60); out['pytest'].append(time.perf_counter() - t)
    assert rep.status == 'passed', rep.message
print(json.dumps(out))
'''


def baseline_package() -> str | None:
    "The previous sandbox as a package of its own, from git history; None when the history is not there."
    top = tempfile.mkdtemp(prefix='aidevbot-bench-')
    pkg = Path(top) / 'aidevbot'
    pkg.mkdir()
    for name in ('__init__.py', 'sandbox.py', 'packaging.py', 'config.py'):
        src = subprocess.run(['git', 'show', f'{BASELINE_COMMIT}:aidevbot/{name}'], cwd=REPO, capture_output=True)
        if src.returncode:
            shutil.rmtree(top)
            return None
        (pkg / name).write_bytes(src.stdout)
    return top


def measure(path: str | None) -> dict:
    env = {**os.environ, 'PYTHONPATH': path or str(REPO)}
    proc = subprocess.run(
        [sys.executable, '-c', MEASURE, str(RUNS)], env=env, capture_output=True, text=True, cwd=tempfile.gettempdir()
    )
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    old_path = baseline_package()
    new = measure(None)
    old = measure(old_path) if old_path else None
    print(f'sandbox overhead per run, median of {RUNS} (seconds)')
    print(f"{'':24}{'bubblewrap (now)':>18}{'previous':>12}{'ratio':>8}")
    for k, label in (('true', '`true` (pure overhead)'), ('pytest', 'pytest, 2 tests')):
        n = statistics.median(new[k])
        if old:
            o = statistics.median(old[k])
            print(f'{label:24}{n:>18.3f}{o:>12.3f}{n / o:>7.2f}x')
        else:
            print(f'{label:24}{n:>18.3f}{"(no git history)":>20}')
    if old:
        met = statistics.median(new['pytest']) <= 1.5 * statistics.median(old['pytest'])
        print(f"target: pytest run at most 1.5x the previous sandbox -> {'met' if met else 'NOT met'}")
    if old_path:
        shutil.rmtree(old_path, ignore_errors=True)


if __name__ == '__main__':
    main()
