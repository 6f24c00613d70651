"""The orchestrator end to end: real database (SQLite and PostgreSQL), real ledger and LLM client, FakeLLM on loopback
playing the demo project, generated code run in the sandbox and again from the delivered ZIP."""

import asyncio
import io
import re
import zipfile
from decimal import Decimal

import pytest
from sqlalchemy import select

from aidevbot.db import CreditReservation, Project, ProjectFile, ProjectTask
from aidevbot.testing.fake_llm import RecordedRequest
from aidevbot.orchestrator import NOT_FOUND
from aidevbot.repository import claim_lease, transact
from aidevbot.steps import Document, Reply
from aidevbot.testing import demo_responder
from aidevbot.schemas import parse_file_blocks, render_file_blocks
from aidevbot.testing import FakeLLM
from aidevbot.wiring import build_services
from orchestrator_support import plan_and_approve, stack, unzip_and_test


async def _state(s, pid):
    async with s.db.sessions() as ses:
        return await ses.get(Project, pid)


async def _tasks(s, pid, version=1):
    async with s.db.sessions() as ses:
        return list(
            (
                await ses.scalars(
                    select(ProjectTask)
                    .where(ProjectTask.project_id == pid, ProjectTask.version == version)
                    .order_by(ProjectTask.idx)
                )
            ).all()
        )


def _impl_tasks(fake):
    "Task numbers of the implementer requests FakeLLM saw, in order."
    return [
        int(re.search(r'Your task \((\d+) of', r['messages'][-1]['content']).group(1))
        for r in fake.requests_for('task_files')
    ]


async def test_full_flow_completes_and_the_zip_passes_its_tests(db_url):
    with FakeLLM(demo_responder()) as fake:
        async with stack(db_url, fake.base_url) as s:
            before = await s.ledger.balance(s.user_id)
            pid = await s.orch.create_project(user_id=s.user_id, chat_id=555, description='A word statistics tool')
            assert await s.orch.advance(pid) == 'awaiting_approval'
            plan = s.events[-1]
            assert plan.kind == 'plan_ready' and plan.chat_id == 555
            approve = plan.reply.buttons[0][0]
            assert approve.data == f'approve:{pid}' and re.fullmatch(r'Approve \(≈\d+ credits\)', approve.text)
            assert plan.reply.buttons[0][1].data == f'cancel:{pid}'
            assert '≈' in plan.reply.text and 'Command-line interface' in plan.reply.text
            assert fake.request_count == 1  # only the architect: nothing more is spent before Approve
            assert await s.orch.advance(pid) == 'awaiting_approval' and fake.request_count == 1

            reply = await s.orch.approve(pid, user_id=s.user_id)
            p = await _state(s, pid)
            assert p.state == 'queued' and p.reservation_id is not None
            assert await s.ledger.balance(s.user_id) < before  # the estimate's upper bound is on hold

            assert await s.orch.advance(pid) == 'completed'
            done = s.events[-1]
            assert done.kind == 'completed' and isinstance(done.reply.document, Document)
            doc = done.reply.document
            assert doc.filename == 'word-stats-v1.zip'
            assert re.fullmatch(r'8 files · tests 6/6 passed · [\d.]+ credits', doc.caption), doc.caption
            progress = [e for e in s.events if e.kind == 'progress']
            assert {e.progress.task_total for e in progress} == {3} and progress[-1].progress.tasks_done == 3
            assert any(e.progress.verification and '6/6 tests passed' in e.progress.verification for e in progress)

            proc, project = unzip_and_test(doc.data)
            assert proc.returncode == 0 and '6 passed' in proc.stdout, proc.stdout + proc.stderr
            readme = (project / 'README.md').read_text()
            assert 'python cli.py' in readme and 'python -m pytest' in readme  # how to run it, how to test it

            p = await _state(s, pid)
            assert p.result['tests_run'] == 6 and p.result['tests_passed'] == 6 and p.result['files'] == 8
            assert 'isolation' in p.result
            spent = Decimal(p.result['credits_spent'])
            assert spent > 0 and p.credits_spent >= spent
            async with s.db.sessions() as ses:
                hold = await ses.get(CreditReservation, (await _hold_id(s, pid)))
                assert hold.status != 'open'  # the remainder went back
            assert await s.ledger.balance(s.user_id) == before - p.credits_spent
            assert await s.ledger.check_consistency() == []
            same = await s.orch.artifact(pid, user_id=s.user_id)
            assert isinstance(same, Document) and same.data == doc.data  # downloadable again, byte-identical


async def _hold_id(s, pid):
    async with s.db.sessions() as ses:
        return (
            await ses.scalars(
                select(CreditReservation.id).where(
                    CreditReservation.project_id == pid, CreditReservation.purpose == 'project'
                )
            )
        ).first()


@pytest.mark.parametrize(
    'fault,evidence', [('syntax', 'SyntaxError'), ('failing_test', 'tests failed'), ('missing_import', 'textutils')]
)
async def test_scripted_faults_are_caught_and_repaired(sqlite_url, fault, evidence):
    with FakeLLM(demo_responder(fault=fault)) as fake:
        async with stack(sqlite_url, fake.base_url) as s:
            pid = await plan_and_approve(s)
            assert await s.orch.advance(pid) == 'completed'
            assert _impl_tasks(fake) == [1, 2, 2, 3]  # task 2 needed one repair round
            repair = fake.requests_for('task_files')[2]['messages'][-1]['content']
            assert 'previous attempt failed verification' in repair and evidence in repair
            t = (await _tasks(s, pid))[1]
            assert t.state == 'done' and t.attempts == 2
            proc, _ = unzip_and_test(s.events[-1].reply.document.data)
            assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize('fault', ['syntax', 'failing_test', 'missing_import'])
async def test_unrepaired_faults_end_as_a_clear_failure_with_files_kept(sqlite_url, fault):
    with FakeLLM(demo_responder(fault=fault, fix=False)) as fake:
        async with stack(sqlite_url, fake.base_url, max_fix_attempts=1) as s:
            pid = await plan_and_approve(s)
            assert await s.orch.advance(pid) == 'failed'
            assert 'completed' not in s.kinds() and all(e.reply.document is None for e in s.events)
            failed = s.events[-1]
            assert (
                failed.kind == 'failed'
                and 'task 2 of 3' in failed.reply.text
                and 'Command-line interface' in failed.reply.text
            )
            p = await _state(s, pid)
            assert p.error and p.result is None
            tasks = await _tasks(s, pid)
            assert [t.state for t in tasks] == ['done', 'failed', 'pending'] and tasks[1].attempts == 2
            async with s.db.sessions() as ses:
                paths = set((await ses.scalars(select(ProjectFile.path).where(ProjectFile.project_id == pid))).all())
            assert {'wordstats.py', 'cli.py', 'tests/test_cli.py'} <= paths  # everything written is kept
            assert isinstance(await s.orch.artifact(pid, user_id=s.user_id), Reply)  # never delivered
            assert await s.ledger.check_consistency() == []
            st = await s.orch.status(pid, user_id=s.user_id)
            assert 'failed' in st.text and 'Stopped:' in st.text


async def test_hostile_file_names_fail_the_attempt_and_are_never_stored(sqlite_url):
    demo = demo_responder()
    served = {'n': 0}

    def responder(body):
        reply = demo(body)
        if RecordedRequest(body, {}, '').schema_name == 'task_files' and served['n'] == 0:
            served['n'] += 1
            reply += '\n' + render_file_blocks({'../escape.py': 'x = 1\n'})
        return reply

    with FakeLLM(responder) as fake:
        async with stack(sqlite_url, fake.base_url) as s:
            pid = await plan_and_approve(s)
            assert await s.orch.advance(pid) == 'completed'
            assert _impl_tasks(fake) == [1, 1, 2, 3]
            assert '..' in fake.requests_for('task_files')[1]['messages'][-1]['content']  # the reason went back
            async with s.db.sessions() as ses:
                paths = (await ses.scalars(select(ProjectFile.path).where(ProjectFile.project_id == pid))).all()
            assert not any('..' in p or p.startswith('/') for p in paths)


async def test_no_credits_for_planning_pauses_until_a_top_up(sqlite_url):
    with FakeLLM(demo_responder()) as fake:
        async with stack(sqlite_url, fake.base_url, credits=0, welcome_credits=0) as s:
            pid = await s.orch.create_project(user_id=s.user_id, chat_id=1, description='word stats')
            assert await s.orch.advance(pid) == 'paused' and fake.request_count == 0
            assert s.events[-1].kind == 'paused' and 'credits' in (await _state(s, pid)).paused_reason
            assert 'top up first' in (await s.orch.resume(pid, user_id=s.user_id)).text
            await s.ledger.credit(s.user_id, 20, kind='admin', key='topup')
            assert (await s.orch.resume(pid, user_id=s.user_id)).text.startswith('▶️')
            assert (await _state(s, pid)).state == 'planning'
            assert await s.orch.advance(pid) == 'awaiting_approval'


async def test_out_of_credits_pauses_and_resumes_after_a_top_up(sqlite_url):
    with FakeLLM(demo_responder()) as fake:
        async with stack(sqlite_url, fake.base_url) as s:
            pid = await s.orch.create_project(user_id=s.user_id, chat_id=1, description='word stats')
            assert await s.orch.advance(pid) == 'awaiting_approval'
            p = await _state(s, pid)
            # not enough for the hold: a reply with the amount, the state stays
            have = await s.ledger.balance(s.user_id)
            await s.ledger.debit(s.user_id, have - p.estimate_high + 1, kind='admin', key='spent-elsewhere')
            short = await s.orch.approve(pid, user_id=s.user_id)
            assert 'needs up to' in short.text and (await _state(s, pid)).state == 'awaiting_approval'
            assert any(b.data.startswith('buy:') for row in short.buttons for b in row)
            # exactly the hold: the run pauses when the hold is used up and the balance is empty
            await s.ledger.credit(s.user_id, 1, kind='admin', key='exact')
            assert (await s.orch.approve(pid, user_id=s.user_id)).text.startswith('✅')
            assert await s.ledger.balance(s.user_id) == 0
            hold = (await _state(s, pid)).reservation_id
            async with s.db.sessions() as ses:
                left = (await ses.get(CreditReservation, hold)).amount
            await s.ledger.reserve(s.user_id, left, key='drain', parent_id=hold)  # something used it all
            assert await s.orch.advance(pid) == 'paused'
            paused = s.events[-1]
            assert paused.kind == 'paused' and [b.data for b in paused.reply.buttons[0]] == [
                f'resume:{pid}',
                f'cancel:{pid}',
            ]
            assert 'Top up' in paused.reply.text
            assert (await _state(s, pid)).paused_reason
            still = await s.orch.resume(pid, user_id=s.user_id)
            assert 'top up first' in still.text and (await _state(s, pid)).state == 'paused'
            await s.ledger.credit(s.user_id, 50, kind='admin', key='topup')
            assert (await s.orch.resume(pid, user_id=s.user_id)).text.startswith('▶️')
            assert await s.orch.advance(pid) == 'completed'
            assert await s.ledger.check_consistency() == []


async def test_cancel_releases_the_hold_and_stops_the_work(sqlite_url):
    with FakeLLM(demo_responder()) as fake:
        async with stack(sqlite_url, fake.base_url) as s:
            before = await s.ledger.balance(s.user_id)
            pid = await plan_and_approve(s)
            calls = fake.request_count
            reply = await s.orch.cancel(pid, user_id=s.user_id)
            assert reply.text.startswith('🚫') and s.events[-1].kind == 'cancelled'
            assert await s.orch.advance(pid) == 'cancelled' and fake.request_count == calls
            spent = (await _state(s, pid)).credits_spent
            assert await s.ledger.balance(s.user_id) == before - spent  # only the plan was paid
            assert 'already' in (await s.orch.cancel(pid, user_id=s.user_id)).text


async def test_other_users_and_finished_projects_get_a_clear_reply(sqlite_url):
    with FakeLLM(demo_responder()) as fake:
        async with stack(sqlite_url, fake.base_url) as s:
            pid = await plan_and_approve(s)
            other = s.user_id + 999
            for op in (s.orch.approve, s.orch.cancel, s.orch.resume, s.orch.status, s.orch.artifact):
                r = await op(pid, user_id=other)
                assert isinstance(r, Reply) and r.text == NOT_FOUND
            assert (await s.orch.request_change(pid, user_id=other, text='x')).text == NOT_FOUND
            assert (await s.orch.status(123456, user_id=s.user_id)).text == NOT_FOUND
            assert 'Already approved' in (await s.orch.approve(pid, user_id=s.user_id)).text
            assert 'nothing to resume' in (await s.orch.resume(pid, user_id=s.user_id)).text
            assert 'once it is completed' in (await s.orch.request_change(pid, user_id=s.user_id, text='more')).text
            assert isinstance(await s.orch.artifact(pid, user_id=s.user_id), Reply)
            assert await s.orch.resumable() == [pid]
            assert await s.orch.advance(pid) == 'completed'
            assert await s.orch.resumable() == []
            assert 'nothing to approve' in (await s.orch.approve(pid, user_id=s.user_id)).text
            st = await s.orch.status(pid, user_id=s.user_id)
            assert 'completed' in st.text and st.buttons[0][0].data == f'dl:{pid}:1'
            for e in s.events:
                assert all(len(b.data.encode()) <= 64 for row in e.reply.buttons for b in row)


async def test_a_change_request_makes_version_2_and_version_1_stays_downloadable(sqlite_url):
    with FakeLLM(demo_responder()) as fake:
        async with stack(sqlite_url, fake.base_url) as s:
            pid = await plan_and_approve(s)
            assert await s.orch.advance(pid) == 'completed'
            v1 = s.events[-1].reply.document
            reply = await s.orch.request_change(pid, user_id=s.user_id, text='Add a rank column to the report')
            assert 'version 2' in reply.text and (await _state(s, pid)).state == 'planning'
            assert await s.orch.advance(pid) == 'awaiting_approval'
            plan = s.events[-1]
            assert (
                plan.kind == 'plan_ready'
                and 'version 2' in plan.reply.text
                and 'Ranks in the report' in plan.reply.text
            )
            architect = fake.requests_for('project_plan')[-1]['messages'][-1]['content']
            assert 'Change request:' in architect and 'cli.py' in architect  # the delta plan sees the current files
            assert (await s.orch.approve(pid, user_id=s.user_id)).text.startswith('✅')
            assert await s.orch.advance(pid) == 'completed'
            v2 = s.events[-1].reply.document
            assert v2.filename == 'word-stats-v2.zip' and v2.data != v1.data
            assert _impl_tasks(fake) == [1, 2, 3, 1]  # version 2 ran only the delta task
            proc, project = unzip_and_test(v2.data)
            assert proc.returncode == 0 and 'rank' in (project / 'report.py').read_text()
            again = await s.orch.artifact(pid, user_id=s.user_id, version=1)
            assert again.data == v1.data and again.filename == 'word-stats-v1.zip'
            st = await s.orch.status(pid, user_id=s.user_id)
            assert [b.data for b in st.buttons[0]] == [f'dl:{pid}:1', f'dl:{pid}:2']


async def test_one_runner_per_project(sqlite_url):
    with FakeLLM(demo_responder(), latency=0.05) as fake:
        async with stack(sqlite_url, fake.base_url, orchestrator_kw={'lease_seconds': 3}) as s:
            pid = await plan_and_approve(s)
            async with await build_services(s.settings, db=s.db) as other:  # another process, in effect
                a, b = await asyncio.gather(
                    s.orch.advance(pid, worker_id='w1'), other.orchestrator.advance(pid, worker_id='w2')
                )
            assert 'completed' in (a, b) and {a, b} - {'completed'} <= {'queued', 'implementing', 'verifying'}, (a, b)
            assert _impl_tasks(fake) == [1, 2, 3]  # no task was written twice
            # a lease held by a worker that died blocks others until it expires
            pid2 = await plan_and_approve(s, 'second project')
            await transact(s.db, claim_lease, pid2, 'dead-worker', seconds=s.orch.lease_seconds)
            assert await s.orch.advance(pid2, worker_id='w2') == 'queued'
            await asyncio.sleep(3.2)
            assert await s.orch.advance(pid2, worker_id='w2') == 'completed'


async def test_the_credit_cap_stops_a_project(sqlite_url):
    with FakeLLM(demo_responder()) as fake:
        async with stack(sqlite_url, fake.base_url, project_credit_cap=Decimal('0.05')) as s:
            pid = await s.orch.create_project(user_id=s.user_id, chat_id=1, description='word stats')
            assert await s.orch.advance(pid) == 'awaiting_approval'
            refused = await s.orch.approve(pid, user_id=s.user_id)
            assert 'over the limit of 0.05 credits per project' in refused.text
            assert (await _state(s, pid)).state == 'awaiting_approval'
        async with stack(sqlite_url, fake.base_url) as s:
            pid = await plan_and_approve(s)
            async with s.db.sessions() as ses, ses.begin():
                (await ses.get(Project, pid)).credit_cap = Decimal('0.01')  # a runaway project hits its cap
            calls = fake.request_count
            assert await s.orch.advance(pid) == 'failed'
            assert 'limit of 0.01 credits' in (await _state(s, pid)).error
            assert fake.request_count <= calls + 1 and await s.ledger.check_consistency() == []


async def test_a_missing_third_party_package_is_said_plainly_not_verified(sqlite_url):
    demo = demo_responder()

    def responder(body):
        reply = demo(body)
        if (
            RecordedRequest(body, {}, '').schema_name == 'task_files'
            and 'Your task (3 of 3)' in body['messages'][-1]['content']
        ):
            files = parse_file_blocks(reply).files
            files['tests/test_report.py'] = (
                'import fancystats  # a declared requirement the sandbox does not install\n'
                + files['tests/test_report.py']
            )
            reply = render_file_blocks({**files, 'requirements.txt': 'fancystats==1.0\n'})
        return reply

    with FakeLLM(responder) as fake:
        async with stack(sqlite_url, fake.base_url) as s:
            pid = await plan_and_approve(s)
            assert await s.orch.advance(pid) == 'completed'
            assert _impl_tasks(fake) == [1, 2, 3]  # not a fault the implementer could fix: no repair round
            p = await _state(s, pid)
            assert p.result['tests_verified'] is False and 'fancystats' in p.result['note']
            caption = s.events[-1].reply.document.caption
            assert 'Not verified' in caption and 'fancystats' in caption and 'passed' not in caption


async def test_a_runner_starting_up_frees_reservations_a_crash_left_open(sqlite_url):
    from datetime import timedelta
    from sqlalchemy import update
    from aidevbot.db import utcnow

    with FakeLLM(demo_responder()) as fake:
        async with stack(sqlite_url, fake.base_url) as s:
            before = await s.ledger.balance(s.user_id)
            pid = await plan_and_approve(s)
            hold = (await _state(s, pid)).reservation_id
            crashed = await s.ledger.reserve(
                s.user_id, 3, key='llm:crashed-call', parent_id=hold
            )  # a call that never settled
            async with s.db.sessions() as ses, ses.begin():
                await ses.execute(update(CreditReservation).values(created_at=utcnow() - timedelta(days=1)))
            assert await s.orch.resumable() == [pid]
            assert [r.id for r in await s.ledger.open_reservations(s.user_id)] == [
                hold
            ]  # the live project's hold stays
            async with s.db.sessions() as ses:
                assert (await ses.get(CreditReservation, crashed)).status == 'released'
            assert await s.orch.cancel(pid, user_id=s.user_id)
            assert await s.ledger.balance(s.user_id) == before - (await _state(s, pid)).credits_spent  # nothing stuck
            assert await s.ledger.check_consistency() == []


async def test_files_that_run_code_when_opened_are_named_in_the_caption_and_readme_and_lookalikes_never_ship(
    sqlite_url,
):
    "First attempt: '.git/config', a Cyrillic 'ѕetup.py' and fullwidth '．．/x.py' are refused; '.envrc' ships, named."
    demo = demo_responder()
    served = {'n': 0}

    def responder(body):
        reply = demo(body)
        if RecordedRequest(body, {}, '').schema_name == 'task_files':
            served['n'] += 1
            extra = {'.envrc': 'echo hi\n', '.vscode/tasks.json': '{}\n'}
            if served['n'] == 1:
                extra.update(
                    {
                        '.git/config': '[core]\n\tfsmonitor = touch /tmp/pwned\n',
                        'ѕetup.py': 'x = 1\n',
                        '．．/x.py': 'x = 1\n',
                    }
                )
            reply += '\n' + render_file_blocks(extra)
        return reply

    with FakeLLM(responder) as fake:
        async with stack(sqlite_url, fake.base_url) as s:
            pid = await plan_and_approve(s)
            assert await s.orch.advance(pid) == 'completed'
            assert _impl_tasks(fake)[:2] == [1, 1]  # the hostile attempt was refused and repaired
            doc = s.events[-1].reply.document
            warning = '⚠️ runs code when opened: .envrc, .vscode/tasks.json (see README)'
            assert doc.caption.endswith(warning), doc.caption
            with zipfile.ZipFile(io.BytesIO(doc.data)) as zf:
                names = zf.namelist()
                readme = zf.read('word-stats/README.md').decode()
            assert 'word-stats/.envrc' in names and 'word-stats/.vscode/tasks.json' in names
            assert not any('.git/' in n.casefold() or 'ѕ' in n or '..' in n or n.endswith('/x.py') for n in names), (
                names
            )
            assert '## Files that run code on their own' in readme and '- `.envrc` — direnv' in readme
            again = await s.orch.artifact(pid, user_id=s.user_id)  # a later download says the same
            assert again.caption == doc.caption and again.data == doc.data
