"""Real-provider behaviour: FakeLLM's provider profiles (seen through the unmodified openai SDK), and the LLM client
and the whole flow surviving each of them."""
import asyncio

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from aidevbot.fake_llm import PROFILES, FakeLLM, Profile

REQUIRE = {'provider': {'require_parameters': True}}


@pytest.fixture
async def sdk():
    "A function giving an SDK client for a FakeLLM (closed at the end)."
    clients = []
    def make(fake):
        clients.append(c := AsyncOpenAI(base_url=fake.base_url, api_key='k', max_retries=0))
        return c
    yield make
    for c in clients: await c.close()


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
        r = await c.chat.completions.create(model='m', messages=[], response_format={'type': 'json_object'}, extra_body=REQUIRE)
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
        assert e.value.message.endswith('old/model is not a valid model ID') or 'old/model is not a valid model ID' in e.value.message
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
        assert r.choices[0].message.content == 'ok' and r.usage.completion_tokens == PROFILES['reasoning'].reasoning_tokens + 1


async def test_truncating_profile_cuts_the_first_free_text_answer_in_the_middle_of_a_file(sdk):
    files = ''.join(f"m{i}.py\n```python\n" + 'x = 1\n' * 30 + "```\n\n" for i in range(3))
    with FakeLLM(lambda body: files, profile='truncating') as fake:
        c = sdk(fake)
        r = await c.chat.completions.create(model='m', messages=[{'role': 'user', 'content': 'write'}])
        cut = r.choices[0].message.content
        assert r.choices[0].finish_reason == 'length' and files.startswith(cut) and 0 < len(cut) < len(files)
        assert cut.count('```') % 2 == 1  # it stops inside a fenced block
        more = [{'role': 'user', 'content': 'write'}, {'role': 'assistant', 'content': cut}, {'role': 'user', 'content': 'go on'}]
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
    with FakeLLM(models=('a/one', 'b/two'), prices=(0.4, 1.6), profile='json_mode_only',
                 model_info={'b/two': {'pricing': {}, 'context_length': 8000}}) as fake:
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
