"""seed prices for the default models

A model with no price is never called, so a fresh install must know the defaults' prices
(OpenRouter list prices, USD per million tokens). Operators change them with
`aidevbot pricing set MODEL IN OUT`.

Revision ID: 5e1f0a7c9b21
Revises: c2ce95c45f8a
Create Date: 2026-11-24 22:10:00
"""
from decimal import Decimal
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '5e1f0a7c9b21'
down_revision: Union[str, None] = 'c2ce95c45f8a'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PRICES = [  # model, USD per million input tokens, USD per million output tokens
    ('anthropic/claude-sonnet-4.5', Decimal('3'), Decimal('15')),
    ('openai/gpt-4.1-mini', Decimal('0.40'), Decimal('1.60')),
]

pricing = sa.table('model_pricing', sa.column('model', sa.String), sa.column('input_usd_per_mtok', sa.Numeric(18, 6)),
                   sa.column('output_usd_per_mtok', sa.Numeric(18, 6)))


def upgrade() -> None:
    op.bulk_insert(pricing, [{'model': m, 'input_usd_per_mtok': i, 'output_usd_per_mtok': o} for m, i, o in PRICES])


def downgrade() -> None:
    op.execute(pricing.delete().where(pricing.c.model.in_([m for m, _, _ in PRICES])))
