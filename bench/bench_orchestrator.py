"""Orchestrator benchmark on the 20-file scripted project (10 tasks, each writing a module and its test).

1. Prompt tokens per implementer call: the orchestrator's task-scoped context (plan, repository map, only the files the
   task writes and reads) beside a baseline that sends every file on every call. The ratio is the figure.
2. Orchestration overhead: wall time of the whole run with a zero-latency FakeLLM, split into model calls (HTTP to the
   fake + metering), sandbox test runs, and everything else (database, prompts, bookkeeping).

usage: .venv/bin/python bench/bench_orchestrator.py [DATABASE_URL]   (default: a temporary SQLite file)
"""

import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tests'))

from sqlalchemy import select  # noqa: E402

import aidevbot.steps as steps  # noqa: E402
from aidevbot.db import ApiKeyUsage  # noqa: E402
from aidevbot.orchestrator import ModelOrchestrator  # noqa: E402
from aidevbot.testing import demo_responder
from aidevbot.testing import FakeLLM, temp_sqlite_url  # noqa: E402
from orchestrator_support import plan_and_approve, stack  # noqa: E402


def every_file(plan, task, files):
    "Baseline: the implementer sees every file of the project on every call (with no budget, below)."
    return list(files)


_sandbox_seconds = 0.0


def _timed(fn):
    async def run(*a, **kw):
        global _sandbox_seconds
        t0 = time.perf_counter()
        try:
            return await fn(*a, **kw)
        finally:
            _sandbox_seconds += time.perf_counter() - t0

    return run


async def run(cls, db_url: str, **kw) -> dict:
    "Run the 20-file project to completion; token and time figures."
    global _sandbox_seconds
    _sandbox_seconds = 0.0
    with FakeLLM(demo_responder(variant='large')) as fake:
        async with stack(db_url, fake.base_url, orchestrator_cls=cls, orchestrator_kw=kw) as s:
            pid = await plan_and_approve(s, 'A ten-step numeric pipeline')
            t0 = time.perf_counter()
            state = await s.orch.advance(pid)
            wall = time.perf_counter() - t0
            assert state == 'completed', state
            async with s.db.sessions() as ses:
                rows = (
                    await ses.execute(
                        select(ApiKeyUsage.call_key, ApiKeyUsage.prompt_tokens, ApiKeyUsage.latency_ms)
                        .where(ApiKeyUsage.project_id == pid)
                        .order_by(ApiKeyUsage.id)
                    )
                ).all()
    impl = [(k, pt) for k, pt, _ in rows if ':impl:' in (k or '')]
    model_s = sum(ms for k, _, ms in rows if not (k or '').endswith(':plan')) / 1000
    return dict(
        per_task=[pt for _, pt in impl],
        wall=wall,
        model=model_s,
        sandbox=_sandbox_seconds,
        calls=len(rows) - 1,
        result=s.events[-1].reply.document.caption,
    )


async def main(db_url: str | None) -> None:
    steps.run_tests = _timed(steps.run_tests)
    scoped = await run(ModelOrchestrator, db_url or temp_sqlite_url())
    baseline = await run(ModelOrchestrator, db_url or temp_sqlite_url(), context_tokens=10**9, context_paths=every_file)
    print("20-file scripted project (10 tasks); prompt tokens per implementer call")
    print(f"{'task':>4} {'task-scoped':>12} {'every file':>11} {'ratio':>6}")
    for i, (a, b) in enumerate(zip(scoped['per_task'], baseline['per_task']), 1):
        print(f"{i:>4} {a:>12} {b:>11} {b / a:>6.2f}")
    ta, tb = sum(scoped['per_task']), sum(baseline['per_task'])
    print(
        f"{'all':>4} {ta:>12} {tb:>11} {tb / ta:>6.2f}   <- baseline / task-scoped "
        f"(mean per task {ta / len(scoped['per_task']):.0f} vs {tb / len(baseline['per_task']):.0f})"
    )
    print()
    print("Orchestration overhead, zero-latency FakeLLM (approve -> completed):")
    for name, r in (('task-scoped', scoped), ('every file', baseline)):
        other = r['wall'] - r['model'] - r['sandbox']
        print(
            f"  {name:<11} wall {r['wall']:6.2f}s = model calls {r['model']:5.2f}s ({r['calls']} calls) "
            f"+ sandbox tests {r['sandbox']:5.2f}s + orchestration (db, metering, prompts) {other:5.2f}s "
            f"({other / 10 * 1000:.0f} ms/task)   [{r['result']}]"
        )


if __name__ == '__main__':
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get('BENCH_DATABASE_URL')))
