"""Credits bought with Telegram Stars through the real bot:
invoices, pre-checkout checks, exactly-once crediting, admin refunds."""

import asyncio
import logging
from decimal import Decimal

from sqlalchemy import func, select

from aidevbot.db import Payment, PaymentStatus
from aidevbot.payments import parse_payload
from aidevbot.testing import FakeTelegram
from test_bot_harness import ADMIN, buy_pack, running_bot, settle

UNKNOWN = "I don't know that command"


async def test_buy_credits_with_stars(database):
    "/start -> /credits -> press a pack -> XTR invoice -> pre-checkout ok -> payment -> balance up."
    async with FakeTelegram() as tg, running_bot(database, tg) as bot:
        welcome = await bot.command(42, '/start')
        assert 'credits' in welcome['text'] and 'Stars' in welcome['text'] and 'balance: 10' in welcome['text']
        credits = await bot.command(42, '/credits')
        assert 'balance: 10 credits' in credits['text']
        assert [d for _, d in tg.buttons(42, credits.result['message_id'])] == ['buy:p100', 'buy:p500']

        invoice = await buy_pack(bot, 42, 'p100')
        assert invoice['currency'] == 'XTR' and invoice['provider_token'] == ''
        assert [p['amount'] for p in invoice['prices']] == [750]
        payload = parse_payload(invoice['payload'])
        assert (payload.pack_id, payload.telegram_user_id) == ('p100', 42)

        answer = await bot.ask(lambda: tg.pre_checkout(42, invoice['payload'], 750), method='answerPreCheckoutQuery')
        assert answer['ok'] is True
        thanks = await bot.ask(
            lambda: tg.successful_payment(42, invoice['payload'], 750, 'charge-1'), lambda c: 'Thank you' in c['text']
        )
        assert '100 credits added' in thanks['text'] and 'balance: 110 credits' in thanks['text']
        assert await bot.balance(42) == Decimal('110')
        # a second /start does not give the welcome credits again
        again = await bot.command(42, '/start')
        assert 'balance: 110 credits' in again['text'] and 'free credits' not in again['text']
        assert await bot.ledger.check_consistency() == []


async def test_payment_credited_once(database):
    "The same successful_payment 5 times at once, and 5 more times after a restart: credited once."
    async with FakeTelegram() as tg:
        async with running_bot(database, tg) as bot:
            await bot.command(42, '/start')
            invoice = await buy_pack(bot, 42)
            for _ in range(5):
                tg.successful_payment(42, invoice['payload'], 750, 'charge-dup')  # one getUpdates batch
            await tg.wait_for('sendMessage', lambda c: 'Thank you' in c['text'])
            await settle(1.0)
            assert await bot.balance(42) == Decimal('110')
        async with running_bot(database, tg) as bot:  # a restarted bot: a new Application on the same database
            since = len(tg.calls)
            last = [tg.successful_payment(42, invoice['payload'], 750, 'charge-dup') for _ in range(5)][-1]['update_id']
            await tg.wait_for('getUpdates', lambda c: (c.get('offset') or 0) > last, since=since)  # all 5 fetched
            await settle(1.5)
            assert await bot.balance(42) == Decimal('110')
            assert await bot.ledger.check_consistency() == []
        thanks = [t for t in tg.sent_texts(42) if 'Thank you' in t]
        assert len(thanks) == 1, thanks
        async with database.sessions() as s:
            assert await s.scalar(select(func.count(Payment.id))) == 1


async def test_forged_pre_checkouts_refused(sqlite_url):
    "Wrong amount, unknown pack, another user's payload, wrong currency, garbage: refused with a reason."
    from aidevbot.testing import migrated_database

    async with migrated_database(sqlite_url) as db, FakeTelegram() as tg, running_bot(db, tg) as bot:
        await bot.command(42, '/start')
        payload = (await buy_pack(bot, 42))['payload']
        cases = [
            (42, payload, 1, 'XTR', 'price'),  # wrong amount
            (42, payload.replace('p100', 'p999'), 750, 'XTR', 'no longer offered'),  # unknown pack
            (43, payload, 750, 'XTR', 'another account'),  # another user's invoice
            (42, payload, 750, 'USD', 'Stars'),  # not Stars
            (42, 'give me credits', 750, 'XTR', 'not valid'),
        ]  # not our payload
        for user, pl, amount, currency, reason in cases:
            answer = await bot.ask(lambda: tg.pre_checkout(user, pl, amount, currency), method='answerPreCheckoutQuery')
            assert answer['ok'] is False and reason in answer['error_message'], (pl, amount, answer.params)
        ok = await bot.ask(lambda: tg.pre_checkout(42, payload, 750), method='answerPreCheckoutQuery')
        assert ok['ok'] is True
        assert await bot.balance(42) == Decimal('10')  # nothing was credited by a pre-checkout


async def test_admin_commands(sqlite_url, caplog):
    "Non-admins get the unknown-command reply; the admin can see stats, grant and refund (once)."
    from aidevbot.testing import migrated_database

    async with migrated_database(sqlite_url) as db, FakeTelegram() as tg, running_bot(db, tg) as bot:
        await bot.command(42, '/start')
        invoice = await buy_pack(bot, 42)
        await bot.ask(
            lambda: tg.successful_payment(42, invoice['payload'], 750, 'charge-a'), lambda c: 'Thank you' in c['text']
        )
        unknown = (await bot.command(42, '/bogus'))['text']
        assert UNKNOWN in unknown
        for cmd in ['/stats', '/grant 42 1000', '/refund charge-a', '/refund charge-a force']:
            assert (await bot.command(42, cmd))['text'] == unknown, cmd
        assert await bot.balance(42) == Decimal('110') and not tg.calls_to('refundStarPayment')

        stats = await bot.command(ADMIN, '/stats')
        assert 'Users: 1' in stats['text'] and 'paid 1 (750' in stats['text']
        assert 'Granted 5 credits' in (await bot.command(ADMIN, '/grant 42 5'))['text']
        assert await bot.balance(42) == Decimal('115')
        assert 'Usage' in (await bot.command(ADMIN, '/grant 42 lots'))['text']
        assert 'No user' in (await bot.command(ADMIN, '/grant 99999 5'))['text']

        refunded = await bot.command(ADMIN, '/refund charge-a')
        assert 'Refunded 750' in refunded['text'], refunded['text']
        assert [c['telegram_payment_charge_id'] for c in tg.calls_to('refundStarPayment')] == ['charge-a']
        assert await bot.balance(42) == Decimal('15')
        assert 'already refunded' in (await bot.command(ADMIN, '/refund charge-a'))['text']
        assert len(tg.calls_to('refundStarPayment')) == 1 and await bot.balance(42) == Decimal('15')

        # Telegram refunded already (e.g. from another replica) but our ledger did not: counts as done
        await bot.ask(
            lambda: tg.successful_payment(42, invoice['payload'], 750, 'charge-b'), lambda c: 'Thank you' in c['text']
        )
        await bot.app.bot.refund_star_payment(42, 'charge-b')
        assert 'Refunded 750' in (await bot.command(ADMIN, '/refund charge-b'))['text']
        assert await bot.balance(42) == Decimal('15')
        async with db.sessions() as s:
            assert set(await s.scalars(select(Payment.status))) == {PaymentStatus.refunded}
        assert await bot.ledger.check_consistency() == []
    assert tg.token not in caplog.text


async def test_bad_input_gets_short_replies(sqlite_url, caplog):
    "Stickers, photos, voice, unknown commands, empty or over-long descriptions, forged buttons: a short reply each."
    from aidevbot.testing import migrated_database

    caplog.set_level(logging.DEBUG)
    async with migrated_database(sqlite_url) as db, FakeTelegram() as tg, running_bot(db, tg) as bot:
        await bot.command(42, '/start')
        for send, expect in [
            (lambda: tg.sticker(42), 'only read text'),
            (lambda: tg.photo(42, caption='this'), 'only read text'),
            (lambda: tg.voice(42), 'only read text'),
            (lambda: tg.command(42, '/frobnicate'), UNKNOWN),
            (lambda: tg.command(42, '/new'), 'describe the program'),
            (lambda: tg.command(42, '/new    '), 'describe the program'),
            (lambda: tg.message(42, ''), 'describe the program'),
            (lambda: tg.message(42, '  \n  '), 'describe the program'),
            (lambda: tg.message(42, 'x' * 4001), 'limit is 4000'),
            (lambda: tg.callback(42, 'approve:123456'), "isn't available"),
            (lambda: tg.callback(42, 'approve:1;DROP TABLE users'), 'no longer valid'),
            (lambda: tg.callback(42, 'dl:1:1'), "isn't available"),
            (lambda: tg.callback(42, 'whatever'), 'no longer valid'),
            (lambda: tg.callback(42, 'buy:p12345'), 'no longer offered'),
        ]:
            reply = await bot.ask(send)
            assert expect in reply['text'], (expect, reply['text'])
            assert len(reply['text']) < 300
        # every button press was answered
        assert len(tg.calls_to('answerCallbackQuery')) == 5
        assert not [t for t in tg.sent_texts(42) if 'went wrong' in t]
        await bot.command(42, '/help')
    assert tg.token not in caplog.text


async def test_no_credits_offers_packs(sqlite_url):
    "A description with a zero balance: a clear message and the buy buttons, no project."
    from aidevbot.testing import migrated_database

    async with FakeTelegram() as tg:
        from test_bot_harness import bot_settings

        async with (
            migrated_database(sqlite_url) as db,
            running_bot(db, tg, settings=bot_settings(tg, welcome_credits=0)) as bot,
        ):
            await bot.command(42, '/start')
            reply = await bot.ask(lambda: tg.message(42, 'a tiny calculator CLI'))
            assert 'no credits' in reply['text']
            assert [d for _, d in tg.buttons(42, reply.result['message_id'])] == ['buy:p100', 'buy:p500']


async def test_errors_are_reported_without_details(sqlite_url, caplog):
    "A failing Bot API call: the user is told something went wrong (no stack trace), the log has it without the token."
    from aidevbot.testing import migrated_database

    async with migrated_database(sqlite_url) as db, FakeTelegram() as tg, running_bot(db, tg) as bot:
        await bot.command(42, '/start')
        tg.fail('sendInvoice', 400, description='Bad Request: boom')
        reply = await bot.ask(lambda: tg.callback(42, 'buy:p100'))
        assert 'went wrong' in reply['text'] and 'Traceback' not in reply['text'] and 'boom' not in reply['text']
        assert 'boom' in caplog.text.lower() and 'Traceback' in caplog.text
        # the bot keeps working
        assert 'balance' in (await bot.command(42, '/credits'))['text']
    assert tg.token not in caplog.text


async def test_payment_on_two_replicas_at_once(database):
    "Two replicas (webhook style, one database) each handle the same successful_payment 5 times at once: credited once."
    from telegram import Update
    from aidevbot.billing import Ledger
    from aidevbot.bot import build_application
    from aidevbot.users import UserService
    from test_bot_harness import bot_settings

    async with FakeTelegram() as tg:
        settings = bot_settings(tg)
        apps = []
        for _ in range(2):
            ledger = Ledger(database)
            apps.append(
                build_application(
                    settings,
                    db=database,
                    orchestrator=None,
                    runner=None,
                    users=UserService(database, settings, ledger),
                    ledger=ledger,
                )
            )
        for app in apps:
            await app.initialize()
        try:
            async with running_bot(database, tg) as bot:  # only to buy the invoice the normal way
                await bot.command(42, '/start')
                payload = (await buy_pack(bot, 42))['payload']
            update = tg.successful_payment(42, payload, 750, 'charge-replicas', queue=False)
            await asyncio.gather(
                *(app.process_update(Update.de_json(update, app.bot)) for app in apps for _ in range(5))
            )
            assert len([t for t in tg.sent_texts(42) if 'Thank you' in t]) == 1
            ledger = Ledger(database)
            async with database.sessions() as s:
                user = await UserService(database, settings, ledger).get_user_by_telegram_id(s, 42)
                assert await s.scalar(select(func.count(Payment.id))) == 1
            assert await ledger.balance(user.id) == Decimal('110')
            assert await ledger.check_consistency() == []
        finally:
            for app in apps:
                await app.shutdown()


async def test_payment_that_does_not_match_its_invoice_is_held_and_admins_alerted(database):
    "successful_payment is rechecked: wrong amount, other payer, unknown pack, not Stars -> 0 credits, one alert each."
    async with FakeTelegram() as tg, running_bot(database, tg) as bot:
        await bot.command(42, '/start')
        await bot.command(43, '/start')
        payload = (await buy_pack(bot, 42))['payload']
        cases = [
            (42, payload, 1, 'XTR', 'charge-cheap', 'price'),  # paid 1 Star for a 750 pack
            (43, payload, 750, 'XTR', 'charge-other', 'another account'),  # 43 paid 42's invoice
            (42, payload.replace('p100', 'p999'), 750, 'XTR', 'charge-gone', 'no longer offered'),
            (42, payload, 750, 'USD', 'charge-usd', 'Stars'),
        ]
        for user, pl, amount, currency, charge, reason in cases:
            told = await bot.ask(
                lambda: tg.successful_payment(user, pl, amount, charge, currency=currency),
                lambda c: c['chat_id'] == user,
            )
            assert 'does not match' in told['text'] and charge in told['text'] and 'Thank you' not in told['text']
            alert = await tg.wait_for('sendMessage', lambda c: c['chat_id'] == ADMIN and charge in c['text'])
            assert (
                'NOT credited' in alert['text'] and reason in alert['text'] and f'Telegram user {user}' in alert['text']
            )
        assert await bot.balance(42) == Decimal('10') and await bot.balance(43) == Decimal(
            '10'
        )  # nobody credited blindly

        tg.successful_payment(42, payload, 1, 'charge-cheap')  # delivered again: still held, no second alert
        await settle(1.0)
        assert (
            len([c for c in tg.calls_to('sendMessage') if c['chat_id'] == ADMIN and 'charge-cheap' in c['text']]) == 1
        )
        assert await bot.balance(42) == Decimal('10')
        async with database.sessions() as s:
            held = {p.telegram_payment_charge_id: p for p in await s.scalars(select(Payment))}
        assert set(held) == {'charge-cheap', 'charge-other', 'charge-gone', 'charge-usd'}
        assert {(p.pack, p.credits) for p in held.values()} == {('unmatched', 0)} and held['charge-cheap'].stars == 1

        refunded = await bot.command(ADMIN, '/refund charge-other')  # the admin returns the Stars to the payer
        assert 'Refunded 750' in refunded['text'], refunded['text']
        assert [(c['user_id'], c['telegram_payment_charge_id']) for c in tg.calls_to('refundStarPayment')] == [
            (43, 'charge-other')
        ]
        assert await bot.balance(43) == Decimal('10') and await bot.ledger.check_consistency() == []
        # a matching payment is still credited as before
        thanks = await bot.ask(
            lambda: tg.successful_payment(42, payload, 750, 'charge-ok'), lambda c: 'Thank you' in c['text']
        )
        assert 'balance: 110 credits' in thanks['text']
