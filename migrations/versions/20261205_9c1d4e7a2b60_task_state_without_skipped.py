"""project_tasks.state: 'skipped' is no longer a state

No code ever set a task to 'skipped' (a task is pending, running, done or failed), so the value leaves the enum and
the CHECK constraint generated from it. The downgrade allows it again.

Revision ID: 9c1d4e7a2b60
Revises: 48e97f910ff3
Create Date: 2026-12-05 10:00:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '9c1d4e7a2b60'
down_revision: Union[str, None] = '48e97f910ff3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_NOW = "state IN ('pending', 'running', 'done', 'failed')"
_BEFORE = "state IN ('pending', 'running', 'done', 'failed', 'skipped')"


def _state_check(condition: str) -> None:
    with op.batch_alter_table('project_tasks', schema=None) as batch_op:  # batch: SQLite rebuilds the table
        batch_op.drop_constraint(op.f('ck_project_tasks_state'), type_='check')
        batch_op.create_check_constraint(op.f('ck_project_tasks_state'), condition)


def upgrade() -> None:
    op.execute("UPDATE project_tasks SET state = 'pending' WHERE state = 'skipped'")  # none expected
    _state_check(_NOW)


def downgrade() -> None:
    _state_check(_BEFORE)
