"""`aidevbot demo` as a newcomer runs it: offline, no token, no key; under a minute; a ZIP whose tests pass."""

import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path


def test_demo_runs_offline_and_delivers_a_project_whose_tests_pass(tmp_path):
    exe = str(Path(sys.executable).with_name('aidevbot'))
    env = {'PATH': os.environ['PATH'], 'HOME': str(tmp_path)}  # no TELEGRAM_BOT_TOKEN, no LLM_API_KEY, no DATABASE_URL
    t0 = time.monotonic()
    r = subprocess.run(
        [exe, 'demo', '--out', 'demo-output'], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert took < 60, took
    out = r.stdout
    assert 'you  ›  /start' in out and 'pre-checkout: accepted' in out and '[Approve' in out and 'tests pass' in out
    zips = list((tmp_path / 'demo-output').glob('*.zip'))
    folders = [p for p in (tmp_path / 'demo-output').iterdir() if p.is_dir()]
    assert len(zips) == 1 and zipfile.is_zipfile(zips[0]) and len(folders) == 1
    project = folders[0]
    assert any(project.rglob('test_*.py')) and (project / 'README.md').exists()
    again = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider'],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stdout
    assert not (tmp_path / 'aidevbot.db').exists()  # the demo used a temporary database, not ./aidevbot.db
