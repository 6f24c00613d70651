"""`aidevbot serve` as a subprocess against FakeTelegram with SQLite:
probes, /start, SIGTERM — in polling and webhook mode."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from aidevbot.testing import FakeTelegram, free_port, process_alive, temp_sqlite_url, wait_for_url

EXE = str(Path(sys.executable).with_name('aidevbot'))
GRACE = 5


def serve_env(tg, port, **extra) -> dict:
    return {
        'PATH': os.environ['PATH'],
        'HOME': os.environ.get('HOME', '/tmp'),
        'TELEGRAM_BOT_TOKEN': tg.token,
        'TELEGRAM_API_BASE_URL': tg.base_url,
        'TELEGRAM_FILE_BASE_URL': tg.file_base_url,
        'DATABASE_URL': temp_sqlite_url(),
        'LLM_API_KEY': 'test-llm-key-abc',
        'LLM_BASE_URL': 'http://127.0.0.1:9/v1',
        'HOST': '127.0.0.1',
        'PORT': str(port),
        **extra,
    }


def sigterm(proc) -> tuple[int, float, str]:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=GRACE + 25)
    return proc.returncode, time.monotonic() - t0, out


def test_serve_polling_answers_probes_handles_start_and_stops_on_sigterm():
    with FakeTelegram() as tg:
        port = free_port()
        proc = subprocess.Popen(
            [EXE, 'serve', '--grace-seconds', str(GRACE)],
            env=serve_env(tg, port),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            base = f'http://127.0.0.1:{port}'
            assert wait_for_url(base + '/health', process_alive(proc)).json() == {'status': 'ok'}
            assert wait_for_url(base + '/ready', process_alive(proc)).json()['ready'] is True
            tg.command(77, '/start')
            reply = tg.wait_for_sync('sendMessage', lambda c: str(c.params.get('chat_id')) == '77', timeout=30)
            assert reply.params['text']
            assert b'aidevbot_updates_total' in httpx.get(base + '/metrics').content
        finally:
            code, took, out = sigterm(proc)
        assert code == 0, out
        assert took < GRACE + 20, took  # well within a Kubernetes grace period of 45 s
        assert tg.token not in out and 'test-llm-key-abc' not in out  # no secret in the logs
        assert 'Traceback' not in out, out


def test_serve_webhook_mode_after_set_webhook():
    with FakeTelegram() as tg:
        port = free_port()
        env = serve_env(
            tg, port, WEBHOOK_URL=f'http://127.0.0.1:{port}/telegram/webhook', WEBHOOK_SECRET='hook-Secret_9'
        )
        assert subprocess.run([EXE, 'set-webhook'], env=env, capture_output=True, timeout=60).returncode == 0
        proc = subprocess.Popen(
            [EXE, 'serve', '--grace-seconds', str(GRACE)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for_url(f'http://127.0.0.1:{port}/ready', process_alive(proc))
            forged = tg.command(78, '/start', queue=False)
            assert (
                httpx.post(
                    env['WEBHOOK_URL'], json=forged, headers={'X-Telegram-Bot-Api-Secret-Token': 'guess'}
                ).status_code
                == 403
            )
            u = tg.command(79, '/start', queue=False)
            assert (
                httpx.post(
                    env['WEBHOOK_URL'], json=u, headers={'X-Telegram-Bot-Api-Secret-Token': 'hook-Secret_9'}
                ).status_code
                == 200
            )
            tg.wait_for_sync('sendMessage', lambda c: str(c.params.get('chat_id')) == '79', timeout=30)
            time.sleep(0.5)
            assert not [c for c in tg.calls_to('sendMessage') if str(c.params.get('chat_id')) == '78']
            assert len(tg.calls_to('setWebhook')) == 1  # the replica did not set the webhook itself
            assert not tg.calls_to('getUpdates')  # and does not poll
        finally:
            code, took, out = sigterm(proc)
        assert code == 0, out


def test_sigterm_mid_project_exits_in_grace_and_the_next_start_finishes_it(tmp_path):
    import asyncio
    from test_jobs_workers import CHAT0, charged_twice, deliveries, queue_projects, states
    from aidevbot.config import Settings
    from aidevbot.db import migrate
    from aidevbot.testing import demo_responder
    from aidevbot.testing import FakeLLM

    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate(db_url)
    with FakeTelegram() as tg, FakeLLM(demo_responder(), latency=0.4) as llm:
        s = Settings(
            database_url=db_url,
            llm_base_url=llm.base_url,
            llm_api_key='k',
            telegram_bot_token=tg.token,
            telegram_api_base_url=tg.base_url,
            telegram_file_base_url=tg.file_base_url,
            job_backend='embedded',
        )
        ids = asyncio.run(queue_projects(s, 1, enqueue=False))  # approved while the bot was down: start-up resumes it
        planned = llm.request_count
        env = serve_env(tg, free_port(), DATABASE_URL=db_url, LLM_BASE_URL=llm.base_url)
        proc = subprocess.Popen(
            [EXE, 'serve', '--grace-seconds', str(GRACE)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while llm.request_count < planned + 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert llm.request_count >= planned + 2, 'the project was resumed at start-up'
        finally:
            code, took, out = sigterm(proc)
        assert code == 0 and took < GRACE + 20, (code, took, out[-3000:])
        assert asyncio.run(states(s))[ids[0]] not in ('completed', 'queued'), 'stopped mid-project'
        proc = subprocess.Popen(
            [EXE, 'serve', '--grace-seconds', str(GRACE)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            tg.wait_for_sync('sendDocument', timeout=90)
        finally:
            code, _, out = sigterm(proc)
        assert code == 0, out[-3000:]
        assert asyncio.run(states(s))[ids[0]] == 'completed'
        assert deliveries(tg) == {CHAT0: 1}
        assert asyncio.run(charged_twice(s)) == []


def test_distributed_webhook_replica_and_worker_on_postgres(pg_url, tmp_path):
    "The Kubernetes shape: migrate, set-webhook, a webhook replica that only enqueues, a worker that runs the project."
    from aidevbot.testing import demo_responder
    from aidevbot.testing import FakeLLM

    with FakeTelegram() as tg, FakeLLM(demo_responder()) as llm:
        port = free_port()
        hook = f'http://127.0.0.1:{port}/telegram/webhook'
        env = serve_env(
            tg,
            port,
            DATABASE_URL=pg_url,
            LLM_BASE_URL=llm.base_url,
            JOB_BACKEND='procrastinate',
            WEBHOOK_URL=hook,
            WEBHOOK_SECRET='k8s-Secret',
        )
        for step in (['migrate'], ['set-webhook']):
            r = subprocess.run([EXE, *step], env=env, capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr
        bot = subprocess.Popen(
            [EXE, 'serve', '--grace-seconds', str(GRACE)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        worker = subprocess.Popen(
            [EXE, 'worker', '--grace-seconds', str(GRACE)],
            env=env,
            stdout=(tmp_path / 'worker.log').open('w'),
            stderr=subprocess.STDOUT,
        )
        post = lambda u: (
            httpx.post(hook, json=u, headers={'X-Telegram-Bot-Api-Secret-Token': 'k8s-Secret'}, timeout=10).status_code
        )
        try:
            wait_for_url(f'http://127.0.0.1:{port}/ready', process_alive(bot))
            assert post(tg.command(555, '/start', queue=False)) == 200
            tg.wait_for_sync('sendMessage', lambda c: str(c.params.get('chat_id')) == '555', timeout=30)
            mark = len(tg.calls)
            assert (
                post(tg.message(555, 'A small command-line tool that counts words, with pytest tests.', queue=False))
                == 200
            )
            has_approve = lambda c: 'approve:' in str(c.params.get('reply_markup'))
            plan = tg.wait_for_sync('sendMessage', has_approve, timeout=60, since=mark)  # planned by the worker
            data = next(b[1] for b in tg.buttons(555) if (b[1] or '').startswith('approve:'))
            assert post(tg.callback(555, data, plan.result['message_id'], queue=False)) == 200
            doc = tg.wait_for_sync('sendDocument', timeout=90)
            assert doc.files['document'][0].endswith('.zip')
            assert not tg.calls_to('getUpdates')
        finally:
            results = [sigterm(p) for p in (bot, worker)]
        assert [code for code, _, _ in results] == [0, 0], (
            results[0][2][-2000:],
            (tmp_path / 'worker.log').read_text()[-3000:],
        )
