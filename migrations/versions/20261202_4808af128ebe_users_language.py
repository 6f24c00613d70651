"""users.language: the language a user chose with /language

Nullable: None means "follow Telegram's language_code" (already stored), so existing users need no backfill.

Revision ID: 4808af128ebe
Revises: a3f9d2c61e47
Create Date: 2026-11-29 16:28:03
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '4808af128ebe'
down_revision: Union[str, None] = 'a3f9d2c61e47'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:  # batch: SQLite rebuilds the table
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('language')
