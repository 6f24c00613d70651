"""`aidevbot worker` processes on PostgreSQL run real projects (orchestrator + FakeLLM demo responder):
each completes exactly once, also when a worker is killed outright mid-project, and no call is charged twice."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from aidevbot.billing import Ledger
from aidevbot.config import Settings
from aidevbot.db import ApiKeyUsage, Project, migrate, open_database
from aidevbot.jobs import ProcrastinateRunner
from aidevbot.testing import demo_responder
from aidevbot.testing import FakeLLM, FakeTelegram
from aidevbot.users import UserService
from aidevbot.wiring import build_services

CHAT0 = 7000


def settings_for(url, llm, tg) -> Settings:
    return Settings(
        database_url=url,
        llm_base_url=llm.base_url,
        llm_api_key='test-key',
        telegram_bot_token=tg.token,
        telegram_api_base_url=tg.base_url,
        telegram_file_base_url=tg.file_base_url,
        job_backend='procrastinate',
    )


async def queue_projects(s: Settings, n: int, *, enqueue: bool = True) -> list[int]:
    "n users with credits, each with a planned and approved project, queued for the workers."
    async with await build_services(s) as svc:
        ledger, orch, ids = svc.ledger, svc.orchestrator, []
        users = UserService(svc.db, s, ledger)
        for i in range(n):
            user, _ = await users.ensure_user(CHAT0 + i, first_name=f'u{i}')
            await ledger.credit(user.id, Decimal(300), kind='admin', key=f'test-grant-{i}')
            pid = await orch.create_project(
                user_id=user.id, chat_id=CHAT0 + i, description=f'A small Python library number {i} with tests.'
            )
            assert await orch.advance(pid) == 'awaiting_approval'
            await orch.approve(pid, user_id=user.id)
            ids.append(pid)
        if enqueue:
            runner = ProcrastinateRunner(s)
            await runner.start()
            for pid in ids:
                await runner.enqueue(pid)
            await runner.stop()
        return ids


def worker_env(s: Settings) -> dict:
    return {
        'PATH': os.environ['PATH'],
        'HOME': os.environ.get('HOME', '/tmp'),
        'DATABASE_URL': s.database_url,
        'LLM_BASE_URL': s.llm_base_url,
        'LLM_API_KEY': 'test-key',
        'TELEGRAM_BOT_TOKEN': s.telegram_bot_token.get_secret_value(),
        'TELEGRAM_API_BASE_URL': s.telegram_api_base_url,
        'TELEGRAM_FILE_BASE_URL': s.telegram_file_base_url,
        'JOB_BACKEND': 'procrastinate',
        'PROGRESS_EDIT_SECONDS': '1',
    }


def start_worker(s: Settings, log: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name('aidevbot')
    return subprocess.Popen(
        [
            str(exe),
            'worker',
            '--concurrency',
            '2',
            '--heartbeat-seconds',
            '1',
            '--stalled-after',
            '4',
            '--lease-seconds',
            '6',
            '--grace-seconds',
            '5',
        ],
        env=worker_env(s),
        stdout=log.open('ab'),
        stderr=subprocess.STDOUT,
    )


async def states(s: Settings) -> dict[int, str]:
    db = await open_database(s)
    try:
        async with db.sessions() as ses:
            return dict((await ses.execute(select(Project.id, Project.state))).all())
    finally:
        await db.dispose()


async def wait_all(s: Settings, ids, timeout: float) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = await states(s)
        if all(st[i] in ('completed', 'failed', 'paused', 'cancelled') for i in ids):
            return st
        await asyncio.sleep(0.5)
    return await states(s)


async def charged_twice(s: Settings) -> list:
    "Calls whose successful result was obtained (and paid) more than once, and inconsistent balances."
    db = await open_database(s)
    try:
        async with db.sessions() as ses:
            dup_ok = (
                await ses.execute(
                    select(ApiKeyUsage.call_key, func.count())
                    .where(ApiKeyUsage.outcome == 'ok')
                    .group_by(ApiKeyUsage.call_key)
                    .having(func.count() > 1)
                )
            ).all()
            dup_settle = (
                await ses.execute(
                    text(
                        "SELECT llm_call_id, count(*) FROM credit_transactions WHERE llm_call_id IS NOT NULL "
                        "GROUP BY llm_call_id HAVING count(*) > 1"
                    )
                )
            ).all()
        return [*dup_ok, *dup_settle, *await Ledger(db).check_consistency()]
    finally:
        await db.dispose()


def stop(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def deliveries(tg) -> dict[int, int]:
    out = {}
    for c in tg.calls_to('sendDocument'):
        if c.ok:
            out[c.params['chat_id']] = out.get(c.params['chat_id'], 0) + 1
    return out


@pytest.fixture
def pg(pg_url):
    migrate(pg_url)
    return pg_url


async def test_two_workers_complete_ten_projects_exactly_once(pg, tmp_path):
    async with FakeLLM(demo_responder()) as llm, FakeTelegram() as tg:
        s = settings_for(pg, llm, tg)
        ids = await queue_projects(s, 10)
        workers = [start_worker(s, tmp_path / f'w{i}.log') for i in (1, 2)]
        try:
            st = await wait_all(s, ids, 240)
        finally:
            stop(workers)
        logs = '\n'.join((tmp_path / f'w{i}.log').read_text()[-3000:] for i in (1, 2))
        assert all(st[i] == 'completed' for i in ids), (st, logs)
        await asyncio.sleep(1)
        assert deliveries(tg) == {CHAT0 + i: 1 for i in range(10)}  # each project delivered once
        assert await charged_twice(s) == []
        assert all(p.returncode == 0 for p in workers), logs  # SIGTERM: a clean stop


async def test_killed_worker_its_projects_still_complete_and_nothing_is_charged_twice(pg, tmp_path):
    async with FakeLLM(demo_responder(), latency=0.3) as llm, FakeTelegram() as tg:
        s = settings_for(pg, llm, tg)
        ids = await queue_projects(s, 4)
        planned = llm.request_count
        victim = start_worker(s, tmp_path / 'victim.log')
        deadline = time.monotonic() + 120
        while llm.request_count < planned + 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        st = await states(s)
        assert any(st[i] not in ('completed', 'queued') for i in ids), st  # killed mid-project
        survivors = [start_worker(s, tmp_path / f's{i}.log') for i in (1, 2)]
        try:
            st = await wait_all(s, ids, 240)
        finally:
            stop(survivors)
        logs = '\n'.join(p.read_text()[-3000:] for p in tmp_path.glob('*.log'))
        assert all(st[i] == 'completed' for i in ids), (st, logs)
        await asyncio.sleep(1)
        assert deliveries(tg) == {CHAT0 + i: 1 for i in range(4)}
        assert await charged_twice(s) == []
