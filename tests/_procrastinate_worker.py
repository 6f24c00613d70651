"""A procrastinate worker process with a stand-in job (tests/test_jobs_procrastinate.py): each project
is three checkpointed steps recorded in a scratch table, so a killed worker's job resumes elsewhere."""

import asyncio
import sys

import psycopg

from aidevbot.config import Settings
from aidevbot.jobs import ProcrastinateRunner

STEPS = 3


class StepOrchestrator:
    "advance(): run the remaining steps of a project, committing each (like ModelOrchestrator)."

    def __init__(self, url: str, step_seconds: float):
        self.url, self.step_seconds = url, step_seconds

    async def resumable(self):
        return []

    async def advance(self, project_id, *, worker_id='local'):
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            done = (
                await (
                    await conn.execute('SELECT count(*) FROM job_steps WHERE project_id = %s', (project_id,))
                ).fetchone()
            )[0]
            await conn.execute('INSERT INTO job_runs (project_id, worker) VALUES (%s, %s)', (project_id, worker_id))
            for step in range(done, STEPS):
                await asyncio.sleep(self.step_seconds)
                # a step committed twice would violate the primary key and fail the job
                await conn.execute(
                    'INSERT INTO job_steps (project_id, step, worker) VALUES (%s, %s, %s)',
                    (project_id, step, worker_id),
                )
        return 'completed'


async def main(url: str, name: str, step_seconds: float) -> None:
    runner = ProcrastinateRunner(Settings(database_url=url), StepOrchestrator(url, step_seconds), worker_id=name)
    await runner.run_worker(concurrency=2, heartbeat_seconds=0.5, stalled_after=3, grace_seconds=5)


if __name__ == '__main__':
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
