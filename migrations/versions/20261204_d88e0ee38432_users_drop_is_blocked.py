"""users.is_blocked: dropped

The flag was never set nor read: nothing blocked a user. Dropping it keeps the schema to what the code uses; the
downgrade brings it back as it was (false for everyone).

Revision ID: d88e0ee38432
Revises: 33022120a762
Create Date: 2026-12-04 10:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'd88e0ee38432'
down_revision: Union[str, None] = '33022120a762'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:  # batch: SQLite rebuilds the table
        batch_op.drop_column('is_blocked')


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_blocked', sa.Boolean(), server_default=sa.text('(false)'), nullable=False))
