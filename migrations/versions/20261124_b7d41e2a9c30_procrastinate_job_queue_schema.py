"""procrastinate job queue schema (PostgreSQL only)

`JOB_BACKEND=procrastinate` keeps project jobs in procrastinate's tables. Its schema ships with
the library (procrastinate 3); applying it here makes `aidevbot migrate` the one explicit schema
step of a deployment. SQLite has no job queue (the embedded runner needs none): no-op there.
migrations/env.py ignores procrastinate_* objects, so `alembic check` stays clean.

Revision ID: b7d41e2a9c30
Revises: 5e1f0a7c9b21
Create Date: 2026-11-24 22:20:00
"""
from typing import Sequence, Union

from alembic import op

revision: str = 'b7d41e2a9c30'
down_revision: Union[str, None] = '5e1f0a7c9b21'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_DROP = """
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate%' LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.tablename); END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%' LOOP
    EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', r.sig); END LOOP;
  FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%' AND t.typtype IN ('e', 'c') LOOP
    EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.typname); END LOOP;
END $$;
"""


def _raw_execute(sql: str) -> None:
    # the raw psycopg cursor runs a multi-statement script without parameter parsing, in
    # Alembic's transaction
    bind = op.get_bind()
    with bind.connection.driver_connection.cursor() as cur:
        cur.execute(sql)


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    from procrastinate.schema import SchemaManager
    _raw_execute(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    _raw_execute(_DROP)
