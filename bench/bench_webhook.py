"""Webhook throughput: `aidevbot serve` beside a bare python-telegram-bot echo bot, on the same harness.

    python bench/bench_webhook.py [--n 500] [--concurrency 32] [--database-url postgresql://...]

Both servers run as subprocesses against the same loopback FakeTelegram (the Bot API). The harness
posts N `/credits` updates (from 50 users) to each webhook with the secret header, N at a time up to
--concurrency in flight, and measures:
  acknowledged/s  N / time until every POST was answered 200 (aidevbot persists each update first)
  handled/s       N / time until the fake received N replies (sendMessage)
and prints the ratio aidevbot / echo. The echo bot is python-telegram-bot's own webhook server
(`run_webhook`, tornado) with one MessageHandler answering each message, updates handled
concurrently as aidevbot does: the floor cost of PTB.
aidevbot's bot uses AIORateLimiter (Telegram allows ~30 messages/s overall), which bounds its
handled/s; acknowledged/s is not bounded by it.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

from aidevbot.testing import FakeTelegram, free_port

SECRET = 'bench-secret'
ECHO_BOT = textwrap.dedent('''
    import sys
    from telegram.ext import Application, MessageHandler, filters
    token, base_url, port, secret = sys.argv[1:5]
    async def echo(update, context): await update.effective_message.reply_text(update.effective_message.text or '.')
    app = Application.builder().token(token).base_url(base_url).concurrent_updates(True).build()  # like aidevbot's
    app.add_handler(MessageHandler(filters.ALL, echo))
    app.run_webhook(listen='127.0.0.1', port=int(port), url_path='telegram/webhook', secret_token=secret,
                    webhook_url=f'http://127.0.0.1:{port}/telegram/webhook', drop_pending_updates=False)
''')


def start_aidevbot(tg: FakeTelegram, port: int, database_url: str) -> subprocess.Popen:
    env = {
        'PATH': os.environ['PATH'],
        'HOME': os.environ.get('HOME', '/tmp'),
        'TELEGRAM_BOT_TOKEN': tg.token,
        'TELEGRAM_API_BASE_URL': tg.base_url,
        'TELEGRAM_FILE_BASE_URL': tg.file_base_url,
        'DATABASE_URL': database_url,
        'WEBHOOK_URL': f'http://127.0.0.1:{port}/telegram/webhook',
        'WEBHOOK_SECRET': SECRET,
        'LLM_API_KEY': 'bench',
        'PORT': str(port),
        'HOST': '127.0.0.1',
    }
    if not database_url.startswith('sqlite'):
        subprocess.run(
            [Path(sys.executable).with_name('aidevbot'), 'migrate'], env=env, check=True, capture_output=True
        )
    return subprocess.Popen(
        [Path(sys.executable).with_name('aidevbot'), 'serve'],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_echo(tg: FakeTelegram, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, '-c', ECHO_BOT, tg.token, tg.base_url, str(port), SECRET],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_up(url: str, probe: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as c:
        while time.monotonic() < deadline:
            try:
                r = await c.get(url + probe, timeout=2)
                if r.status_code == 200 or not probe:
                    return  # the echo server has no probe: any answer will do
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f'{url} did not come up')


async def post_all(tg: FakeTelegram, url: str, n: int, concurrency: int, users: int = 50) -> tuple[float, float]:
    "Post n /credits updates; (seconds until all acknowledged, seconds until n replies were sent)."
    updates = [tg.command(10_000 + i % users, '/credits', queue=False) for i in range(n)]
    before = len(tg.calls_to('sendMessage'))
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as c:

        async def post(u):
            async with sem:
                r = await c.post(url, json=u, headers={'X-Telegram-Bot-Api-Secret-Token': SECRET})
                r.raise_for_status()

        t0 = time.perf_counter()
        await asyncio.gather(*(post(u) for u in updates))
        acked = time.perf_counter() - t0
    while len(tg.calls_to('sendMessage')) - before < n:
        if time.perf_counter() - t0 > 600:
            raise TimeoutError('replies missing')
        await asyncio.sleep(0.02)
    return acked, time.perf_counter() - t0


async def measure(name: str, start, tg: FakeTelegram, n: int, concurrency: int, probe: str) -> tuple[float, float]:
    port = free_port()
    proc = start(tg, port)
    try:
        base = f'http://127.0.0.1:{port}'
        await wait_up(base, probe)
        url = base + '/telegram/webhook'
        await post_all(tg, url, min(50, n), concurrency)  # warm up: users exist, connections open
        acked, handled = await post_all(tg, url, n, concurrency)
        print(f'{name:<26} acknowledged {n / acked:8.1f}/s   handled {n / handled:8.1f}/s', flush=True)
        return n / acked, n / handled
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=500, help='updates posted to each server')
    ap.add_argument('--concurrency', type=int, default=32, help='requests in flight')
    ap.add_argument('--database-url', default=None, help='aidevbot database (default: a temporary SQLite file)')
    a = ap.parse_args()
    db = a.database_url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='aidevbot-bench-')) / 'bench.db'}"
    print(f'{a.n} webhook updates (/credits), {a.concurrency} in flight, database {db.split("@")[-1]}')
    with FakeTelegram() as tg:
        echo = await measure('bare PTB echo (tornado)', start_echo, tg, a.n, a.concurrency, '')
        tg.reset()
        await asyncio.sleep(0.5)
        ours = await measure('aidevbot serve', lambda t, p: start_aidevbot(t, p, db), tg, a.n, a.concurrency, '/ready')
    print(f'ratio aidevbot/echo: acknowledged {ours[0] / echo[0]:.2f}   handled {ours[1] / echo[1]:.2f}')


if __name__ == '__main__':
    asyncio.run(main())
