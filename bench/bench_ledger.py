"""Ledger debits per second on PostgreSQL with 50 concurrent clients, beside pgbench's simple-update TPS.

Both run against the same server, each in a scratch database created here and dropped afterwards:

    python bench/bench_ledger.py [--server postgresql://postgres@127.0.0.1:5432/postgres]
                                 [--clients 50] [--jobs 2] [--seconds 10] [--users 10000]

A ledger debit is one transaction: the conditional `UPDATE users ... WHERE credit_balance >= x
RETURNING` and the ledger `INSERT` (whose unique idempotency key turns a repeat into a rollback),
sent as one statement, plus the pool's pre-ping. pgbench `-N` (simple update: one UPDATE, one
SELECT, one INSERT per transaction) is the baseline for the same shape of work without Python.
Like pgbench's `-j 2` threads, the ledger clients are spread over `--jobs` processes. The ratio is
the figure; the client CPU per debit (SQLAlchemy Core + asyncio + psycopg, about a millisecond)
printed beside it says how much of the gap is Python on the client rather than the database.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from decimal import Decimal

import psycopg
from sqlalchemy.engine import make_url

DEFAULT_SERVER = (
    os.environ.get('BENCH_DATABASE_URL')
    or os.environ.get('TEST_DATABASE_URL')
    or 'postgresql://postgres@127.0.0.1:5432/postgres'
)


def admin_url(server: str) -> str:
    return make_url(server).set(drivername='postgresql').render_as_string(hide_password=False)


def db_url(server: str, name: str) -> str:
    return make_url(server).set(drivername='postgresql', database=name).render_as_string(hide_password=False)


def create_db(server: str, name: str) -> None:
    with psycopg.connect(admin_url(server), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')


def drop_db(server: str, name: str) -> None:
    with psycopg.connect(admin_url(server), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(url: str, users: int, balance: int) -> None:
    "`users` users, each with `balance` credits granted by a ledger entry."
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(
            "INSERT INTO users (telegram_user_id, credit_balance) SELECT g, %s FROM generate_series(1, %s) g",
            (balance, users),
        )
        c.execute(
            "INSERT INTO credit_transactions (user_id, amount, balance_after, kind, idempotency_key) "
            "SELECT id, credit_balance, credit_balance, 'admin', 'bench:seed:' || id FROM users"
        )
        c.execute("ANALYZE")


def _worker(url: str, clients: int, users: int, start_at: float, seconds: float, tag: str, out) -> None:
    "One process: `clients` concurrent debit loops for `seconds` from `start_at`; puts (debits, refused, cpu seconds)."
    import random

    from aidevbot.billing import InsufficientCredits, Ledger
    from aidevbot.db import make_engine, make_sessionmaker, Database

    async def main():
        engine = make_engine(url, pool_size=clients, max_overflow=0)
        ledger = Ledger(Database(engine, make_sessionmaker(engine)))
        done = refused = 0

        async def client(i):
            nonlocal done, refused
            rng, n = random.Random(f'{tag}:{i}'), 0
            while time.time() < start_at + seconds:
                n += 1
                try:
                    await ledger.debit(rng.randint(1, users), Decimal('0.01'), key=f'bench:{tag}:{i}:{n}')
                except InsufficientCredits:
                    refused += 1
                else:
                    if time.time() <= start_at + seconds:
                        done += 1

        async with engine.connect() as conn:
            await conn.exec_driver_sql('SELECT 1')  # warm the pool
        await asyncio.sleep(max(0.0, start_at - time.time()))
        cpu = time.process_time()
        await asyncio.gather(*(client(i) for i in range(clients)))
        cpu = time.process_time() - cpu
        await engine.dispose()
        out.put((done, refused, cpu))

    asyncio.run(main())


def bench_ledger(server: str, clients: int, jobs: int, seconds: float, users: int) -> tuple[float, float, list]:
    "Debits/s by `clients` concurrent clients in `jobs` processes, client CPU ms per debit, check_consistency() after."
    from aidevbot.billing import Ledger
    from aidevbot.db import migrate, open_database

    name = f'aidevbot_bench_{uuid.uuid4().hex[:10]}'
    create_db(server, name)
    try:
        url = db_url(server, name)
        migrate(url)
        seed(url, users, 1_000_000)
        ctx, out = mp.get_context('spawn'), None
        out = ctx.Queue()
        start_at = time.time() + 3.0  # all processes start together
        per = [clients // jobs + (1 if j < clients % jobs else 0) for j in range(jobs)]
        procs = [
            ctx.Process(target=_worker, args=(url, n, users, start_at, seconds, f'j{j}', out))
            for j, n in enumerate(per)
        ]
        for p in procs:
            p.start()
        results = [out.get(timeout=seconds + 120) for _ in procs]
        for p in procs:
            p.join()
        done, refused, cpu = (sum(r[i] for r in results) for i in range(3))
        if refused:
            print(f'warning: {refused} debits refused (balance), not counted', file=sys.stderr)

        async def check():
            db = await open_database(url)
            try:
                return await Ledger(db).check_consistency()
            finally:
                await db.dispose()

        return done / seconds, cpu / max(done, 1) * 1000, asyncio.run(check())
    finally:
        drop_db(server, name)


def bench_pgbench(server: str, clients: int, jobs: int, seconds: float) -> float:
    "pgbench -N (simple update) TPS on a scratch database on the same server."
    exe = shutil.which('pgbench')
    if not exe:
        raise SystemExit('pgbench is not installed (apt-get install postgresql-client)')
    u = make_url(server)
    name = f'aidevbot_pgbench_{uuid.uuid4().hex[:10]}'
    conn = ['-h', u.host or '127.0.0.1', '-p', str(u.port or 5432), '-U', u.username or 'postgres']
    env = {**os.environ, **({'PGPASSWORD': u.password} if u.password else {})}
    create_db(server, name)
    try:
        subprocess.run([exe, '-i', '-q', *conn, name], check=True, env=env, capture_output=True)
        r = subprocess.run(
            [exe, '-N', '-c', str(clients), '-j', str(jobs), '-T', str(int(seconds)), *conn, name],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        )
        m = re.search(
            r'tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)', r.stdout
        )
        if not m:
            raise SystemExit(f'could not read pgbench output:\n{r.stdout}\n{r.stderr}')
        return float(m.group(1))
    finally:
        drop_db(server, name)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--server', default=DEFAULT_SERVER, help='PostgreSQL server URL (a user that may CREATE DATABASE)')
    p.add_argument('--clients', type=int, default=50)
    p.add_argument('--jobs', type=int, default=2, help='processes for the ledger clients (pgbench -j)')
    p.add_argument('--seconds', type=float, default=10)
    p.add_argument('--users', type=int, default=10000, help='users the debits spread over')
    a = p.parse_args(argv)
    safe = make_url(a.server).render_as_string(hide_password=True)
    print(f'server {safe}: {a.clients} clients, {a.jobs} jobs, {a.seconds:g} s each')
    ledger_rate, cpu_ms, problems = bench_ledger(a.server, a.clients, a.jobs, a.seconds, a.users)
    tps = bench_pgbench(a.server, a.clients, a.jobs, a.seconds)
    print(f'ledger debits/s (aidevbot Ledger.debit):  {ledger_rate:10.1f}')
    print(f'pgbench -N simple-update TPS:             {tps:10.1f}')
    print(f'ratio ledger / pgbench:                   {ledger_rate / tps:10.2f}')
    print(f'client CPU per ledger debit (Python):     {cpu_ms:10.2f} ms')
    print(f'ledger consistent afterwards:             {"yes" if not problems else f"NO: {problems[:3]}"}')
    return 0 if not problems else 1


if __name__ == '__main__':
    sys.exit(main())
