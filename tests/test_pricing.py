"""Pricing: seeded defaults, credits from cost (markup, credit value, rounded up), missing prices named."""

from decimal import Decimal

import pytest

from aidevbot.billing import MissingPrice, Pricing
from aidevbot.config import Settings


async def test_default_models_are_priced_by_the_migration(database):
    s = Settings(_env_file=None)
    pricing = Pricing(database, s)
    for model in {s.architect_model, s.implementer_model, s.reviewer_model}:
        p = await pricing.price(model)
        assert p.input_usd_per_mtok > 0 and p.output_usd_per_mtok > 0


async def test_missing_price_names_the_model(database):
    pricing = Pricing(database, Settings(_env_file=None))
    with pytest.raises(MissingPrice) as e:
        await pricing.estimate('vendor/no-price', 10, 10)
    assert 'vendor/no-price' in str(e.value) and 'aidevbot pricing set' in str(e.value)


async def test_credits_are_cost_times_markup_over_credit_value_rounded_up(database):
    pricing = Pricing(database, Settings(_env_file=None, markup='2', credit_value_usd='0.10'))
    await pricing.set_price('v/m', '3', '15')
    # 10k in ($0.03) + 2k out ($0.03) = $0.06 -> x2 / 0.10 = 1.20 credits
    assert await pricing.estimate('v/m', 10_000, 2_000) == Decimal('1.20')
    assert pricing.credits_for_cost(Decimal('0.0000001')) == Decimal('0.01')
    assert pricing.credits_for_cost(Decimal('0.0501')) == Decimal('1.01')
    await pricing.set_price('v/m', '1', '1')  # changing a price updates it
    assert (await pricing.price('v/m')).output_usd_per_mtok == 1
    assert 'v/m' in [p.model for p in await pricing.list()]
    with pytest.raises(ValueError):
        await pricing.set_price('v/m', '-1', '1')
