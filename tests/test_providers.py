"""Real-provider behaviour: FakeLLM's provider profiles (seen through the unmodified openai SDK), and the LLM client
and the whole flow surviving each of them."""

import asyncio

import httpx
import openai
import pytest
from openai import AsyncOpenAI
from starlette.responses import JSONResponse

from aidevbot.testing.fake_llm import PROFILES, FakeLLM, Profile

REQUIRE = {'provider': {'require_parameters': True}}


@pytest.fixture
async def sdk():
    "A function giving an SDK client for a FakeLLM (closed at the end)."
    clients = []

    def make(fake):
        clients.append(c := AsyncOpenAI(base_url=fake.base_url, api_key='k', max_retries=0))
        return c

    yield make
    for c in clients:
        await c.close()


async def test_json_mode_only_provider_refuses_a_strict_schema_under_require_parameters_and_ignores_it_otherwise(sdk):
    with FakeLLM(profile='json_mode_only') as fake:
        c = sdk(fake)
        fake.script({'a': 1}, {'a': 2})
        rf = {'type': 'json_schema', 'json_schema': {'name': 'x', 'strict': True, 'schema': {'type': 'object'}}}
        with pytest.raises(openai.NotFoundError) as e:
            await c.chat.completions.create(model='m', messages=[], response_format=rf, extra_body=REQUIRE)
        assert 'requested parameters' in e.value.message
        r = await c.chat.completions.create(model='m', messages=[], response_format=rf)  # silently dropped
        assert r.choices[0].message.content == '```json\n{"a": 1}\n```'
        r = await c.chat.completions.create(
            model='m', messages=[], response_format={'type': 'json_object'}, extra_body=REQUIRE
        )
        assert '{"a": 2}' in r.choices[0].message.content


async def test_prose_profile_writes_sentences_around_the_json(sdk):
    with FakeLLM(profile='prose_json') as fake:
        fake.script({'a': 1})
        r = await sdk(fake).chat.completions.create(model='m', messages=[])
        text = r.choices[0].message.content
        assert '{"a": 1}' in text and not text.startswith('{') and not text.endswith('}')


async def test_retired_and_unavailable_models_are_refused_like_openrouter(sdk):
    with FakeLLM(profile=Profile(invalid_models=('old/model',), no_endpoints=('busy/model',))) as fake:
        c = sdk(fake)
        with pytest.raises(openai.BadRequestError) as e:
            await c.chat.completions.create(model='old/model', messages=[])
        assert (
            e.value.message.endswith('old/model is not a valid model ID')
            or 'old/model is not a valid model ID' in e.value.message
        )
        with pytest.raises(openai.InternalServerError) as e:
            await c.chat.completions.create(model='busy/model', messages=[])
        assert e.value.status_code == 503 and 'No endpoints found for busy/model' in e.value.message
        assert (await c.chat.completions.create(model='other/model', messages=[])).choices[0].message.content == 'ok'


async def test_reasoning_model_refuses_max_tokens_and_answers_nothing_below_its_thinking(sdk):
    with FakeLLM(profile='reasoning') as fake:
        c = sdk(fake)
        with pytest.raises(openai.BadRequestError) as e:
            await c.chat.completions.create(model='m', messages=[], max_tokens=100)
        assert 'max_completion_tokens' in e.value.message
        r = await c.chat.completions.create(model='m', messages=[], max_completion_tokens=1000)
        assert r.choices[0].message.content == '' and r.choices[0].finish_reason == 'length'
        assert r.usage.completion_tokens == 1000 and r.usage.completion_tokens_details.reasoning_tokens == 1000
        r = await c.chat.completions.create(model='m', messages=[], max_completion_tokens=4000)
        assert (
            r.choices[0].message.content == 'ok'
            and r.usage.completion_tokens == PROFILES['reasoning'].reasoning_tokens + 1
        )


async def test_truncating_profile_cuts_the_first_free_text_answer_in_the_middle_of_a_file(sdk):
    files = ''.join(f"m{i}.py\n```python\n" + 'x = 1\n' * 30 + "```\n\n" for i in range(3))
    with FakeLLM(lambda body: files, profile='truncating') as fake:
        c = sdk(fake)
        r = await c.chat.completions.create(model='m', messages=[{'role': 'user', 'content': 'write'}])
        cut = r.choices[0].message.content
        assert r.choices[0].finish_reason == 'length' and files.startswith(cut) and 0 < len(cut) < len(files)
        assert cut.count('```') % 2 == 1  # it stops inside a fenced block
        more = [
            {'role': 'user', 'content': 'write'},
            {'role': 'assistant', 'content': cut},
            {'role': 'user', 'content': 'go on'},
        ]
        r = await c.chat.completions.create(model='m', messages=more)
        assert r.choices[0].finish_reason == 'stop'  # a continuation is answered in full


async def test_usage_only_in_the_last_stream_chunk(sdk):
    with FakeLLM(profile='usage_last_chunk', report_cost=True) as fake:
        c = sdk(fake)
        r = await c.chat.completions.create(model='m', messages=[{'role': 'user', 'content': 'hi'}])
        assert r.usage is None
        chunks = [x async for x in await c.chat.completions.create(model='m', messages=[], stream=True)]
        assert [x.usage is not None for x in chunks] == [False] * (len(chunks) - 1) + [True]
        assert chunks[-1].choices == [] and chunks[-1].usage.model_extra['cost'] > 0


async def test_models_listing_has_context_structured_output_support_and_per_token_prices_as_strings():
    with FakeLLM(
        models=('a/one', 'b/two'),
        prices=(0.4, 1.6),
        profile='json_mode_only',
        model_info={'b/two': {'pricing': {}, 'context_length': 8000}},
    ) as fake:
        data = httpx.get(f"{fake.base_url}/models").json()['data']
    one, two = data
    assert one['id'] == 'a/one' and one['context_length'] == 200000
    assert one['pricing']['prompt'] == '0.0000004' and one['pricing']['completion'] == '0.0000016'
    assert 'response_format' in one['supported_parameters'] and 'structured_outputs' not in one['supported_parameters']
    assert two['pricing'] == {} and two['context_length'] == 8000


async def test_slow_stream_stalls_once_in_its_middle(sdk):
    with FakeLLM(profile=Profile(stall_seconds=0.4, stalls=1)) as fake:
        c = sdk(fake)
        for expect_stall in (True, False):
            fake.script('y' * 200)
            loop, gaps = asyncio.get_running_loop(), []
            t = loop.time()
            async for _ in await c.chat.completions.create(model='m', messages=[], stream=True):
                gaps.append(loop.time() - t)
                t = loop.time()
            assert (max(gaps) > 0.3) == expect_stall


# --- the LLM client against the profiles -------------------------------------------------------------------------

from pydantic import BaseModel  # noqa: E402

from aidevbot.llm import Role  # noqa: E402
from aidevbot.testing import migrated_database  # noqa: E402
from test_llm import ASK, Harness  # noqa: E402


class Verdict(BaseModel):
    approved: bool
    reasons: list[str]


GOOD = Verdict(approved=True, reasons=['fine'])


@pytest.fixture
async def db():
    async with migrated_database() as d:
        yield d


@pytest.mark.parametrize('profile', ['fenced_json', 'prose_json'])
async def test_json_in_a_fence_or_in_prose_is_read_on_the_first_attempt(db, profile):
    with FakeLLM(profile=profile) as fake:
        h = Harness(db, fake.base_url)
        uid = await h.user()
        fake.script(GOOD)
        r = await h.llm.complete(Role.reviewer, ASK, user_id=uid, schema=Verdict, max_tokens=300)
        await h.llm.aclose()
    assert r.parsed == GOOD and r.attempts == 1
    req = fake.requests[0]
    assert req['provider'] == {'require_parameters': True} and req['response_format']['type'] == 'json_schema'
    assert 'Answer format: verdict' in req['messages'][0]['content'] and '"approved"' in req['messages'][0]['content']
    rows = await h.assert_metered(uid, '100')
    assert rows[0].response == GOOD.model_dump_json()  # stored clean, so a reused call validates


async def test_json_mode_only_model_falls_back_through_the_modes_and_remembers(db):
    with FakeLLM(profile=Profile(json_schema=False, json_object=False, json_wrap='prose')) as fake:
        h = Harness(db, fake.base_url)
        uid = await h.user()
        fake.script(GOOD, GOOD)
        r = await h.llm.complete(Role.reviewer, ASK, user_id=uid, schema=Verdict, max_tokens=300)
        assert r.parsed == GOOD
        kinds = [('tools' in q and 'tool') or (q.get('response_format') or {}).get('type') for q in fake.requests]
        assert kinds == ['json_schema', 'json_object', 'tool']
        r = await h.llm.complete(Role.reviewer, ASK, user_id=uid, schema=Verdict, max_tokens=300)
        assert r.parsed == GOOD and r.attempts == 1 and 'tools' in fake.requests[-1]  # the next call starts right
        await h.llm.aclose()
    rows = await h.assert_metered(uid, '100')
    assert [x.http_status for x in rows] == [404, 404, 200, 200]


async def test_repair_round_carries_the_validation_error_and_the_schema(db):
    with FakeLLM() as fake:
        h = Harness(db, fake.base_url)
        uid = await h.user()
        fake.script({'approved': 'maybe'}, GOOD)
        r = await h.llm.complete(Role.reviewer, ASK, user_id=uid, schema=Verdict, max_tokens=300)
        await h.llm.aclose()
    repair = fake.requests[1]['messages'][-1]['content']
    assert (
        r.parsed == GOOD
        and 'approved' in repair
        and 'bool' in repair
        and '"reasons"' in repair
        and '"required"' in repair
    )


async def test_invalid_model_id_moves_to_the_roles_fallback_and_is_skipped_afterwards(db):
    with FakeLLM(profile=Profile(invalid_models=('old/model',))) as fake:
        h = Harness(db, fake.base_url, reviewer_model='old/model', reviewer_fallback_models='new/model')
        for m in ('old/model', 'new/model'):
            await h.pricing.set_price(m, 1, 1)
        uid = await h.user()
        r = await h.llm.complete(Role.reviewer, ASK, user_id=uid, max_tokens=100)
        assert r.model == 'new/model' and [q['model'] for q in fake.requests] == ['old/model', 'new/model']
        r = await h.llm.complete(Role.reviewer, ASK, user_id=uid, max_tokens=100)
        assert r.model == 'new/model' and fake.request_count == 3  # not asked again
        await h.llm.aclose()
    assert h.sleeps == []
    await h.assert_metered(uid, '100')


async def test_503_no_endpoints_moves_to_the_next_model_without_waiting(db):
    with FakeLLM(profile=Profile(no_endpoints=('busy/model',))) as fake:
        h = Harness(
            db, fake.base_url, reviewer_model='busy/model', reviewer_fallback_models='', llm_fallback_models='up/model'
        )
        for m in ('busy/model', 'up/model'):
            await h.pricing.set_price(m, 1, 1)
        uid = await h.user()
        r = await h.llm.complete(Role.reviewer, ASK, user_id=uid, max_tokens=100)
        await h.llm.aclose()
    assert r.model == 'up/model' and fake.request_count == 2 and h.sleeps == []


async def test_stalled_stream_is_cut_at_the_idle_timeout_retried_and_charged_for_what_the_provider_reported(db):
    with FakeLLM(profile=Profile(stall_seconds=3, stalls=1), report_cost=True) as fake:
        h = Harness(db, fake.base_url, llm_idle_timeout_seconds=0.5, llm_max_retry_seconds=1)
        uid = await h.user()
        fake.script('w' * 800, 'w' * 800)
        r = await h.llm.complete(Role.implementer, ASK, user_id=uid, max_tokens=1000)
        await h.llm.aclose()
        cut = next(
            g for g in fake.generations.values() if g['cancelled']
        )  # what the provider says it generated before the cut
    assert r.text == 'w' * 800 and r.attempts == 2
    rows = await h.assert_metered(uid, '100')
    assert [x.outcome for x in rows] == ['timeout', 'ok'] and 'no token for 0.5s' in rows[0].error
    assert (
        0 < rows[0].completion_tokens < rows[1].completion_tokens and rows[0].credits > 0
    )  # the cut stream is paid for
    assert (rows[0].prompt_tokens, rows[0].completion_tokens) == (cut['tokens_prompt'], cut['tokens_completion'])
    assert rows[0].cost_usd == Decimal(str(cut['total_cost']))  # charged at the provider's figure, not an estimate


async def test_a_cut_stream_without_generation_stats_is_charged_for_an_estimate(db):
    "An endpoint that keeps no generation records (chunks name no provider): estimated from what was sent and received."
    with FakeLLM(profile=Profile(stall_seconds=3, stalls=1)) as fake:
        h = Harness(db, fake.base_url, llm_idle_timeout_seconds=0.5, llm_max_retry_seconds=1)
        uid = await h.user()
        fake.script('w' * 800, 'w' * 800)
        fake.generations.clear()
        real = fake._generation

        async def none(request):
            return JSONResponse({'error': {'message': 'not found'}}, 404)

        fake._generation = none
        r = await h.llm.complete(Role.implementer, ASK, user_id=uid, max_tokens=1000)
        fake._generation = real
        await h.llm.aclose()
    rows = await h.assert_metered(uid, '100')
    assert (
        r.attempts == 2 and rows[0].outcome == 'timeout' and 0 < rows[0].completion_tokens < rows[1].completion_tokens
    )


async def test_a_call_longer_than_the_retry_budget_is_still_retried(db):
    with FakeLLM(profile=Profile(stall_seconds=2.5, stalls=1)) as fake:  # the cut attempt takes 1 s, the backoff 1 s
        h = Harness(db, fake.base_url, llm_idle_timeout_seconds=1.0, llm_max_retry_seconds=1.5)
        uid = await h.user()
        fake.script('x' * 400, 'done')
        r = await h.llm.complete(Role.reviewer, ASK, user_id=uid, max_tokens=500)
        await h.llm.aclose()
    assert r.text == 'done' and r.attempts == 2


async def test_total_cap_cuts_a_stream_that_keeps_trickling(db):
    with FakeLLM(profile=Profile(stall_seconds=0.6, stalls=5)) as fake:
        h = Harness(db, fake.base_url, llm_idle_timeout_seconds=5, llm_total_timeout_seconds=0.4, llm_max_attempts=1)
        uid = await h.user()
        fake.script('x' * 400)
        from aidevbot.llm import LLMUnavailable

        with pytest.raises(LLMUnavailable):
            await h.llm.complete(Role.reviewer, ASK, user_id=uid, max_tokens=500)
        await h.llm.aclose()
    [row] = await h.assert_metered(uid, '100')
    assert row.outcome == 'timeout' and 'total limit' in row.error


async def test_reasoning_model_gets_max_completion_tokens_and_more_room_after_an_empty_answer(db):
    with FakeLLM(profile=Profile(reasoning_tokens=600, wants_max_completion_tokens=True), report_cost=True) as fake:
        h = Harness(db, fake.base_url)
        uid = await h.user()
        fake.script(GOOD, GOOD, GOOD)
        r = await h.llm.complete(Role.reviewer, ASK, user_id=uid, schema=Verdict, max_tokens=400)
        await h.llm.aclose()
    assert r.parsed == GOOD
    sent = [
        (
            ('max_tokens' in q and 'max_tokens') or 'max_completion_tokens',
            q.get('max_tokens') or q.get('max_completion_tokens'),
        )
        for q in fake.requests
    ]
    assert sent == [('max_tokens', 400), ('max_completion_tokens', 400), ('max_completion_tokens', 800)]
    rows = await h.assert_metered(uid, '100')
    assert [x.outcome for x in rows] == ['http_error', 'truncated', 'ok']
    assert rows[1].completion_tokens == 400 and rows[1].credits > 0  # the thinking is billed


async def test_empty_answer_twice_moves_to_the_next_model_never_silently(db):
    with FakeLLM(profile=Profile(reasoning_tokens=5000)) as fake:
        h = Harness(db, fake.base_url, reviewer_fallback_models='', llm_fallback_models='')
        uid = await h.user()
        from aidevbot.llm import LLMUnavailable

        with pytest.raises(LLMUnavailable) as e:
            await h.llm.complete(Role.reviewer, ASK, user_id=uid, schema=Verdict, max_tokens=300)
        await h.llm.aclose()
    assert 'empty answer' in str(e.value) and fake.request_count == 2
    await h.assert_metered(uid, '100')


# --- the whole flow under each profile ----------------------------------------------------------------------------

from sqlalchemy import select  # noqa: E402

from aidevbot.db import ApiKeyUsage, CreditReservation  # noqa: E402
from aidevbot.testing import demo_responder  # noqa: E402
from orchestrator_support import plan_and_approve, stack, unzip_and_test  # noqa: E402

FALLBACK_PRICES = {'openai/gpt-5': (1.25, 10), 'google/gemini-2.5-flash': (0.3, 2.5)}


async def _every_attempt_metered(s) -> list[ApiKeyUsage]:
    "Each usage row settled its own reservation at exactly its credits; nothing left open; the ledger adds up."
    async with s.db.sessions() as ses:
        rows = list((await ses.scalars(select(ApiKeyUsage).order_by(ApiKeyUsage.id))).all())
        for row in rows:
            res = (
                await ses.execute(
                    select(CreditReservation).where(
                        CreditReservation.idempotency_key.like(f'llm:{row.call_key}:{row.attempt}:%')
                    )
                )
            ).scalar_one()
            assert res.status == 'settled' and res.settled_amount == row.credits, (row.call_key, row.outcome)
    assert await s.ledger.open_reservations() == [] and await s.ledger.check_consistency() == []
    return rows


@pytest.mark.parametrize('profile', sorted(PROFILES))
async def test_full_flow_completes_under_each_provider_profile(sqlite_url, profile):
    with FakeLLM(demo_responder(), profile=profile, report_cost=True) as fake:
        async with stack(sqlite_url, fake.base_url, llm_idle_timeout_seconds=1.0) as s:
            for model, prices in FALLBACK_PRICES.items():
                await s.pricing.set_price(model, *prices)
            before = await s.ledger.balance(s.user_id)
            pid = await plan_and_approve(s)
            assert await s.orch.advance(pid) == 'completed', [e.reply.text for e in s.events[-2:]]
            doc = s.events[-1].reply.document
            proc, _ = unzip_and_test(doc.data)
            assert proc.returncode == 0 and '6 passed' in proc.stdout, proc.stdout + proc.stderr
            rows = await _every_attempt_metered(s)
            spent = sum(r.credits for r in rows)
            assert await s.ledger.balance(s.user_id) == before - spent and spent > 0
    outcomes = [r.outcome for r in rows]
    if profile == 'slow_stream':
        assert 'timeout' in outcomes and next(r for r in rows if r.outcome == 'timeout').credits > 0
    if profile == 'retired_model':
        assert {r.model for r in rows if r.outcome == 'ok'} >= {'openai/gpt-5'}
    if profile == 'no_endpoints':
        assert 'google/gemini-2.5-flash' in {r.model for r in rows if r.role == 'reviewer'}
    if profile == 'truncating':
        assert 'truncated' in outcomes and any(':more1' in r.call_key for r in rows)
    if profile == 'reasoning':
        assert all('max_tokens' not in q for q in fake.requests[-5:])
    if profile == 'json_mode_only':
        assert fake.requests[-1].get('response_format', {}).get('type') != 'json_schema'


# --- doctor and pricing sync ----------------------------------------------------------------------------------------

import io  # noqa: E402
from contextlib import redirect_stdout  # noqa: E402
from decimal import Decimal  # noqa: E402

from aidevbot.cli import main  # noqa: E402
from aidevbot.config import env  # noqa: E402


def _cli(fake, db_url, *argv, **more) -> tuple[int, str]:
    buf = io.StringIO()
    with (
        env(**{'DATABASE_URL': db_url, 'LLM_BASE_URL': fake.base_url, 'LLM_API_KEY': 'sk-doctor', **more}),
        redirect_stdout(buf),
    ):
        code = main(list(argv))
    return code, buf.getvalue()


def test_pricing_sync_fills_model_pricing_from_the_models_listing(sqlite_url):
    with FakeLLM(
        models=('vendor/a', 'vendor/b'),
        prices=(0.4, 1.6),
        model_info={'vendor/b': {'pricing': {'prompt': '-1', 'completion': '-1'}}},
    ) as fake:
        code, out = _cli(fake, sqlite_url, 'pricing', 'sync')
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith('vendor/a'))
    assert line.split()[1:] == ['0.4', '1.6'] and 'vendor/b' not in out  # a router without a price is not imported


def test_doctor_names_each_problem_in_one_line_and_exits_non_zero(sqlite_url):
    models = ('anthropic/claude-sonnet-4.6', 'acme/unpriced', 'acme/plain')  # the reviewer's model is not listed
    with FakeLLM(
        models=models, model_info={'acme/plain': {'supported_parameters': ['max_tokens', 'temperature']}}
    ) as fake:
        code, out = _cli(
            fake,
            sqlite_url,
            'doctor',
            IMPLEMENTER_MODEL='acme/unpriced',
            REVIEWER_MODEL='vendor/gone',
            ARCHITECT_MODEL='acme/plain',
        )
    problems = [x for x in out.splitlines() if x.startswith('problem:')]
    assert code == 1, out
    assert any('reviewer model vendor/gone: not offered' in p for p in problems), out
    assert any('architect model acme/plain: no structured outputs' in p for p in problems), out
    assert any('implementer model acme/unpriced: no price' in p for p in problems), out
    assert any('architect model acme/plain: no price' in p for p in problems)
    assert 'warning: ' in out  # fallbacks (unpriced here) are warnings, not failures


def test_doctor_against_a_healthy_provider_exits_zero_after_one_call_per_role(sqlite_url):
    with FakeLLM() as fake:
        assert _cli(fake, sqlite_url, 'pricing', 'sync')[0] == 0
        code, out = _cli(fake, sqlite_url, 'doctor')
        calls = fake.request_count
    assert code == 0 and 'all configured models look usable' in out, out
    assert calls == 3  # one tiny call per role


def test_doctor_without_a_key_is_a_clear_error(sqlite_url):
    with FakeLLM() as fake:
        code, _ = _cli(fake, sqlite_url, 'doctor', LLM_API_KEY='')
    assert code == 2 and fake.request_count == 0
