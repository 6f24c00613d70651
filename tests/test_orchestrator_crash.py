"""Crash test: a process running a project is SIGKILLed in the middle of a task and started again. The project
completes, earlier tasks are not redone, and every model call is charged exactly once."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from aidevbot.db import ApiKeyUsage, CreditReservation, Project, ProjectTask
from aidevbot.testing.fake_llm import RecordedRequest
from aidevbot.testing import demo_responder
from aidevbot.testing import FakeLLM, Slow
from orchestrator_support import plan_and_approve, stack, unzip_and_test

WORKER = str(Path(__file__).with_name('orchestrator_crash_worker.py'))


def _task_numbers(requests):
    return [int(re.search(r'(?:Your task|Task) \((\d+) of', r['messages'][-1]['content']).group(1)) for r in requests]


async def test_killed_mid_task_then_restarted_completes_without_redoing_or_paying_twice(db_url):
    demo, lock, seen = demo_responder(), threading.Lock(), Counter()

    def responder(body):
        reply = demo(body)
        if RecordedRequest(body, {}, '').schema_name == 'task_files':
            with lock:
                seen['impl'] += 1
                if seen['impl'] == 2:
                    return Slow(60, reply)  # task 2: the worker is killed while it waits
        return reply

    with FakeLLM(responder) as fake:
        async with stack(db_url, fake.base_url) as s:
            pid = await plan_and_approve(s)
            after_approve = await s.ledger.balance(s.user_id)
            worker = subprocess.Popen(
                [sys.executable, WORKER, db_url, fake.base_url, str(pid)],
                start_new_session=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            deadline = time.monotonic() + 90
            while len(fake.requests_for('task_files')) < 2:
                assert worker.poll() is None, worker.communicate()
                assert time.monotonic() < deadline, 'the worker never reached task 2'
                time.sleep(0.05)
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
            assert worker.returncode == -signal.SIGKILL

            async with s.db.sessions() as ses:
                p = await ses.get(Project, pid)
                tasks = (
                    await ses.scalars(
                        select(ProjectTask).where(ProjectTask.project_id == pid).order_by(ProjectTask.idx)
                    )
                ).all()
            assert p.state == 'implementing' and p.lease_owner == 'local'  # killed mid-task, lease still held
            assert [t.state for t in tasks] == ['done', 'running', 'pending']
            assert len(await s.ledger.open_reservations(s.user_id)) == 2  # the hold, and the killed call's reservation

            restarted = subprocess.run(
                [sys.executable, WORKER, db_url, fake.base_url, str(pid)], capture_output=True, text=True, timeout=180
            )
            assert restarted.stdout.strip() == 'completed', restarted.stdout + restarted.stderr

            # earlier work was not redone: task 1 was written and reviewed once; task 2 was asked again (its first
            # request never got an answer), then task 3
            assert _task_numbers(fake.requests_for('task_files')) == [1, 2, 2, 3]
            assert _task_numbers(fake.requests_for('review_verdict')) == [1, 2, 3]
            assert len(fake.requests_for('project_plan')) == 1 and len(fake.requests_for('readme')) == 1

            # every call charged once: one successful metered row per call key
            async with s.db.sessions() as ses:
                rows = (
                    await ses.execute(
                        select(ApiKeyUsage.call_key, ApiKeyUsage.outcome, ApiKeyUsage.credits).where(
                            ApiKeyUsage.project_id == pid
                        )
                    )
                ).all()
            ok = Counter(k for k, outcome, _ in rows if outcome == 'ok')
            assert len(ok) == 8 and set(ok.values()) == {1}, ok  # plan, 3 x (impl + review), readme
            # and on the ledger side: one settled reservation per call, the killed one released without a charge
            async with s.db.sessions() as ses:
                rsv = (
                    await ses.scalars(
                        select(CreditReservation).where(
                            CreditReservation.project_id == pid, CreditReservation.purpose != 'project'
                        )
                    )
                ).all()
            settled = Counter(
                k for r in rsv if r.status == 'settled' for k in ok if r.idempotency_key.startswith(f'llm:{k}:')
            )
            assert settled == ok, settled
            killed = [r for r in rsv if r.status != 'settled']
            assert len(killed) == 1 and killed[0].status == 'released' and not killed[0].settled_amount
            assert killed[0].idempotency_key.startswith(f'llm:p{pid}:v1:t1:impl:1:')
            assert sum(r.settled_amount for r in rsv if r.status == 'settled') == sum(c for _, _, c in rows)
            assert await s.ledger.check_consistency() == []
            # the killed call's reservation was released by the restarted run, the hold's rest at the end: nothing is
            # left open and the user paid exactly what the metered calls cost
            assert await s.ledger.open_reservations(s.user_id) == []
            async with s.db.sessions() as ses:
                p = await ses.get(Project, pid)
            planning = sum((c for k, o, c in rows if k.endswith(':plan')), Decimal(0))
            assert await s.ledger.balance(s.user_id) == after_approve + p.estimate_high - (p.credits_spent - planning)
            proc, _ = unzip_and_test((await s.orch.artifact(pid, user_id=s.user_id)).data)
            assert proc.returncode == 0, proc.stdout
