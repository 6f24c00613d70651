"""/projects is the one list of a user's projects, and a change asked for with a project's Change button reaches the
project whatever replica the answer lands on and whatever language the user reads."""

from aidevbot.render import Msg, render
from aidevbot.repository import add_project, get_project, transact, user_projects
from aidevbot.testing import FakeLLM, FakeTelegram, demo_responder, migrated_database
from test_bot_e2e import product
from test_bot_harness import running_bot


async def completed_project(bot, telegram_user_id: int) -> int:
    "A finished project (version 1, downloadable) of the Telegram user, as the orchestrator leaves one."
    async with bot.db.sessions() as s:
        user = await bot.users.get_user_by_telegram_id(s, telegram_user_id)
    versions = {'1': {'filename': 'cli.zip', 'root': 'cli', 'files': 1, 'tests_run': 1, 'tests_passed': 1}}
    p = await transact(
        bot.db,
        add_project,
        user_id=user.id,
        chat_id=telegram_user_id,
        description='A command line tool',
        title='cli',
        state='completed',
        version=1,
        result={'versions': versions},
    )
    return p.id


async def test_projects_lists_each_project_with_its_buttons_and_nobody_elses(database):
    async with FakeTelegram() as tg, running_bot(database, tg) as bot:
        await bot.command(42, '/start')
        pid = await completed_project(bot, 42)
        listing = await bot.command(42, '/projects')
        assert listing['text'].startswith('Your projects') and f'#{pid}' in listing['text'], listing['text']
        assert 'completed' in listing['text']
        assert [d for _, d in tg.buttons(42, listing.result['message_id'])] == [
            f'dl:{pid}:1',
            f'status:{pid}',
            f'change:{pid}',
        ]
        await bot.command(43, '/start')
        assert (await bot.command(43, '/projects'))['text'].startswith('You have no projects')


async def test_a_change_request_in_russian_reaches_the_project_on_another_replica_without_a_reply(sqlite_url):
    "The Change button's project is kept in the database: no replica parses the bot's own sentence to find it."
    async with (
        migrated_database(sqlite_url) as db,
        FakeTelegram() as tg,
        FakeLLM(demo_responder()) as llm,
        product(db, tg, llm) as (bot, runner),
    ):
        tg.user(42, language_code='ru-RU', first_name='Аня')
        await bot.command(42, '/start')
        pid = await completed_project(bot, 42)
        asked = await bot.ask(lambda: tg.callback(42, f'change:{pid}'))
        assert asked['text'] == render(Msg('change_ask', pid=pid), 'ru')
        bot.app.drop_user_data(42)  # the answer reaches another replica, and is not sent as a reply to the prompt
        answer = await bot.ask(lambda: tg.message(42, 'Пусть ещё выводит разность двух чисел.'))
        assert answer['text'] == render(Msg('change_planning', version=2, title='cli'), 'ru'), answer['text']
        project = await transact(db, get_project, pid)
        assert project.version == 2 and project.change_request.startswith('Пусть')
        # the change was taken once: the next message, and /new, start new projects
        not_a_plan = lambda c: 'approve:' not in str(c.get('reply_markup'))  # noqa: E731  (version 2's plan may arrive)
        again = await bot.ask(lambda: tg.message(42, 'Калькулятор в командной строке.'), not_a_plan)
        assert again['text'] == render(Msg('planning', pid=pid + 1), 'ru'), again['text']
        assert len(await transact(db, user_projects, project.user_id)) == 2


async def test_new_drops_a_change_asked_for(sqlite_url):
    async with (
        migrated_database(sqlite_url) as db,
        FakeTelegram() as tg,
        FakeLLM(demo_responder()) as llm,
        product(db, tg, llm) as (bot, runner),
    ):
        await bot.command(42, '/start')
        pid = await completed_project(bot, 42)
        await bot.ask(lambda: tg.callback(42, f'change:{pid}'))
        planning = await bot.command(42, '/new A tool that adds two numbers')
        assert planning['text'] == render(Msg('planning', pid=pid + 1), 'en')
        assert (await transact(db, get_project, pid)).version == 1  # the finished project was left alone
