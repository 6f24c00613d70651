"""The loopback fakes, checked with the real clients production uses (openai SDK, python-telegram-bot)."""
import asyncio
import json
import threading
import time

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from pydantic import BaseModel

from aidevbot.testing import FakeLLM, Fault, InvalidJSON, Slow, Truncated


def loopback_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith('loopback-')]


def client_for(llm: FakeLLM, **kw) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=llm.base_url, api_key='sk-test', max_retries=kw.pop('max_retries', 0), **kw)


# ---------------------------------------------------------------- FakeLLM

class Review(BaseModel):
    verdict: str
    issues: list[str]


async def test_llm_plain_and_structured_replies_with_usage():
    async with FakeLLM(report_cost=True, prices=(1.0, 2.0)) as llm:
        llm.script('hello there', {'verdict': 'ok', 'issues': []})
        client = client_for(llm)
        r = await client.chat.completions.create(model='anthropic/claude-sonnet-4.5',
                                                 messages=[{'role': 'user', 'content': 'x' * 400}])
        assert r.choices[0].message.content == 'hello there'
        assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (100, 3)
        assert r.usage.model_extra['cost'] == pytest.approx((100 * 1.0 + 3 * 2.0) / 1e6)
        assert r.model == 'anthropic/claude-sonnet-4.5'
        fmt = {'type': 'json_schema', 'json_schema': {'name': 'review', 'strict': True, 'schema': Review.model_json_schema()}}
        r = await client.chat.completions.create(model='m', messages=[{'role': 'user', 'content': 'review'}],
                                                 response_format=fmt)
        assert Review.model_validate_json(r.choices[0].message.content) == Review(verdict='ok', issues=[])
        assert len(llm.requests_for('review')) == 1 and llm.requests_for('plan') == []
        assert llm.requests_for('review')[0]['messages'][0]['content'] == 'review'
        assert llm.requests[0].headers['authorization'] == 'Bearer sk-test'
        await client.close()
    assert loopback_threads() == []


async def test_llm_faults_as_the_sdk_sees_them():
    async with FakeLLM() as llm:
        client = client_for(llm)
        llm.script(Fault(429, retry_after=3), Fault(402), Fault(500), Truncated('{"a": '), InvalidJSON('not json'))
        with pytest.raises(openai.RateLimitError) as e:
            await client.chat.completions.create(model='m', messages=[])
        assert e.value.response.headers['retry-after'] == '3'
        with pytest.raises(openai.APIStatusError) as e:
            await client.chat.completions.create(model='m', messages=[])
        assert e.value.status_code == 402 and e.value.body['code'] == 402 and 'credits' in e.value.body['message']
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model='m', messages=[])
        r = await client.chat.completions.create(model='m', messages=[])
        assert r.choices[0].finish_reason == 'length'
        r = await client.chat.completions.create(model='m', messages=[])
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.choices[0].message.content)
        assert llm.request_count == 5
        await client.close()


async def test_llm_sdk_retry_honours_retry_after():
    async with FakeLLM() as llm:
        llm.script(Fault(429, retry_after=0.5), 'after retry')
        client = client_for(llm, max_retries=1)
        t0 = time.perf_counter()
        r = await client.chat.completions.create(model='m', messages=[])
        assert r.choices[0].message.content == 'after retry'
        assert time.perf_counter() - t0 >= 0.5 and llm.request_count == 2
        await client.close()


async def test_llm_responders_sync_async_and_slow():
    async def responder(body):
        await asyncio.sleep(0)
        return Slow(0.3, f"echo {body['messages'][-1]['content']}")
    async with FakeLLM(responder) as llm:
        client = client_for(llm)
        t0 = time.perf_counter()
        r = await client.chat.completions.create(model='m', messages=[{'role': 'user', 'content': 'hi'}])
        assert r.choices[0].message.content == 'echo hi' and time.perf_counter() - t0 >= 0.3
        llm.responder = lambda body: Review(verdict='fine', issues=['none'])
        r = await client.chat.completions.create(model='m', messages=[])
        assert Review.model_validate_json(r.choices[0].message.content).verdict == 'fine'
        await client.close()


def test_llm_records_concurrent_requests_from_threads():
    with FakeLLM(lambda body: body['messages'][0]['content']) as llm:
        client = OpenAI(base_url=llm.base_url, api_key='sk-test', max_retries=0)
        def call(i):
            return client.chat.completions.create(model='m', messages=[{'role': 'user', 'content': str(i)}]).choices[0].message.content
        threads, out = [], []
        for i in range(20):
            threads.append(threading.Thread(target=lambda i=i: out.append(call(i))))
            threads[-1].start()
        for t in threads: t.join()
        assert sorted(out, key=int) == [str(i) for i in range(20)]
        assert llm.request_count == 20
        assert sorted(r['messages'][0]['content'] for r in llm.requests) == sorted(out)
        client.close()


def test_llm_api_key_models_and_fast_lifecycle():
    t0 = time.perf_counter()
    for _ in range(10):
        with FakeLLM(api_key='sk-right') as llm:
            assert httpx.get(f'{llm.base_url}/models').json()['data'][0]['object'] == 'model'
            r = httpx.post(f'{llm.base_url}/chat/completions', json={'model': 'm', 'messages': []},
                           headers={'authorization': 'Bearer sk-wrong'})
            assert r.status_code == 401
    assert time.perf_counter() - t0 < 10  # generous: ten start/stop cycles take well under a second
    assert loopback_threads() == []
    with pytest.raises(httpx.ConnectError):
        httpx.post(f'{llm.base_url}/chat/completions', json={})


async def test_llm_stop_cuts_slow_requests():
    llm = FakeLLM().start()
    llm.script(Slow(30, 'never'))
    client = client_for(llm, timeout=20)
    task = asyncio.create_task(client.chat.completions.create(model='m', messages=[]))
    while llm.request_count == 0: await asyncio.sleep(0.01)
    t0 = time.perf_counter()
    llm.stop()
    with pytest.raises(openai.APIConnectionError):
        await task
    assert time.perf_counter() - t0 < 5
    await client.close()
