"""Shared fixtures: a real database per test, on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""

import os

import pytest

from aidevbot.testing import PG_HELP, migrated_database, pg_database, pg_server_url, temp_sqlite_url


def require_pg() -> str:
    "The PostgreSQL server URL, or skip (fail under CI, where AIDEVBOT_REQUIRE_POSTGRES=1)."
    server = pg_server_url()
    if not server:
        if os.environ.get('AIDEVBOT_REQUIRE_POSTGRES'):
            pytest.fail('AIDEVBOT_REQUIRE_POSTGRES is set but ' + PG_HELP)
        pytest.skip(PG_HELP)
    return server


@pytest.fixture
def pg_url():
    "A fresh, empty PostgreSQL database, dropped afterwards."
    with pg_database(require_pg()) as url:
        yield url


@pytest.fixture
def sqlite_url():
    return temp_sqlite_url()


@pytest.fixture(params=['sqlite', 'postgresql'])
def db_url(request):
    "The same test on SQLite and on PostgreSQL."
    return request.getfixturevalue('pg_url' if request.param == 'postgresql' else 'sqlite_url')


@pytest.fixture
async def database(db_url):
    "A migrated `Database` (engine + sessions) on each backend."
    async with migrated_database(db_url) as db:
        yield db
