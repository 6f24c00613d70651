"""TelegramNotifier with a bare ExtBot (as in a worker process) against FakeTelegram: throttled in-place progress,
flood control, "not modified", lost messages, long texts, delivery."""

import asyncio
from contextlib import asynccontextmanager

from aidevbot.db import Project, User
from aidevbot.notifier import TelegramNotifier
from aidevbot.steps import Button, Document, Event, Progress, Reply
from aidevbot.telegram_io import MAX_TEXT, make_bot
from aidevbot.testing import FakeTelegram, migrated_database
from test_bot_harness import bot_settings

CHAT = 42


@asynccontextmanager
async def notifier(edit_seconds: float = 0.3):
    "A notifier on a bare ExtBot, a project in a temp database, and the fake Telegram it talks to."
    async with FakeTelegram() as tg, migrated_database() as db:
        settings = bot_settings(tg, progress_edit_seconds=edit_seconds)
        async with db.sessions.begin() as s:
            s.add(u := User(telegram_user_id=CHAT))
            await s.flush()
            s.add(p := Project(user_id=u.id, chat_id=CHAT, description='a CLI', title='cli'))
            await s.flush()
        bot = make_bot(settings)
        async with bot:
            yield TelegramNotifier(bot, db, settings), tg, db, p.id, u.id


def progress(pid, uid, i, total=10, state='implementing'):
    return Event(
        'progress',
        pid,
        uid,
        CHAT,
        Reply(f'step {i}', [[Button('Cancel', f'cancel:{pid}')]]),
        Progress(state, 1, i, total, f'Writing f{i}.py', 'ok' if i > 1 else None),
    )


async def message_id(db, pid):
    async with db.sessions() as s:
        return (await s.get(Project, pid)).progress_message_id


async def test_progress_is_one_throttled_message():
    "A burst of progress events: one message, edits at least `progress_edit_seconds` apart, the latest state wins."
    async with notifier(0.3) as (notify, tg, db, pid, uid):
        for i in range(1, 21):
            await notify(progress(pid, uid, i, total=20))
            await asyncio.sleep(0.05)  # 20 events in ~1 s
        await notify.flush()
        sends, edits = tg.calls_to('sendMessage'), [c for c in tg.calls_to('editMessageText') if c.ok]
        assert len(sends) == 1 and 1 <= len(edits) <= 5, (len(sends), len(edits))
        times = [c.at for c in sends + edits]
        assert all(b - a >= 0.25 for a, b in zip(times, times[1:])), times  # throttled
        assert 'Task 20 of 20' in edits[-1]['text'] and 'Writing f20.py' in edits[-1]['text']
        mid = await message_id(db, pid)
        assert mid == sends[0].result['message_id'] and all(c['message_id'] == mid for c in edits)
        assert ('Cancel', f'cancel:{pid}') in tg.buttons(CHAT, mid)

        # the final state is always shown (without the Cancel button), then the ZIP arrives
        doc = Document('cli-v1.zip', b'PK\x05\x06' + bytes(18), 'cli: 3 files · tests 4/4 passed · 1.2 credits')
        await notify(progress(pid, uid, 20, total=20))
        await notify(
            Event(
                'completed', pid, uid, CHAT, Reply('🎉 cli is ready', [[Button('Download again', f'dl:{pid}:1')]], doc)
            )
        )
        final = tg.chat_messages(CHAT)[0]
        assert '100%' in final['text'] and 'Done' in final['text'] and not tg.buttons(CHAT, mid)
        assert tg.documents(CHAT) == [('cli-v1.zip', doc.data)]
        assert tg.calls_to('sendDocument')[0]['caption'] == doc.caption
        assert 'ready' in tg.sent_texts(CHAT)[-1]
        assert [d for _, d in tg.buttons(CHAT)] == [f'dl:{pid}:1', f'change:{pid}']
        assert await message_id(db, pid) is None  # the next run starts a new progress message


async def test_flood_control_and_not_modified():
    "RetryAfter is waited out; 'message is not modified' is ignored; a lost message is replaced."
    async with notifier(0.0) as (notify, tg, db, pid, uid):
        await notify(progress(pid, uid, 1))
        await notify.flush()
        mid = await message_id(db, pid)
        tg.fail('editMessageText', 429, retry_after=1)
        await notify(progress(pid, uid, 2))
        await notify.flush()
        edits = tg.calls_to('editMessageText')
        assert [c.status for c in edits] == [429, 200] and edits[1].at - edits[0].at >= 0.9
        tg.fail('editMessageText', 400, description='Bad Request: message is not modified')
        await notify(progress(pid, uid, 3))
        await notify.flush()
        assert len(tg.calls_to('sendMessage')) == 1 and await message_id(db, pid) == mid
        tg.fail('editMessageText', 400, description='Bad Request: message to edit not found')
        await notify(progress(pid, uid, 4))
        await notify.flush()
        assert len(tg.calls_to('sendMessage')) == 2 and await message_id(db, pid) != mid
        assert 'Task 4 of 10' in tg.sent_texts(CHAT)[-1]


async def test_long_texts_and_paused_buttons():
    "Over 4096 characters: split at line ends (buttons on the last part), or a file when very long; paused adds packs."
    async with notifier() as (notify, tg, db, pid, uid):
        plan = '\n'.join(f'{i}. a task line ' + 'x' * 60 for i in range(120))  # ~9 000 characters
        await notify(
            Event('plan_ready', pid, uid, CHAT, Reply(plan, [[Button('Approve (≈3 credits)', f'approve:{pid}')]]))
        )
        parts = tg.sent_texts(CHAT)
        assert len(parts) == 3 and all(len(p) <= MAX_TEXT for p in parts) and '\n'.join(parts) == plan
        sends = tg.calls_to('sendMessage')
        assert 'reply_markup' not in sends[0].params and 'approve' in str(sends[-1]['reply_markup'])
        huge = '\n'.join(f'line {i} ' + 'y' * 90 for i in range(400))  # ~40 000 characters
        await notify(Event('failed', pid, uid, CHAT, Reply(huge)))
        ((name, data),) = tg.documents(CHAT)
        assert name.endswith('.md') and data.decode() == huge
        await notify(
            Event(
                'paused',
                pid,
                uid,
                CHAT,
                Reply('⏸ cli is paused: out of credits', [[Button('Resume', f'resume:{pid}')]]),
            )
        )
        assert [d for _, d in tg.buttons(CHAT)] == [f'resume:{pid}', 'buy:p100', 'buy:p500']


async def test_another_process_closes_the_stored_progress_message():
    "The progress message id lives on the project: a restarted worker's notifier still closes that message."
    async with notifier() as (notify, tg, db, pid, uid):
        await notify(progress(pid, uid, 3))
        await notify.flush()
        mid = await message_id(db, pid)
        other = TelegramNotifier(notify.bot, db, notify.settings)  # knows nothing but the database
        await other(Event('failed', pid, uid, CHAT, Reply('❌ cli stopped: the tests failed')))
        closed = next(m for m in tg.chat_messages(CHAT) if m['message_id'] == mid)
        assert 'Failed' in closed['text'] and not tg.buttons(CHAT, mid)
        assert 'stopped' in tg.sent_texts(CHAT)[-1] and len(tg.calls_to('sendMessage')) == 2
