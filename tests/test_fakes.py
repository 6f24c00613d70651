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
        r = await client.chat.completions.create(
            model='anthropic/claude-sonnet-4.5', messages=[{'role': 'user', 'content': 'x' * 400}]
        )
        assert r.choices[0].message.content == 'hello there'
        assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (100, 3)
        assert r.usage.model_extra['cost'] == pytest.approx((100 * 1.0 + 3 * 2.0) / 1e6)
        assert r.model == 'anthropic/claude-sonnet-4.5'
        fmt = {
            'type': 'json_schema',
            'json_schema': {'name': 'review', 'strict': True, 'schema': Review.model_json_schema()},
        }
        r = await client.chat.completions.create(
            model='m', messages=[{'role': 'user', 'content': 'review'}], response_format=fmt
        )
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
            return (
                client.chat.completions.create(model='m', messages=[{'role': 'user', 'content': str(i)}])
                .choices[0]
                .message.content
            )

        threads, out = [], []
        for i in range(20):
            threads.append(threading.Thread(target=lambda i=i: out.append(call(i))))
            threads[-1].start()
        for t in threads:
            t.join()
        assert sorted(out, key=int) == [str(i) for i in range(20)]
        assert llm.request_count == 20
        assert sorted(r['messages'][0]['content'] for r in llm.requests) == sorted(out)
        client.close()


def test_llm_api_key_models_and_fast_lifecycle():
    t0 = time.perf_counter()
    for _ in range(10):
        with FakeLLM(api_key='sk-right') as llm:
            assert httpx.get(f'{llm.base_url}/models').json()['data'][0]['object'] == 'model'
            r = httpx.post(
                f'{llm.base_url}/chat/completions',
                json={'model': 'm', 'messages': []},
                headers={'authorization': 'Bearer sk-wrong'},
            )
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
    while llm.request_count == 0:
        await asyncio.sleep(0.01)
    t0 = time.perf_counter()
    llm.stop()
    with pytest.raises(openai.APIConnectionError):
        await task
    assert time.perf_counter() - t0 < 5
    await client.close()


# ---------------------------------------------------------------- FakeTelegram

import io
import zipfile

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, RetryAfter
from telegram.ext import AIORateLimiter, Application, CallbackQueryHandler, CommandHandler, ContextTypes

from aidevbot.testing import FakeTelegram


def app_for(tg: FakeTelegram, **kw) -> Application:
    b = Application.builder().token(tg.token).base_url(tg.base_url).base_file_url(tg.file_base_url)
    if kw.get('rate_limiter'):
        b = b.rate_limiter(kw['rate_limiter'])
    return b.build()


def zip_bytes(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


async def test_ptb_application_polls_commands_callbacks_and_documents():
    payload = zip_bytes({'app/main.py': 'print("hi")\n', 'README.md': '# App\n'}) + bytes(range(256)) * 50

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        kb = InlineKeyboardMarkup([[InlineKeyboardButton('Approve', callback_data='approve:7')]])
        await update.message.reply_text(f'Hello {update.effective_user.first_name}', reply_markup=kb)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        q = update.callback_query
        await q.answer('Approved')
        await q.edit_message_text(f'Approved project {q.data.split(":")[1]}')
        await context.bot.send_document(q.message.chat.id, payload, filename='app-v1.zip', caption='Your project')

    async with FakeTelegram() as tg:
        tg.user(77, first_name='Ada')
        app = app_for(tg)
        app.add_handler(CommandHandler('start', start))
        app.add_handler(CallbackQueryHandler(pressed))
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=5)
            tg.command(77, '/start')
            await tg.wait_for('sendMessage', lambda c: c['chat_id'] == 77)
            assert tg.sent_texts(77) == ['Hello Ada']
            assert tg.buttons(77) == [('Approve', 'approve:7')]
            tg.callback(77, 'approve:7')
            await tg.wait_for('sendDocument', timeout=10)
            await app.updater.stop()
            await app.stop()
        answer = tg.calls_to('answerCallbackQuery')[0]
        assert answer['text'] == 'Approved'
        assert tg.chat_messages(77)[1]['text'] == 'Approved project 7'
        assert 'reply_markup' not in tg.chat_messages(77)[1]  # edited without a keyboard
        [(name, data)] = tg.documents(77)
        assert name == 'app-v1.zip' and data == payload
        assert zipfile.ZipFile(io.BytesIO(data)).read('app/main.py') == b'print("hi")\n'
        assert tg.calls_to('deleteWebhook') and tg.calls_to('getMe')
    assert loopback_threads() == []


async def test_ptb_rate_limiter_retries_after_429():
    async with FakeTelegram() as tg:
        app = app_for(tg, rate_limiter=AIORateLimiter(max_retries=2))
        async with app:
            tg.fail('sendMessage', 429, retry_after=1)
            t0 = time.perf_counter()
            m = await app.bot.send_message(5, 'after the flood')
            assert m.text == 'after the flood' and time.perf_counter() - t0 >= 1
        assert [c.status for c in tg.calls_to('sendMessage')] == [429, 200]
        assert tg.sent_texts(5) == ['after the flood']


async def test_bad_requests_and_plain_bot_errors():
    async with FakeTelegram() as tg:
        async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.file_base_url) as bot:
            m = await bot.send_message(5, 'Working 1/3')
            with pytest.raises(BadRequest, match='not modified'):
                await bot.edit_message_text('Working 1/3', chat_id=5, message_id=m.message_id)
            tg.fail('editMessageText', 400, description='Bad Request: message is not modified')
            with pytest.raises(BadRequest, match='not modified'):
                await bot.edit_message_text('Working 2/3', chat_id=5, message_id=m.message_id)
            assert (
                await bot.edit_message_text('Working 2/3', chat_id=5, message_id=m.message_id)
            ).text == 'Working 2/3'
            tg.fail('sendMessage', 429, retry_after=4)
            with pytest.raises(RetryAfter):
                await bot.send_message(5, 'x')
            with pytest.raises(BadRequest, match='too long'):
                await bot.send_message(5, 'x' * 4097)
            assert tg.sent_texts(5) == ['Working 1/3']


async def test_payment_updates_and_answers():
    async with FakeTelegram() as tg:
        async with Bot(tg.token, base_url=tg.base_url) as bot:
            pc = tg.pre_checkout(9, 'buy:p100:9', 50)
            sp = tg.successful_payment(9, 'buy:p100:9', 50, 'ch-1')
            ups = await bot.get_updates(timeout=1)
            assert [u.update_id for u in ups] == [pc['update_id'], sp['update_id']]
            q = ups[0].pre_checkout_query
            assert (q.currency, q.total_amount, q.invoice_payload, q.from_user.id) == ('XTR', 50, 'buy:p100:9', 9)
            await bot.answer_pre_checkout_query(q.id, ok=True)
            pay = ups[1].message.successful_payment
            assert (pay.telegram_payment_charge_id, pay.provider_payment_charge_id) == ('ch-1', 'prov-ch-1')
            assert (await tg.wait_for('answerPreCheckoutQuery'))['ok'] is True
            # a webhook-style copy: same content, not queued
            again = tg.push(sp, queue=False)
            assert again['message'] == sp['message'] and again['update_id'] != sp['update_id']
            assert await bot.get_updates(offset=sp['update_id'] + 1, timeout=0) == ()


def test_long_poll_is_woken_and_stop_is_prompt():
    tg = FakeTelegram().start()
    result = {}

    def poll():
        result['r'] = httpx.post(f'{tg.api_url}/getUpdates', json={'timeout': 20}, timeout=30).json()

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.2)
    u = tg.message(3, 'wake up')
    t.join(10)
    assert result['r']['result'][0]['message']['text'] == 'wake up' and result['r']['result'][0] == u
    # a poll still open when the fake stops is cut off, not waited for
    errors = []

    def poll2():
        try:
            httpx.post(f'{tg.api_url}/getUpdates', json={'offset': u['update_id'] + 1, 'timeout': 20}, timeout=30)
        except httpx.HTTPError as e:
            errors.append(e)

    t = threading.Thread(target=poll2)
    t.start()
    time.sleep(0.2)
    t0 = time.perf_counter()
    tg.stop()
    t.join(10)
    assert time.perf_counter() - t0 < 5 and errors and not t.is_alive()
    assert loopback_threads() == []


async def test_webhook_mode_delivers_updates_with_secret():
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from aidevbot.testing import LoopbackServer

    received = []

    async def hook(request):
        received.append((request.headers.get('x-telegram-bot-api-secret-token'), await request.json()))
        return Response(status_code=200)

    async with (
        FakeTelegram() as tg,
        LoopbackServer(Starlette(routes=[Route('/telegram/webhook', hook, methods=['POST'])])) as web,
    ):
        async with Bot(tg.token, base_url=tg.base_url) as bot:
            await bot.set_webhook(f'{web.url}/telegram/webhook', secret_token='s3cret')
            assert (await bot.get_webhook_info()).url == f'{web.url}/telegram/webhook'
            r = httpx.post(f'{tg.api_url}/getUpdates', json={})
            assert r.status_code == 409  # as in Telegram: no polling while a webhook is set
            update = tg.command(5, '/credits', queue=False)
            assert await tg.deliver(update) == 200
            assert received == [('s3cret', update)]
            await bot.delete_webhook()
            assert (await bot.get_updates(timeout=0)) == ()  # the update was not queued


async def test_parse_modes_reject_unescaped_model_output():
    import html

    from telegram.constants import ParseMode
    from telegram.helpers import escape_markdown

    nasty = 'Plan v1.2: fix a_b*c [x](y) <tag> & "q" #1 + {x} | 3>2 ~ `code` \\ done!'
    async with FakeTelegram() as tg:
        async with Bot(tg.token, base_url=tg.base_url) as bot:
            m = await bot.send_message(5, f'<b>Plan</b>\n{html.escape(nasty)}', parse_mode=ParseMode.HTML)
            assert m.text == f'Plan\n{nasty}'
            m = await bot.send_message(
                5, f'*Plan*\n{escape_markdown(nasty, version=2)}', parse_mode=ParseMode.MARKDOWN_V2
            )
            assert m.text == f'Plan\n{nasty}'
            with pytest.raises(BadRequest, match="parse entities"):
                await bot.send_message(5, f'<b>Plan</b>\n{nasty}', parse_mode=ParseMode.HTML)
            with pytest.raises(BadRequest, match="parse entities"):
                await bot.send_message(5, nasty, parse_mode=ParseMode.MARKDOWN_V2)
            m = await bot.send_document(5, b'x', filename='a.txt', caption='<i>v1</i>', parse_mode=ParseMode.HTML)
            assert m.caption == 'v1'


async def test_restarted_application_does_not_see_handled_updates_again():
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f'got {update.message.text}')

    async with FakeTelegram() as tg:
        for text in ('/start', '/credits'):
            app = app_for(tg)
            app.add_handler(CommandHandler(['start', 'credits'], echo))
            async with app:
                await app.start()
                await app.updater.start_polling(poll_interval=0, timeout=5)
                tg.command(8, text)
                await tg.wait_for('sendMessage', lambda c: c['text'] == f'got {text}')
                await app.updater.stop()
                await app.stop()
        assert tg.sent_texts(8) == ['got /start', 'got /credits']
        assert all(c.status != 409 for c in tg.calls_to('getUpdates'))
