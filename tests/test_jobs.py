"""EmbeddedRunner with the real orchestrator:
a project interrupted by a stop resumes on the next start, without paying twice."""

import asyncio
from decimal import Decimal

from sqlalchemy import func, select

from aidevbot.config import Settings
from aidevbot.db import ApiKeyUsage, Project
from aidevbot.jobs import EmbeddedRunner, make_runner
from aidevbot.testing import demo_responder
from aidevbot.testing import FakeLLM, migrated_database
from aidevbot.users import UserService
from aidevbot.wiring import build_services


async def build(db, s, events):
    "One process's services on `db`, its events (kind, project) appended to `events`."

    async def on_event(e):
        events.append((e.kind, e.project_id))

    return await build_services(s, db=db, on_event=on_event)


async def state(db, pid):
    async with db.sessions() as s:
        return (await s.get(Project, pid)).state


async def test_embedded_runner_resumes_active_projects_on_start(db_url):
    async with migrated_database(db_url) as db, FakeLLM(demo_responder(), latency=0.2) as llm_server:
        s = Settings(database_url=db_url, llm_base_url=llm_server.base_url, llm_api_key='k')
        events = []
        svc = await build(db, s, events)
        ledger, orch = svc.ledger, svc.orchestrator
        user, _ = await UserService(db, s, ledger).ensure_user(901)
        await ledger.credit(user.id, Decimal(300), kind='admin', key='grant-901')
        pid = await orch.create_project(user_id=user.id, chat_id=901, description='A small Python library with tests.')
        runner = make_runner(s, orch)
        assert isinstance(runner, EmbeddedRunner)
        await runner.start()
        await runner.enqueue(pid)
        await runner.wait_idle(60)
        assert await state(db, pid) == 'awaiting_approval'
        await orch.approve(pid, user_id=user.id)
        await runner.enqueue(pid)
        planned = llm_server.request_count
        while llm_server.request_count < planned + 3:
            await asyncio.sleep(0.05)
        await runner.stop()  # the process stops mid-project
        await svc.aclose()
        assert await state(db, pid) in ('queued', 'implementing', 'verifying', 'documenting', 'packaging')
        assert ('completed', pid) not in events

        svc2 = await build(db, s, events)  # a new process: nobody enqueues, start() finds the project
        runner2 = EmbeddedRunner(svc2.orchestrator)
        await runner2.start()
        await runner2.wait_idle(120)
        await runner2.stop()
        await svc2.aclose()
        assert await state(db, pid) == 'completed'
        assert events.count(('completed', pid)) == 1
        async with db.sessions() as ses:
            dup = (
                await ses.execute(
                    select(ApiKeyUsage.call_key)
                    .where(ApiKeyUsage.outcome == 'ok')
                    .group_by(ApiKeyUsage.call_key)
                    .having(func.count() > 1)
                )
            ).all()
        assert dup == []  # no successful call was made (and paid) twice
        assert await svc2.ledger.check_consistency() == []
