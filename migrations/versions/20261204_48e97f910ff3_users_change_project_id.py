"""users.change_project_id: the project a user's next message changes

Set when the user presses a completed project's Change button, taken (and cleared) by their next plain message. Kept
in the database rather than in one process's memory, so the answer may reach any replica. Nullable, no foreign key
(the bot checks that the project is the user's when it reads it): existing users need no backfill.

Revision ID: 48e97f910ff3
Revises: d88e0ee38432
Create Date: 2026-12-04 10:05:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '48e97f910ff3'
down_revision: Union[str, None] = 'd88e0ee38432'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_project_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('change_project_id')
