"""api_key_usage.prompt_version: which prompt produced a call

Every model call records a short hash of the prompt files it used (aidevbot.prompting, aidevbot/prompts/*.md),
so a stored answer can be traced to the prompt that produced it. Nullable: older rows and calls made without a
prompt file (tests, `aidevbot doctor`) have none.

Revision ID: 33022120a762
Revises: 4808af128ebe
Create Date: 2026-11-29 16:21:42.758128
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '33022120a762'
down_revision: Union[str, None] = '4808af128ebe'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('api_key_usage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prompt_version', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_key_usage', schema=None) as batch_op:
        batch_op.drop_column('prompt_version')
