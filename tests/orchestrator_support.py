"""Shared set-up for the orchestrator tests, the crash-test worker and the benchmark: a real database, the real
ledger, pricing and LLM client pointed at a FakeLLM, and a user with credits."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import zipfile
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from aidevbot.billing import Ledger, Pricing
from aidevbot.config import load_settings
from aidevbot.db import Database, open_database
from aidevbot.llm import LLMClient
from aidevbot.orchestrator import ModelOrchestrator
from aidevbot.steps import Event
from aidevbot.users import UserService
from aidevbot.wiring import build_services

PRICES = (Decimal('3'), Decimal('15'))  # USD per million input / output tokens


@dataclass
class Stack:
    settings: object
    db: Database
    ledger: Ledger
    pricing: Pricing
    llm: LLMClient
    orch: ModelOrchestrator
    user_id: int
    events: list[Event] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@asynccontextmanager
async def stack(
    db_url: str,
    llm_base_url: str,
    *,
    credits: Decimal | int = 1000,
    telegram_user_id: int = 1001,
    orchestrator_cls=ModelOrchestrator,
    orchestrator_kw: dict | None = None,
    prepare: bool = True,
    **overrides,
):
    "Everything the orchestrator needs, on `db_url`, talking to the FakeLLM at `llm_base_url`."
    settings = load_settings(
        database_url=db_url, llm_base_url=llm_base_url, llm_api_key='sk-test-orchestrator', **overrides
    )
    db = await open_database(db_url, upgrade=True)
    try:
        ledger, pricing = Ledger(db), Pricing(db, settings)
        if prepare:
            for m in {settings.architect_model, settings.implementer_model, settings.reviewer_model}:
                await pricing.set_price(m, *PRICES)
        user, _ = await UserService(db, settings, ledger).ensure_user(telegram_user_id, first_name='Ada')
        have = await ledger.balance(user.id)
        if prepare and Decimal(credits) > have:
            await ledger.credit(user.id, Decimal(credits) - have, kind='admin', key=f'test-topup:{telegram_user_id}')
        events: list[Event] = []
        async with await build_services(  # the wiring serve and worker use
            settings,
            db=db,
            ledger=ledger,
            pricing=pricing,
            on_event=events.append,
            orchestrator_cls=orchestrator_cls,
            **(orchestrator_kw or {}),
        ) as svc:
            yield Stack(settings, db, ledger, pricing, svc.llm, svc.orchestrator, user.id, events)
    finally:
        await db.dispose()


async def plan_and_approve(s: Stack, description: str = 'A word statistics command-line tool') -> int:
    "A project planned and approved (state queued)."
    pid = await s.orch.create_project(user_id=s.user_id, chat_id=555, description=description)
    assert await s.orch.advance(pid) == 'awaiting_approval'
    reply = await s.orch.approve(pid, user_id=s.user_id)
    assert reply.text.startswith('✅'), reply.text
    return pid


def unzip_and_test(data: bytes) -> tuple[subprocess.CompletedProcess, Path]:
    "Unpack a delivered ZIP into a fresh temporary folder and run its tests with pytest in a subprocess."
    root = Path(tempfile.mkdtemp(prefix='aidevbot-zip-'))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            target = (root / name).resolve()
            assert target.is_relative_to(root.resolve()), name
        zf.extractall(root)
    (project,) = [p for p in root.iterdir() if p.is_dir()]
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'PYTHONDONTWRITEBYTECODE': '1'}
    proc = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider'],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, project
