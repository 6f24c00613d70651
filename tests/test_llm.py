"""The metered LLM client against FakeLLM: retries, typed errors, fallbacks, structured output, a charge per attempt."""

import asyncio
import logging
from decimal import Decimal

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from aidevbot.billing import InsufficientCredits, Ledger, MissingPrice, Pricing, cost_usd
from aidevbot.config import Settings
from aidevbot.db import ApiKeyUsage, CreditReservation, User
from aidevbot.llm import LLMClient, LLMOutputError, LLMRequestError, LLMUnavailable, ProviderOutOfCredit, Role
from aidevbot.testing import FakeLLM, Fault, InvalidJSON, Slow, Truncated, free_port, migrated_database

KEY = 'sk-or-v1-TESTKEY-7f3a9c'
ASK = [{'role': 'user', 'content': 'Write a haiku about ledgers.'}]


class Verdict(BaseModel):
    approved: bool
    reasons: list[str]


@pytest.fixture
async def db():
    async with migrated_database() as d:
        yield d


@pytest.fixture
def fake():
    with FakeLLM() as f:
        yield f


class Harness:
    "A client on `fake` with recorded sleeps, and a user with credits."

    def __init__(self, db, base_url, **overrides):
        self.db, self.sleeps = db, []
        self.settings = Settings(
            _env_file=None, llm_api_key=KEY, llm_base_url=base_url, **{"llm_max_attempts": 3, **overrides}
        )
        self.ledger, self.pricing = Ledger(db), Pricing(db, self.settings)

        async def sleep(s):
            self.sleeps.append(s)

        self.llm = LLMClient(self.settings, db, ledger=self.ledger, pricing=self.pricing, sleep=sleep, rng=lambda: 1.0)

    async def user(self, credits='100', tg=1) -> int:
        async with self.db.sessions() as s, s.begin():
            s.add(u := User(telegram_user_id=tg))
        if Decimal(credits):
            await self.ledger.credit(u.id, credits, key=f'grant:{tg}')
        return u.id

    async def rows(self) -> list[ApiKeyUsage]:
        async with self.db.sessions() as s:
            return list((await s.execute(select(ApiKeyUsage).order_by(ApiKeyUsage.id))).scalars())

    async def assert_metered(self, uid, start_balance) -> list[ApiKeyUsage]:
        "Each attempt: a usage row, its reservation settled at exactly the row's credits (tokens x price); none open."
        rows = await self.rows()
        for row in rows:
            async with self.db.sessions() as s:  # (one session at a time: a SQLite session holds the write lock)
                res = (
                    await s.execute(
                        select(CreditReservation).where(
                            CreditReservation.idempotency_key.like(f'llm:{row.call_key}:{row.attempt}:%')
                        )
                    )
                ).scalar_one()
            assert res.status == 'settled' and res.settled_amount == row.credits
            price = await self.pricing.price(row.model)
            if row.cost_usd == cost_usd(
                price, row.prompt_tokens, row.completion_tokens
            ):  # (else the provider reported it)
                assert row.credits == self.pricing.credits_for_cost(row.cost_usd)
        assert await self.ledger.open_reservations() == []
        assert await self.ledger.balance(uid) == Decimal(start_balance) - sum(r.credits for r in rows)
        assert await self.ledger.check_consistency() == []
        return rows


async def test_429_with_retry_after_then_200_retries_once_after_the_stated_delay(database):
    with FakeLLM() as fake:
        h = Harness(database, fake.base_url)
        uid = await h.user()
        fake.script(Fault(429, retry_after=2), 'Columns of numbers')
        r = await h.llm.complete(Role.reviewer, ASK, user_id=uid, max_tokens=200)
        await h.llm.aclose()
    assert r.text == 'Columns of numbers' and r.attempts == 2
    assert fake.request_count == 2
    assert h.sleeps == [2.0]
    rows = await h.assert_metered(uid, '100')
    assert [(x.outcome, x.http_status) for x in rows] == [('http_error', 429), ('ok', 200)]
    assert rows[1].credits > 0 and r.credits == rows[1].credits


async def test_402_is_not_retried_and_raises_a_typed_error(db, fake):
    h = Harness(db, fake.base_url)
    uid = await h.user()
    fake.script(Fault(402), 'never served')
    with pytest.raises(ProviderOutOfCredit) as e:
        await h.llm.complete('architect', ASK, user_id=uid)
    assert '402' in str(e.value) and 'out of credit' in str(e.value)
    assert fake.request_count == 1 and h.sleeps == []
    rows = await h.assert_metered(uid, '100')
    assert [(x.outcome, x.http_status, x.credits) for x in rows] == [('http_error', 402, 0)]


async def test_500_every_time_gives_up_after_the_configured_attempts(db, fake):
    h = Harness(db, fake.base_url, llm_max_attempts=4)
    uid = await h.user()
    fake.script(*[Fault(500)] * 10)
    with pytest.raises(LLMUnavailable):
        await h.llm.complete('implementer', ASK, user_id=uid)
    assert fake.request_count == 4
    assert h.sleeps == [1.0, 2.0, 4.0]  # exponential backoff (jitter pinned to its top)
    rows = await h.assert_metered(uid, '100')
    assert [(x.attempt, x.http_status) for x in rows] == [(1, 500), (2, 500), (3, 500), (4, 500)]


async def test_other_4xx_is_not_retried(db, fake):
    h = Harness(db, fake.base_url)
    uid = await h.user()
    fake.script(Fault(400, message='max_tokens is too large'))
    with pytest.raises(LLMRequestError) as e:
        await h.llm.complete('architect', ASK, user_id=uid)
    assert e.value.status == 400 and 'max_tokens is too large' in str(e.value)
    assert fake.request_count == 1 and h.sleeps == []
    await h.assert_metered(uid, '100')


async def test_model_without_price_sends_no_request(db, fake):
    h = Harness(db, fake.base_url, architect_model='acme/unpriced-model')
    uid = await h.user()
    with pytest.raises(MissingPrice) as e:
        await h.llm.complete('architect', ASK, user_id=uid)
    assert 'acme/unpriced-model' in str(e.value)
    assert fake.request_count == 0
    assert await h.rows() == [] and await h.ledger.balance(uid) == 100


async def test_user_without_enough_credits_sends_no_request(db, fake):
    h = Harness(db, fake.base_url)
    uid = await h.user('0.05')
    with pytest.raises(InsufficientCredits) as e:
        await h.llm.complete('architect', ASK, user_id=uid, max_tokens=4096)
    assert 'Not enough credits' in str(e.value) and e.value.available == Decimal('0.05')
    assert fake.request_count == 0
    assert await h.rows() == [] and await h.ledger.open_reservations() == []
    assert await h.ledger.balance(uid) == Decimal('0.05')


async def test_truncated_and_invalid_attempts_are_charged_and_repaired_once(db, fake):
    h = Harness(db, fake.base_url)
    uid = await h.user()
    good = Verdict(approved=True, reasons=['tests pass'])
    # a truncated reply is never parsed, even when its text happens to be valid JSON
    fake.script(Truncated(good.model_dump_json()), good)
    r = await h.llm.complete('reviewer', ASK, user_id=uid, schema=Verdict, max_tokens=300)
    assert r.parsed == good and r.attempts == 2
    assert 'cut off' in fake.requests[1]['messages'][-1]['content']
    fake.script(InvalidJSON('{"approved": true,'), InvalidJSON('still not json'))
    with pytest.raises(LLMOutputError):
        await h.llm.complete('reviewer', ASK, user_id=uid, schema=Verdict, max_tokens=300)
    assert fake.request_count == 4  # exactly one repair attempt
    assert 'not valid JSON' in fake.requests[3]['messages'][-1]['content']
    rows = await h.assert_metered(uid, '100')
    assert [x.outcome for x in rows] == ['truncated', 'ok', 'invalid', 'invalid']
    assert all(x.credits > 0 for x in rows)  # each used tokens, each paid for them
    assert [x.response is not None for x in rows] == [False, True, False, False]


async def test_structured_request_is_strict_json_schema(db, fake):
    h = Harness(db, fake.base_url)
    uid = await h.user()
    fake.script({'approved': False, 'reasons': ['no tests']})
    r = await h.llm.complete('reviewer', ASK, user_id=uid, schema=Verdict, max_tokens=300)
    assert r.parsed == Verdict(approved=False, reasons=['no tests'])
    rf = fake.requests_for('verdict')[0]['response_format']
    assert rf['type'] == 'json_schema' and rf['json_schema']['strict'] is True
    assert rf['json_schema']['schema']['additionalProperties'] is False
    assert rf['json_schema']['schema']['required'] == ['approved', 'reasons']


async def test_provider_reported_cost_is_used(db):
    with FakeLLM(report_cost=True, prices=(1000.0, 1000.0)) as fake:  # far above the table price
        h = Harness(db, fake.base_url)
        uid = await h.user()
        r = await h.llm.complete('reviewer', ASK, user_id=uid, max_tokens=100)
        await h.llm.aclose()
    row = (await h.rows())[0]
    reported = Decimal(str((row.prompt_tokens + row.completion_tokens) * 1000 / 1e6))
    assert row.cost_usd == pytest.approx(reported) and r.cost_usd == row.cost_usd
    assert row.credits == h.pricing.credits_for_cost(row.cost_usd) == r.credits
    assert await h.ledger.balance(uid) == 100 - r.credits


async def test_fallback_model_when_primary_is_unavailable(db):
    def responder(body):
        return Fault(404, message='model not found') if body['model'] == 'vendor/down' else f"from {body['model']}"

    with FakeLLM(responder) as fake:
        h = Harness(
            db, fake.base_url, reviewer_model='vendor/down', llm_fallback_models='vendor/unpriced,openai/gpt-4.1-mini'
        )
        await h.pricing.set_price('vendor/down', 1, 1)
        uid = await h.user()
        r = await h.llm.complete('reviewer', ASK, user_id=uid, max_tokens=100)
        assert r.text == 'from openai/gpt-4.1-mini' and r.model == 'openai/gpt-4.1-mini'
        assert [q['model'] for q in fake.requests] == [
            'vendor/down',
            'openai/gpt-4.1-mini',
        ]  # unpriced fallback skipped
        fake.reset()
        fake.responder = None
        h.settings.llm_max_attempts = 2
        fake.script(Fault(503), Fault(503), 'fallback answers')
        r = await h.llm.complete('reviewer', ASK, user_id=uid, max_tokens=100)
        assert r.text == 'fallback answers' and fake.request_count == 3 and h.sleeps == [1.0]
        await h.llm.aclose()
    await h.assert_metered(uid, '100')


async def test_retry_after_beyond_the_time_budget_ends_the_call(db, fake):
    h = Harness(db, fake.base_url, llm_max_retry_seconds=5)
    uid = await h.user()
    fake.script(Fault(429, retry_after=60), 'too late')
    with pytest.raises(LLMUnavailable):
        await h.llm.complete('reviewer', ASK, user_id=uid, max_tokens=100)
    assert fake.request_count == 1 and h.sleeps == []
    await h.assert_metered(uid, '100')


async def test_connection_errors_are_retried_and_recorded(db):
    h = Harness(db, f'http://127.0.0.1:{free_port()}/v1')  # nothing listens there
    uid = await h.user()
    with pytest.raises(LLMUnavailable) as e:
        await h.llm.complete('reviewer', ASK, user_id=uid, max_tokens=100)
    rows = await h.assert_metered(uid, '100')
    assert [x.outcome for x in rows] == ['connection_error'] * 3 and h.sleeps == [1.0, 2.0]
    assert KEY not in str(e.value)


async def test_project_hold_funds_the_call(db, fake):
    h = Harness(db, fake.base_url)
    uid = await h.user()
    hold = await h.ledger.reserve(uid, 40, key='project:1:hold', purpose='project hold')
    r = await h.llm.complete('implementer', ASK, user_id=uid, max_tokens=1000, funding_reservation_id=hold)
    assert await h.ledger.balance(uid) == 60  # the balance did not move: the hold paid
    [open_hold] = await h.ledger.open_reservations(uid)
    assert open_hold.id == hold and open_hold.amount == 40 - r.credits
    await h.ledger.release(hold)
    assert await h.ledger.balance(uid) == 100 - r.credits
    assert await h.ledger.check_consistency() == []


async def test_call_key_reuses_a_finished_call_without_paying_again(db, fake):
    h = Harness(db, fake.base_url)
    uid = await h.user()
    fake.script(Fault(500), {'approved': True, 'reasons': []})
    first = await h.llm.complete('reviewer', ASK, user_id=uid, schema=Verdict, call_key='p1:v1:review:0')
    balance = await h.ledger.balance(uid)
    again = await h.llm.complete('reviewer', ASK, user_id=uid, schema=Verdict, call_key='p1:v1:review:0')
    assert again.reused and not first.reused and again.parsed == first.parsed and again.credits == 0
    assert fake.request_count == 2 and await h.ledger.balance(uid) == balance


async def test_cancelled_call_leaves_no_open_reservation(db):
    with FakeLLM() as fake:
        h = Harness(db, fake.base_url)
        uid = await h.user()
        fake.script(Slow(5, 'late'))
        task = asyncio.create_task(h.llm.complete('reviewer', ASK, user_id=uid, max_tokens=100))
        for _ in range(200):
            if fake.request_count:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.2)  # the shielded bookkeeping finishes
        await h.llm.aclose()
    rows = await h.assert_metered(uid, '100')
    assert [x.outcome for x in rows] == ['cancelled']


async def test_api_key_never_appears_in_errors_rows_prompts_or_logs(db, fake, caplog):
    caplog.set_level(logging.DEBUG)
    h = Harness(db, fake.base_url)
    uid = await h.user()
    fake.script(
        Fault(401, message=f'Invalid API key {KEY}'),
        Fault(500, message=f'upstream rejected {KEY}'),
        Fault(500),
        Fault(500),
    )
    with pytest.raises(LLMRequestError) as e1:
        await h.llm.complete('reviewer', ASK, user_id=uid, max_tokens=100)
    with pytest.raises(LLMUnavailable) as e2:
        await h.llm.complete('reviewer', ASK, user_id=uid, max_tokens=100)
    assert 'Invalid API key' in str(e1.value)  # the message is kept, the key is not
    for text in (str(e1.value), repr(e1.value), str(e2.value), caplog.text):
        assert KEY not in text
    for row in await h.rows():
        assert KEY not in ' '.join(str(v) for v in vars(row).values())
    for req in fake.requests:
        assert KEY not in str(req['messages'])
        assert req.headers['authorization'] == f'Bearer {KEY}'  # it is only ever sent as the credential
    await h.assert_metered(uid, '100')


async def test_missing_api_key_is_a_config_error_before_anything_is_sent_or_reserved(db, fake):
    from aidevbot.config import ConfigError

    h = Harness(db, fake.base_url)
    h.llm.settings = h.settings.model_copy(update={'llm_api_key': None})
    uid = await h.user()
    with pytest.raises(ConfigError) as e:
        await h.llm.complete('reviewer', ASK, user_id=uid)
    assert 'LLM_API_KEY' in str(e.value)
    assert fake.request_count == 0 and await h.rows() == [] and await h.ledger.balance(uid) == 100
