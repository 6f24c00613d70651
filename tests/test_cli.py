"""The `aidevbot` command as a user runs it: help, clear errors with exit 2, migrate, pricing, set-webhook."""

import os
import subprocess
import sys


from aidevbot.cli import main
from aidevbot.config import env
from aidevbot.testing import FakeTelegram


def aidevbot(*args, **environ):
    "Run the installed console script with only `environ` set (plus PATH)."
    e = {'PATH': os.environ['PATH'], 'HOME': os.environ.get('HOME', '/tmp'), **environ}
    exe = os.path.join(os.path.dirname(sys.executable), 'aidevbot')
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, env=e, timeout=120, cwd=environ.get('_CWD', '/tmp')
    )


def test_help_explains_every_command():
    r = aidevbot('--help')
    assert r.returncode == 0
    for cmd in ('serve', 'worker', 'migrate', 'set-webhook', 'pricing', 'demo'):
        assert cmd in r.stdout
    assert 'aidevbot demo' in r.stdout and 'TELEGRAM_BOT_TOKEN' in r.stdout
    sub = aidevbot('serve', '--help')
    assert sub.returncode == 0 and '/health' in sub.stdout and 'aidevbot migrate' in sub.stdout


def test_errors_are_one_clear_line_and_exit_2(sqlite_url):
    r = aidevbot('serve', DATABASE_URL=sqlite_url)
    assert r.returncode == 2 and 'TELEGRAM_BOT_TOKEN is not set' in r.stderr and 'Traceback' not in r.stderr
    r = aidevbot('serve', DATABASE_URL=sqlite_url, TELEGRAM_BOT_TOKEN='1:X')
    assert r.returncode == 2 and 'LLM_API_KEY is not set' in r.stderr
    r = aidevbot('migrate', DATABASE_URL='mysql://root:hunter2@db/x')
    assert r.returncode == 2 and 'DATABASE_URL must look like' in r.stderr and 'hunter2' not in r.stderr
    r = aidevbot('pricing')
    assert r.returncode == 2 and 'aidevbot pricing list' in r.stderr
    r = aidevbot('pricing', 'set', 'm', 'cheap', '1')
    assert r.returncode == 2 and 'is not a number' in r.stderr
    r = aidevbot('bogus')
    assert r.returncode == 2


def test_serve_refuses_a_postgres_schema_that_is_behind(pg_url):
    r = aidevbot('serve', DATABASE_URL=pg_url, TELEGRAM_BOT_TOKEN='1:X', LLM_API_KEY='k')
    assert r.returncode == 2 and 'aidevbot migrate' in r.stderr and 'Traceback' not in r.stderr
    r = aidevbot('worker', DATABASE_URL=pg_url, TELEGRAM_BOT_TOKEN='1:X', LLM_API_KEY='k')
    assert r.returncode == 2 and 'aidevbot migrate' in r.stderr


def test_unreachable_database_is_a_clear_error():
    r = aidevbot(
        'serve', DATABASE_URL='postgresql://u:hunter2@127.0.0.1:1/x', TELEGRAM_BOT_TOKEN='1:X', LLM_API_KEY='k'
    )
    assert r.returncode == 2 and 'cannot use the database at 127.0.0.1:1/x' in r.stderr and 'hunter2' not in r.stderr


def test_migrate_then_pricing_set_and_list(db_url):
    assert aidevbot('migrate', DATABASE_URL=db_url).returncode == 0
    r = aidevbot('pricing', 'set', 'acme/coder-1', '1.25', '5', DATABASE_URL=db_url)
    assert r.returncode == 0, r.stderr
    r = aidevbot('pricing', 'list', DATABASE_URL=db_url)
    assert r.returncode == 0
    line = next(l for l in r.stdout.splitlines() if l.startswith('acme/coder-1'))
    assert line.split()[1:] == ['1.25', '5']
    assert 'anthropic/claude-sonnet-4.5' in r.stdout  # the seeded defaults


async def test_set_webhook_registers_url_secret_and_update_types():
    async with FakeTelegram() as tg:
        with env(
            TELEGRAM_BOT_TOKEN=tg.token,
            TELEGRAM_API_BASE_URL=tg.base_url,
            WEBHOOK_URL='https://bot.example/telegram/webhook',
            WEBHOOK_SECRET='s3cret-Token_1',
        ):
            r = await __import__('asyncio').to_thread(main, ['set-webhook'])
        assert r == 0
        calls = tg.calls_to('setWebhook')
        assert len(calls) == 1
        p = calls[0].params
        assert p['url'] == 'https://bot.example/telegram/webhook' and p['secret_token'] == 's3cret-Token_1'
        assert {'pre_checkout_query', 'callback_query', 'message'} <= set(p['allowed_updates'])


def test_set_webhook_without_url_or_secret_says_what_is_missing():
    r = aidevbot('set-webhook', TELEGRAM_BOT_TOKEN='1:X')
    assert r.returncode == 2 and 'WEBHOOK_URL is not set' in r.stderr
    r = aidevbot(
        'set-webhook',
        TELEGRAM_BOT_TOKEN='1:X',
        WEBHOOK_URL='https://b.example/telegram/webhook',
        WEBHOOK_SECRET='has space',
    )
    assert r.returncode == 2 and 'WEBHOOK_SECRET' in r.stderr


def test_unreachable_telegram_is_a_clear_error(sqlite_url):
    from aidevbot.testing import free_port

    token = '123:SECRET-TOKEN'
    r = aidevbot(
        'serve',
        DATABASE_URL=sqlite_url,
        TELEGRAM_BOT_TOKEN=token,
        LLM_API_KEY='k',
        TELEGRAM_API_BASE_URL=f'http://127.0.0.1:{free_port()}/bot',
    )
    assert r.returncode == 2, r.stderr
    assert 'cannot reach the Telegram Bot API' in r.stderr and 'Traceback' not in r.stderr
    assert 'SECRET-TOKEN' not in r.stdout + r.stderr
