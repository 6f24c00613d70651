"""Alembic environment: reads DATABASE_URL through aidevbot's Settings, like the app does."""
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

from aidevbot.config import load_settings, sync_url
from aidevbot.db import Base

config = context.config
if config.config_file_name is not None and config.attributes.get('configure_logger', True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    # aidevbot.db.migrate() passes the URL in attributes; the alembic CLI reads Settings (env / .env)
    return sync_url(config.attributes.get('database_url') or load_settings().database_url)


def _include_object(obj, name, type_, reflected, compare_to):
    # procrastinate's job queue tables are managed by procrastinate's own schema, not by us
    return not (name or '').startswith('procrastinate')


def _configure(**kw) -> None:
    context.configure(target_metadata=target_metadata, render_as_batch=True, compare_type=True,
                      include_object=_include_object, **kw)


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={'paramstyle': 'named'})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
