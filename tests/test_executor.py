"""The sandbox executor as its own process: workers send files over loopback, get reports back; it holds no secret."""

import asyncio
import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from aidevbot.config import load_settings
from aidevbot.executor import run_tests
from aidevbot.testing.loopback import free_port
from aidevbot.testing import demo_responder
from aidevbot.testing import FakeLLM
from orchestrator_support import stack, unzip_and_test

AIDEVBOT = os.path.join(os.path.dirname(sys.executable), 'aidevbot')
SECRET = 'sk-executor-test-SECRETMARK'
PASSING = {
    'calc.py': b'def add(a, b):\n    return a + b\n',
    'test_calc.py': b'from calc import add\n\ndef test():\n    assert add(2, 2) == 4\n',
}


def _clean_env(**extra) -> dict:
    return {'PATH': os.path.dirname(sys.executable) + ':/usr/bin:/bin', 'HOME': '/tmp', **extra}


@pytest.fixture(scope='module')
def executor():
    "`aidevbot sandbox-server` in its own process with nothing but PATH and HOME, like its container."
    port = free_port()
    proc = subprocess.Popen(
        [AIDEVBOT, 'sandbox-server', '--host', '127.0.0.1', '--port', str(port)],
        env=_clean_env(),
        cwd='/tmp',
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + '/ready', timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    else:
        pytest.fail('the executor did not become ready')
    yield url, proc
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_executor_runs_a_projects_tests_for_a_worker(executor):
    url, _ = executor
    s = load_settings(_env_file=None, sandbox_url=url)
    rep = asyncio.run(run_tests(s, PASSING))
    assert (rep.status, rep.passed) == ('passed', 1), rep.message
    rep = asyncio.run(run_tests(s, {**PASSING, 'calc.py': b'def add(a, b):\n    return a - b\n'}))
    assert rep.status == 'failed' and rep.failed == 1


def test_executor_holds_no_secret_and_hostile_code_finds_none(executor):
    url, proc = executor
    environ = open(f'/proc/{proc.pid}/environ', 'rb').read().decode()
    assert not re.search(r'TELEGRAM_BOT_TOKEN|LLM_API_KEY|DATABASE_URL|WEBHOOK_SECRET', environ)
    spy = (
        'import os\ndef test_spy():\n    found = []\n    for p in os.listdir("/proc"):\n'
        '        try: found.append(open(f"/proc/{p}/environ", "rb").read())\n        except OSError: pass\n'
        '    print("ENV", b"".join(found))\n    assert False\n'
    )
    s = load_settings(
        _env_file=None, sandbox_url=url, llm_api_key=SECRET
    )  # the worker holds a secret; the executor must not
    rep = asyncio.run(run_tests(s, {'test_spy.py': spy.encode()}))
    assert rep.status == 'failed' and 'ENV' in rep.output
    assert SECRET not in rep.output and 'LLM_API_KEY' not in rep.output


def test_executor_refuses_to_start_with_a_secret():
    for var in ('TELEGRAM_BOT_TOKEN', 'LLM_API_KEY', 'DATABASE_URL'):
        proc = subprocess.run(
            [AIDEVBOT, 'sandbox-server', '--port', str(free_port())],
            env=_clean_env(**{var: 'postgresql://u:p@h/d' if var == 'DATABASE_URL' else SECRET}),
            cwd='/tmp',
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2 and 'must hold no secret' in proc.stderr and var in proc.stderr
        assert SECRET not in proc.stderr and 'u:p@h' not in proc.stderr


def test_executor_refuses_an_oversized_body_before_reading_it(executor):
    url, _ = executor
    host, port = url.removeprefix('http://').split(':')
    with socket.create_connection((host, int(port)), timeout=10) as c:
        c.sendall(
            b'POST /run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 900000000\r\n\r\n{'
        )
        assert c.recv(200).startswith(b'HTTP/1.1 413')


def test_an_executor_that_is_down_gives_not_verified_with_the_reason():
    s = load_settings(_env_file=None, sandbox_url=f'http://127.0.0.1:{free_port()}')
    rep = asyncio.run(run_tests(s, PASSING))
    assert rep.status == 'not_verified' and 'did not answer' in rep.message


async def test_a_project_completes_end_to_end_through_the_executor(executor, sqlite_url):
    url, _ = executor
    with FakeLLM(demo_responder()) as fake:
        async with stack(sqlite_url, fake.base_url, sandbox_url=url) as s:
            pid = await s.orch.create_project(user_id=s.user_id, chat_id=555, description='A word statistics tool')
            assert await s.orch.advance(pid) == 'awaiting_approval'
            await s.orch.approve(pid, user_id=s.user_id)
            assert await s.orch.advance(pid) == 'completed'
            doc = s.events[-1].reply.document
            assert re.fullmatch(r'8 files · tests 6/6 passed · [\d.]+ credits', doc.caption), doc.caption
            proc, _ = unzip_and_test(doc.data)
            assert proc.returncode == 0
