"""A running aidevbot Telegram bot for tests:
the real PTB Application polling FakeTelegram over HTTP, a real database."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aidevbot.billing import Ledger
from aidevbot.bot import build_application
from aidevbot.config import Settings, load_settings
from aidevbot.db import Database
from aidevbot.testing import FakeTelegram
from aidevbot.users import UserService

ADMIN = 777  # the Telegram id of the admin in these tests


@dataclass
class RunningBot:
    "A polling bot and what a test needs to talk to it."

    app: Any
    tg: FakeTelegram
    db: Database
    settings: Settings
    ledger: Ledger
    users: UserService

    async def ask(self, send, predicate=None, *, method: str = 'sendMessage', timeout: float = 15):
        "Queue an update (`send()` calls a FakeTelegram synthesizer), wait for the bot's next matching call after it."
        since = len(self.tg.calls)
        send()
        return await self.tg.wait_for(method, predicate, timeout=timeout, since=since)

    async def command(self, user_id: int, text: str, predicate=None, **kw):
        "Send a command (or any text) and return the bot's next sendMessage call."
        return await self.ask(lambda: self.tg.command(user_id, text), predicate, **kw)

    async def balance(self, telegram_user_id: int) -> Decimal:
        async with self.db.sessions() as s:
            user = await self.users.get_user_by_telegram_id(s, telegram_user_id)
        return await self.ledger.balance(user.id)


def bot_settings(tg: FakeTelegram, **overrides) -> Settings:
    "Settings pointing the bot at the fake Telegram server."
    return load_settings(
        _env_file=None,
        **{
            'telegram_bot_token': tg.token,
            'telegram_api_base_url': tg.base_url,
            'telegram_file_base_url': tg.file_base_url,
            'admin_user_ids': str(ADMIN),
            'progress_edit_seconds': 0.2,
            **overrides,
        },
    )


@asynccontextmanager
async def running_bot(
    db: Database,
    tg: FakeTelegram,
    *,
    settings: Settings | None = None,
    orchestrator=None,
    runner=None,
    ledger: Ledger | None = None,
    users: UserService | None = None,
):
    "Build the Application with `build_application` and poll `tg` until the block ends."
    settings = settings or bot_settings(tg)
    ledger = ledger or Ledger(db)
    users = users or UserService(db, settings, ledger)
    app = build_application(settings, db=db, orchestrator=orchestrator, runner=runner, users=users, ledger=ledger)
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            yield RunningBot(app, tg, db, settings, ledger, users)
        finally:
            await app.updater.stop()
            await app.stop()


async def buy_pack(bot: RunningBot, user_id: int, pack_id: str = 'p100') -> dict:
    "Press the pack's buy button and return the invoice the bot sent."
    call = await bot.ask(lambda: bot.tg.callback(user_id, f'buy:{pack_id}'), method='sendInvoice')
    return call.params


async def settle(seconds: float = 0.3) -> None:
    "Give the bot a moment to (not) react."
    await asyncio.sleep(seconds)
