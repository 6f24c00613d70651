"""seed prices for the current default models

The defaults moved off models their vendors retire (anthropic/claude-sonnet-4.5 retires 2026-11-30,
openai/gpt-4.1-mini shuts down 2027-01-14). A model with no price is never called, so a fresh install must
know the new defaults' prices (OpenRouter list prices, USD per million tokens). Rows an operator already set
are left alone. `aidevbot pricing sync` imports every other price from the provider's /models listing.

Revision ID: a3f9d2c61e47
Revises: b7d41e2a9c30
Create Date: 2026-12-01 10:00:00
"""
from decimal import Decimal
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = 'a3f9d2c61e47'
down_revision: Union[str, None] = 'b7d41e2a9c30'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PRICES = [  # model, USD per million input tokens, USD per million output tokens
    ('anthropic/claude-sonnet-4.6', Decimal('3'), Decimal('15')),
    ('openai/gpt-5-mini', Decimal('0.25'), Decimal('2')),
]

pricing = sa.table('model_pricing', sa.column('model', sa.String), sa.column('input_usd_per_mtok', sa.Numeric(18, 6)),
                   sa.column('output_usd_per_mtok', sa.Numeric(18, 6)))


def upgrade() -> None:
    have = {m for (m,) in op.get_bind().execute(sa.select(pricing.c.model).where(pricing.c.model.in_([m for m, _, _ in PRICES])))}
    rows = [{'model': m, 'input_usd_per_mtok': i, 'output_usd_per_mtok': o} for m, i, o in PRICES if m not in have]
    if rows: op.bulk_insert(pricing, rows)


def downgrade() -> None:
    op.execute(pricing.delete().where(pricing.c.model.in_([m for m, _, _ in PRICES])))
