"""ProcrastinateRunner on PostgreSQL:
worker processes share the queue, one job per project, killed workers' jobs retried."""

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from aidevbot.config import Settings
from aidevbot.db import migrate
from aidevbot.jobs import ProcrastinateRunner

WORKER = Path(__file__).with_name('_procrastinate_worker.py')


@pytest.fixture
def queue_db(pg_url):
    migrate(pg_url)  # applies procrastinate's schema on PostgreSQL
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute('CREATE TABLE job_steps (project_id int, step int, worker text, PRIMARY KEY (project_id, step))')
        c.execute('CREATE TABLE job_runs (project_id int, worker text)')
    return pg_url


def start_worker(url, name, step_seconds):
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, name, str(step_seconds)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def steps(url):
    with psycopg.connect(url) as c:
        return c.execute(
            'SELECT project_id, count(*), array_agg(DISTINCT worker) FROM job_steps GROUP BY project_id'
        ).fetchall()


def wait_until(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return False


async def enqueue(url, ids, repeat=1):
    runner = ProcrastinateRunner(Settings(database_url=url))
    await runner.start()
    try:
        for _ in range(repeat):
            for pid in ids:
                await runner.enqueue(pid)
        return await runner.queue_stats()
    finally:
        await runner.stop()


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_two_workers_run_every_project_exactly_once(queue_db):
    queued, _ = asyncio.run(enqueue(queue_db, range(1, 11), repeat=3))
    assert queued == 10  # repeated enqueues of a waiting project are coalesced
    workers = [start_worker(queue_db, f'w{i}', 0.4) for i in (1, 2)]
    try:
        assert wait_until(lambda: len(steps(queue_db)) == 10 and all(n == 3 for _, n, _ in steps(queue_db)), 60)
        time.sleep(1)
        with psycopg.connect(queue_db) as c:
            runs = c.execute('SELECT project_id, count(*) FROM job_runs GROUP BY project_id').fetchall()
            used = {w for _, _, ws in steps(queue_db) for w in ws}
        assert sorted(runs) == [(i, 1) for i in range(1, 11)]  # each project's job ran once
        assert used == {'w1', 'w2'}  # both workers took work
    finally:
        stop(workers)
    assert all(p.returncode == 0 for p in workers), [p.stderr.read()[-2000:] for p in workers]


def test_killed_worker_jobs_are_retried_elsewhere(queue_db):
    asyncio.run(enqueue(queue_db, range(1, 5)))
    victim = start_worker(queue_db, 'victim', 1.0)  # slow steps: it is mid-project when killed
    assert wait_until(lambda: any(n >= 1 for _, n, _ in steps(queue_db)), 30)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    partial = {pid for pid, n, _ in steps(queue_db) if n < 3}
    assert partial, 'the victim was killed mid-project'
    asyncio.run(
        enqueue(queue_db, sorted(partial))
    )  # someone asks again (a Resume press, a worker start-up): a newer job waits too
    survivor = start_worker(queue_db, 'survivor', 0.05)
    try:
        assert wait_until(lambda: len(steps(queue_db)) == 4 and all(n == 3 for _, n, _ in steps(queue_db)), 60), steps(
            queue_db
        )
        finished_by = {pid: ws for pid, _, ws in steps(queue_db)}
        for pid in partial:
            assert 'survivor' in finished_by[pid]
    finally:
        stop([survivor])
    assert survivor.returncode == 0, survivor.stderr.read()[-2000:]
