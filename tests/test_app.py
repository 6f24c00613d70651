"""The HTTP service on a real port: webhook secret, deduplication, fast acknowledgement,
readiness during a database outage."""

import asyncio
import json
import time
from contextlib import asynccontextmanager

import httpx
import psycopg
import uvicorn
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from telegram.ext import Application, MessageHandler, filters

from aidevbot.app import WEBHOOK_PATH, Runtime, make_app
from aidevbot.config import Settings
from aidevbot.db import TelegramUpdate, open_database
from aidevbot.testing import FakeTelegram, free_port, migrated_database

SECRET = 'test-secret_1'
HEADERS = {'X-Telegram-Bot-Api-Secret-Token': SECRET}


def settings_for(tg, db_url) -> Settings:
    return Settings(
        telegram_bot_token=tg.token,
        telegram_api_base_url=tg.base_url,
        telegram_file_base_url=tg.file_base_url,
        database_url=db_url,
        webhook_url='https://bot.example/telegram/webhook',
        webhook_secret=SECRET,
    )


def url_of(db) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def echo_runtime(db, handled: list, slow_seconds: float = 1.5):
    "A runtime whose bot answers every message with its text; a message 'slow' takes slow_seconds."

    async def handler(update, context):
        if update.effective_message.text == 'slow':
            await asyncio.sleep(slow_seconds)
        handled.append(update.update_id)
        await update.effective_message.reply_text(f"echo {update.effective_message.text}")

    async def factory(settings):
        app = (
            Application.builder()
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(settings.telegram_api_base_url)
            .concurrent_updates(True)
            .build()
        )
        app.add_handler(MessageHandler(filters.ALL, handler))
        return Runtime(settings, db, app)

    return factory


@asynccontextmanager
async def serving(app):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host='127.0.0.1', port=port, log_level='warning'))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=f'http://127.0.0.1:{port}', timeout=10) as c:
            yield c
    finally:
        server.should_exit = True
        await task


async def stored(db, update_id):
    async with db.sessions() as s:
        return await s.get(TelegramUpdate, update_id)


async def test_webhook_refuses_missing_or_wrong_secret(database):
    handled = []
    async with (
        FakeTelegram() as tg,
        serving(make_app(settings_for(tg, url_of(database)), runtime_factory=echo_runtime(database, handled))) as c,
    ):
        u = tg.message(7, 'hello', queue=False)
        assert (await c.post(WEBHOOK_PATH, json=u)).status_code == 403
        assert (
            await c.post(WEBHOOK_PATH, json=u, headers={'X-Telegram-Bot-Api-Secret-Token': 'wrong'})
        ).status_code == 403
        assert (await c.post(WEBHOOK_PATH, json=u, headers={'X-Telegram-Bot-Api-Secret-Token': ''})).status_code == 403
        await asyncio.sleep(0.5)
        assert handled == [] and tg.sent_texts(7) == []
        assert await stored(database, u['update_id']) is None  # nothing was even recorded
        assert (await c.post(WEBHOOK_PATH, json=u, headers=HEADERS)).status_code == 200
        await tg.wait_for('sendMessage')
        assert tg.sent_texts(7) == ['echo hello']


async def test_no_secret_configured_means_no_webhook(sqlite_url):
    async with migrated_database(sqlite_url) as db, FakeTelegram() as tg:
        s = settings_for(tg, sqlite_url).model_copy(update={'webhook_secret': None})
        handled = []
        async with serving(make_app(s, runtime_factory=echo_runtime(db, handled))) as c:
            assert (
                await c.post(WEBHOOK_PATH, json=tg.message(7, 'x', queue=False), headers=HEADERS)
            ).status_code == 403


async def test_same_update_twice_concurrently_is_handled_once(database):
    handled = []
    async with (
        FakeTelegram() as tg,
        serving(make_app(settings_for(tg, url_of(database)), runtime_factory=echo_runtime(database, handled))) as c,
    ):
        u = tg.message(8, 'once', queue=False)
        rs = await asyncio.gather(*(c.post(WEBHOOK_PATH, json=u, headers=HEADERS) for _ in range(5)))
        assert [r.status_code for r in rs] == [200] * 5  # duplicates are acknowledged (Telegram stops retrying) ...
        await tg.wait_for('sendMessage')
        await asyncio.sleep(0.5)
        assert handled == [u['update_id']] and tg.sent_texts(8) == ['echo once']  # ... and dropped
        assert (await stored(database, u['update_id'])).status == 'processed'


async def test_slow_handler_does_not_delay_the_acknowledgement(database):
    handled = []
    async with (
        FakeTelegram() as tg,
        serving(
            make_app(settings_for(tg, url_of(database)), runtime_factory=echo_runtime(database, handled, 3.0))
        ) as c,
    ):
        u = tg.message(9, 'slow', queue=False)
        t0 = time.monotonic()
        r = await c.post(WEBHOOK_PATH, json=u, headers=HEADERS)
        ack = time.monotonic() - t0
        assert r.status_code == 200 and handled == []
        assert ack < 2.0  # generous on a loaded machine; the handler takes 3 s
        assert (await stored(database, u['update_id'])).status == 'processing'  # persisted before the acknowledgement
        fast = tg.message(10, 'quick', queue=False)
        assert (await c.post(WEBHOOK_PATH, json=fast, headers=HEADERS)).status_code == 200
        await tg.wait_for('sendMessage', lambda call: call.params.get('chat_id') == 10)
        assert handled == [fast['update_id']]  # another user's update was not stuck behind the slow one
        await tg.wait_for('sendMessage', lambda call: call.params.get('chat_id') == 9, timeout=10)


async def test_update_acknowledged_but_not_handled_is_replayed_at_startup(sqlite_url):
    async with migrated_database(sqlite_url) as db, FakeTelegram() as tg:
        handled = []
        u = tg.message(11, 'lost', queue=False)
        async with serving(
            make_app(settings_for(tg, sqlite_url), runtime_factory=echo_runtime(db, handled, 30), grace_seconds=1)
        ) as c:
            assert (
                await c.post(WEBHOOK_PATH, json={**u, 'message': {**u['message'], 'text': 'slow'}}, headers=HEADERS)
            ).status_code == 200
        # the process "died" before the 30 s handler finished: the row is still unprocessed
        assert handled == [] and (await stored(db, u['update_id'])).status != 'processed'
        handled2 = []
        async with serving(make_app(settings_for(tg, sqlite_url), runtime_factory=echo_runtime(db, handled2, 0.1))):
            await tg.wait_for('sendMessage', lambda call: call.params.get('chat_id') == 11, timeout=10)
        assert handled2 == [u['update_id']] and (await stored(db, u['update_id'])).status == 'processed'


async def test_shutdown_lets_an_update_in_flight_finish_and_does_not_wait_for_the_replay_loop(sqlite_url):
    "The updates being handled are known as such when they start: they get the grace period, the replay loop none."
    async with migrated_database(sqlite_url) as db, FakeTelegram() as tg:
        handled = []
        app = make_app(settings_for(tg, sqlite_url), runtime_factory=echo_runtime(db, handled, 1.5), grace_seconds=20)
        u = tg.message(12, 'slow', queue=False)
        async with serving(app) as c:
            assert (await c.post(WEBHOOK_PATH, json=u, headers=HEADERS)).status_code == 200
            await asyncio.sleep(0.3)  # the replay loop is asleep for 30 s, the update is being handled
            assert app.state.runtime.background and app.state.runtime.updates
            t0 = time.monotonic()
        took = time.monotonic() - t0
        assert handled == [u['update_id']] and (await stored(db, u['update_id'])).status == 'processed'
        assert 1.0 < took < 10, took  # waited for the update (1.5 s), not for the loop's 30 s nor the 20 s grace


async def test_metrics_are_prometheus_text(database):
    async with (
        FakeTelegram() as tg,
        serving(make_app(settings_for(tg, url_of(database)), runtime_factory=echo_runtime(database, []))) as c,
    ):
        r = await c.get('/metrics')
        assert r.status_code == 200 and r.headers['content-type'].startswith('text/plain')
        for name in (
            'aidevbot_projects{state="completed"}',
            'aidevbot_jobs_queued',
            'aidevbot_llm_calls_total',
            'aidevbot_payments_total',
            'aidevbot_handler_seconds',
        ):
            assert name.split('{')[0] in r.text, name


async def _count_updates(db) -> int:
    async with db.sessions() as s:
        return await s.scalar(select(func.count()).select_from(TelegramUpdate))


async def test_webhook_body_over_the_cap_gets_413_and_nothing_is_stored(database):
    "2 MB with the right secret: 413 (declared or chunked), no row, no handler; a normal update still goes through."
    handled = []
    async with (
        FakeTelegram() as tg,
        serving(make_app(settings_for(tg, url_of(database)), runtime_factory=echo_runtime(database, handled))) as c,
    ):
        u = tg.message(12, 'big', queue=False)
        big = json.dumps({**u, 'pad': 'x' * 2_000_000}).encode()
        assert (await c.post(WEBHOOK_PATH, content=big, headers=HEADERS)).status_code == 413

        async def chunks():
            for i in range(0, len(big), 65536):
                yield big[i : i + 65536]

        assert (await c.post(WEBHOOK_PATH, content=chunks(), headers=HEADERS)).status_code == 413
        await asyncio.sleep(0.5)
        assert handled == [] and tg.sent_texts(12) == [] and await _count_updates(database) == 0
        assert (await c.post(WEBHOOK_PATH, json=u, headers=HEADERS)).status_code == 200
        await tg.wait_for('sendMessage')
        assert tg.sent_texts(12) == ['echo big'] and await _count_updates(database) == 1


async def test_webhook_refuses_a_declared_2mb_body_before_reading_it(sqlite_url):
    "Only the headers are sent: the 413 arrives at once, so the server did not wait for (or read) the body."
    async with migrated_database(sqlite_url) as db, FakeTelegram() as tg:
        async with serving(make_app(settings_for(tg, sqlite_url), runtime_factory=echo_runtime(db, []))) as c:
            port = c.base_url.port
            reader, writer = await asyncio.open_connection('127.0.0.1', port)
            writer.write(
                f'POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
                f'X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nContent-Length: 2000000\r\n\r\n'.encode()
            )
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 5)
            writer.close()
            assert status.startswith(b'HTTP/1.1 413'), status
            assert await _count_updates(db) == 0


async def test_metrics_token_is_required_when_set(sqlite_url):
    async with migrated_database(sqlite_url) as db, FakeTelegram() as tg:
        s = settings_for(tg, sqlite_url).model_copy(update={'metrics_token': SecretStr('scrape-me')})
        async with serving(make_app(s, runtime_factory=echo_runtime(db, []))) as c:
            for headers in ({}, {'Authorization': 'Bearer wrong'}, {'Authorization': 'Basic scrape-me'}):
                r = await c.get('/metrics', headers=headers)
                assert r.status_code == 401 and 'aidevbot_' not in r.text and r.headers['www-authenticate'] == 'Bearer'
            r = await c.get('/metrics', headers={'Authorization': 'Bearer scrape-me'})
            assert r.status_code == 200 and 'aidevbot_projects' in r.text
            assert (await c.get('/health')).status_code == 200  # probes stay open


def _set_connections(url: str, allow: bool) -> None:
    u = make_url(url)
    admin = u.set(database='postgres').render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'ALTER DATABASE "{u.database}" ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            c.execute(
                'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()',
                (u.database,),
            )


async def test_ready_follows_the_database_and_health_does_not(pg_url):
    async with migrated_database(pg_url) as db, FakeTelegram() as tg:
        async with serving(make_app(settings_for(tg, pg_url), runtime_factory=echo_runtime(db, []))) as c:
            assert (await c.get('/ready')).status_code == 200
            await asyncio.to_thread(_set_connections, pg_url, False)
            try:
                r = await c.get('/ready')
                assert r.status_code == 503 and 'database unreachable' in r.json()['reason']
                assert (await c.get('/health')).status_code == 200
                assert (await c.get('/metrics')).status_code == 200  # scraping survives the outage
                u = {
                    'update_id': 99,
                    'message': {'message_id': 1, 'date': 0, 'chat': {'id': 5, 'type': 'private'}, 'text': 'x'},
                }
                assert (
                    await c.post(WEBHOOK_PATH, json=u, headers=HEADERS)
                ).status_code == 503  # not stored: not acknowledged
            finally:
                await asyncio.to_thread(_set_connections, pg_url, True)
            deadline = time.monotonic() + 20
            while (r := await c.get('/ready')).status_code != 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.3)
            assert r.status_code == 200, r.text
            assert (await c.get('/health')).status_code == 200


async def test_ready_reports_a_schema_behind_the_code(pg_url):
    from aidevbot.db import migrate

    await asyncio.to_thread(migrate, pg_url, '5e1f0a7c9b21')
    db = await open_database(pg_url)
    try:
        async with (
            FakeTelegram() as tg,
            serving(make_app(settings_for(tg, pg_url), runtime_factory=echo_runtime(db, []))) as c,
        ):
            r = await c.get('/ready')
            assert r.status_code == 503 and 'aidevbot migrate' in r.json()['reason']
            assert (await c.get('/health')).status_code == 200
    finally:
        await db.dispose()
