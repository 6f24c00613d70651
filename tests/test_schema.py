"""The schema is Alembic's alone, and the database itself enforces the money rules."""

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError

from aidevbot.config import sync_url
from aidevbot.db import Payment, ProjectFile, Project, User

ROOT = Path(__file__).resolve().parents[1]


def alembic(url, *args):
    "Run the alembic CLI from the repository root against `url`, as an operator would."
    env = {'PATH': str(Path(sys.executable).parent), 'DATABASE_URL': url, 'HOME': '/tmp'}
    return subprocess.run([sys.executable, '-m', 'alembic', *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_upgrade_check_downgrade_roundtrip(db_url):
    for step in (['upgrade', 'head'], ['check'], ['downgrade', 'base'], ['upgrade', 'head'], ['check']):
        r = alembic(db_url, *step)
        assert r.returncode == 0, f"alembic {' '.join(step)} failed:\n{r.stdout}\n{r.stderr}"
    assert 'No new upgrade operations detected' in r.stdout + r.stderr
    # and `check` can fail: a schema that differs from the models at the head is reported
    engine = create_engine(sync_url(db_url))
    with engine.begin() as c:
        c.exec_driver_sql('DROP INDEX ix_credit_transactions_user_created')
        if engine.dialect.name == 'postgresql':  # a changed column type is drift too (compare_type=True)
            c.exec_driver_sql('ALTER TABLE users ALTER COLUMN username TYPE varchar(10)')
    engine.dispose()
    r = alembic(db_url, 'check')
    out = r.stdout + r.stderr
    assert (
        r.returncode != 0 and 'New upgrade operations detected' in out and 'ix_credit_transactions_user_created' in out
    ), out
    if engine.dialect.name == 'postgresql':
        assert 'modify_type' in out and 'username' in out, out


def test_check_fails_for_a_database_behind_the_head(sqlite_url):
    assert alembic(sqlite_url, 'upgrade', 'c2ce95c45f8a').returncode == 0
    r = alembic(sqlite_url, 'check')
    assert r.returncode != 0 and 'not up to date' in r.stdout + r.stderr


async def test_duplicate_telegram_user_refused(database):
    async with database.sessions.begin() as s:
        s.add(User(telegram_user_id=777, username='first'))
    with pytest.raises(IntegrityError):
        async with database.sessions.begin() as s:
            s.add(User(telegram_user_id=777, username='second'))
    async with database.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(User))).scalar() == 1


async def test_duplicate_payment_charge_refused(database):
    async with database.sessions.begin() as s:
        u = User(telegram_user_id=1)
        s.add(u)
        await s.flush()
        s.add(
            Payment(user_id=u.id, telegram_payment_charge_id='charge-1', pack='p100', stars=750, credits=Decimal(100))
        )
    with pytest.raises(IntegrityError):
        async with database.sessions.begin() as s:
            s.add(
                Payment(
                    user_id=u.id, telegram_payment_charge_id='charge-1', pack='p500', stars=3500, credits=Decimal(500)
                )
            )
    async with database.sessions() as s:
        assert (await s.execute(select(Payment.pack))).scalars().all() == ['p100']


async def test_negative_balance_and_duplicate_file_version_refused(database):
    async with database.sessions.begin() as s:
        u = User(telegram_user_id=2, credit_balance=Decimal('5'))
        s.add(u)
        await s.flush()
        p = Project(user_id=u.id, description='x')
        s.add(p)
        await s.flush()
        s.add(ProjectFile(project_id=p.id, version=1, path='a.py', content='', sha256='0' * 64, size=0))
    with pytest.raises(IntegrityError):
        async with database.sessions.begin() as s:
            s.add(ProjectFile(project_id=p.id, version=1, path='a.py', content='x', sha256='1' * 64, size=1))
    async with database.sessions.begin() as s:  # the same path in version 2 is fine
        s.add(ProjectFile(project_id=p.id, version=2, path='a.py', content='x', sha256='1' * 64, size=1))
    with pytest.raises(IntegrityError):
        async with database.sessions.begin() as s:
            (await s.get(User, u.id)).credit_balance = Decimal('-0.01')


async def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(sqlite_url):
    from aidevbot.config import Settings
    from aidevbot.db import make_engine, make_sessionmaker, migrate

    migrate(sqlite_url)
    engine = make_engine(Settings(_env_file=None, database_url=sqlite_url, sqlite_busy_timeout_ms=4321))
    try:
        async with engine.connect() as c:
            assert (await c.exec_driver_sql('PRAGMA journal_mode')).scalar() == 'wal'
            assert (await c.exec_driver_sql('PRAGMA foreign_keys')).scalar() == 1
            assert (await c.exec_driver_sql('PRAGMA busy_timeout')).scalar() == 4321
        with pytest.raises(IntegrityError):  # foreign keys are enforced, not just declared
            async with make_sessionmaker(engine).begin() as s:
                s.add(Project(user_id=424242, description='orphan'))
    finally:
        await engine.dispose()
