"""Ledger under concurrency, on SQLite and PostgreSQL: no credit created, lost or spent twice."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from aidevbot.billing import BillingError, InsufficientCredits, Ledger
from aidevbot.config import CreditPack, Settings
from aidevbot.db import CreditReservation, CreditTransaction, Payment, Project, ProjectState, User, utcnow
from aidevbot.users import UserService


async def new_user(db, ledger, balance, tg=1) -> int:
    async with db.sessions() as s, s.begin():
        s.add(u := User(telegram_user_id=tg))
    if balance:
        await ledger.credit(u.id, balance, key=f'grant:{tg}')
    return u.id


async def count(db, model, *where) -> int:
    async with db.sessions() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar()


async def test_200_concurrent_debits_never_overdraw(database):
    ledger = Ledger(database)
    X, Y = Decimal('0.70'), Decimal('50.00')
    uid = await new_user(database, ledger, Y)

    async def spend(i):
        try:
            await ledger.debit(uid, X, key=f'spend:{i}')
            return True
        except InsufficientCredits:
            return False

    results = await asyncio.gather(*(spend(i) for i in range(200)))
    k = sum(results)
    assert k == int(Y // X) == 71
    balance = await ledger.balance(uid)
    assert balance == Y - k * X == Decimal('0.30')
    assert balance >= 0
    assert await count(database, CreditTransaction, CreditTransaction.amount < 0) == k
    assert await ledger.check_consistency() == []


async def test_same_key_five_times_concurrently_has_one_effect(database):
    ledger = Ledger(database)
    uid = await new_user(database, ledger, Decimal('20'))
    debits = await asyncio.gather(*(ledger.debit(uid, 3, key='once:debit') for _ in range(5)))
    credits = await asyncio.gather(*(ledger.credit(uid, 2, key='once:credit') for _ in range(5)))
    holds = await asyncio.gather(*(ledger.reserve(uid, 4, key='once:hold') for _ in range(5)))
    assert len({d.id for d in debits}) == 1 and len({c.id for c in credits}) == 1 and len(set(holds)) == 1
    settled = await asyncio.gather(*(ledger.settle(holds[0], '1.5') for _ in range(5)))
    assert settled == [Decimal('1.50')] * 5
    assert await ledger.balance(uid) == Decimal('20') - 3 + 2 - Decimal('1.5')
    assert (
        await count(database, CreditTransaction, CreditTransaction.user_id == uid) == 5
    )  # grant, debit, credit, hold, its release
    assert await ledger.check_consistency() == []


async def test_payment_credited_once_and_refunded_once_under_concurrency(database):
    ledger = Ledger(database)
    uid = await new_user(database, ledger, 0)
    pack = CreditPack(100, 750)
    results = await asyncio.gather(
        *(
            ledger.credit_payment(
                user_id=uid,
                telegram_payment_charge_id='tg_charge_1',
                provider_payment_charge_id='prov_1',
                pack=pack,
                stars=750,
                payload='p100',
            )
            for _ in range(5)
        )
    )
    assert sum(created for _, created in results) == 1
    assert len({p.id for p, _ in results}) == 1
    assert await ledger.balance(uid) == Decimal('100')
    assert await count(database, Payment) == 1
    refunds = await asyncio.gather(*(ledger.refund_payment('tg_charge_1') for _ in range(5)))
    assert sum(reversed_ for _, reversed_ in refunds) == 1
    assert await ledger.balance(uid) == 0
    with pytest.raises(BillingError):
        await ledger.refund_payment('no_such_charge')
    assert await ledger.check_consistency() == []


async def test_refund_of_spent_credits_is_refused_unless_partial(database):
    ledger = Ledger(database)
    uid = await new_user(database, ledger, 0)
    await ledger.credit_payment(
        user_id=uid,
        telegram_payment_charge_id='c2',
        provider_payment_charge_id=None,
        pack=CreditPack(100, 750),
        stars=750,
    )
    await ledger.debit(uid, 60, key='spent')
    with pytest.raises(InsufficientCredits):
        await ledger.refund_payment('c2')
    assert await ledger.balance(uid) == 40
    p, reversed_ = await ledger.refund_payment('c2', allow_partial=True)
    assert reversed_ and p.status == 'refunded' and await ledger.balance(uid) == 0
    assert await ledger.check_consistency() == []


async def test_concurrent_calls_from_one_project_hold(database):
    "50 calls draw on one hold and the balance at once: nothing overdraws, everything returns where it came from."
    ledger = Ledger(database)
    uid = await new_user(database, ledger, Decimal('30'))
    hold = await ledger.reserve(uid, 20, key='hold', purpose='project hold')

    async def call(i):
        try:
            rid = await ledger.reserve(uid, 1, key=f'call:{i}', parent_id=hold)
        except InsufficientCredits:
            return None
        return await ledger.settle(rid, Decimal('0.40'))

    charged = [c for c in await asyncio.gather(*(call(i) for i in range(50))) if c is not None]
    # reservations may be refused while others hold credits, but every accepted call is charged exactly once
    assert all(c == Decimal('0.40') for c in charged)
    await ledger.release(hold)
    assert await ledger.balance(uid) == Decimal('30') - Decimal('0.40') * len(charged)
    assert await ledger.open_reservations(uid) == []
    assert await ledger.check_consistency() == []


async def test_settle_beyond_reservation_never_goes_negative(database):
    ledger = Ledger(database)
    uid = await new_user(database, ledger, Decimal('5'))
    rid = await ledger.reserve(uid, 2, key='r')
    assert await ledger.settle(rid, 10) == Decimal('5')  # 2 reserved + the 3 left; 5 could not be charged
    assert await ledger.balance(uid) == 0
    rows = await ledger.recent(uid, 1)
    assert 'could not be charged' in rows[0].note
    with pytest.raises(InsufficientCredits) as e:
        await ledger.reserve(uid, 1, key='r2')
    assert 'needs 1.00 credits' in str(e.value)
    assert await ledger.check_consistency() == []


async def test_recover_stale_releases_calls_but_keeps_live_project_holds(database):
    ledger = Ledger(database)
    uid = await new_user(database, ledger, Decimal('10'))
    async with database.sessions() as s, s.begin():
        s.add_all(
            projects := [
                Project(user_id=uid, description=st, state=st)
                for st in (ProjectState.implementing, ProjectState.paused, ProjectState.cancelled)
            ]
        )
    holds = [await ledger.reserve(uid, 2, key=f'hold:{p.id}', project_id=p.id) for p in projects]
    call = await ledger.reserve(uid, 1, key='call', project_id=projects[0].id, parent_id=holds[0])
    crashed = await ledger.reserve(uid, 1, key='crashed')
    async with database.sessions() as s, s.begin():
        for p, h in zip(projects, holds):
            await s.execute(update(Project).where(Project.id == p.id).values(reservation_id=h))
        await s.execute(update(CreditReservation).values(created_at=utcnow() - timedelta(minutes=30)))
    fresh = await ledger.reserve(uid, 1, key='fresh')
    assert await ledger.balance(uid) == Decimal('2')
    assert (
        await ledger.recover_stale(timedelta(minutes=10)) == 3
    )  # the call, the crashed call, the cancelled project's hold
    assert {r.id for r in await ledger.open_reservations(uid)} == {holds[0], holds[1], fresh}
    assert await ledger.balance(uid) == Decimal('5')
    # a call that finishes after recovery still pays for what it used
    assert await ledger.settle(crashed, '0.30') == Decimal('0.30')
    assert await ledger.balance(uid) == Decimal('4.70')
    assert await ledger.check_consistency() == []


async def test_welcome_credits_once_even_for_concurrent_starts(database):
    users = UserService(database, Settings(_env_file=None, welcome_credits='10'))
    results = await asyncio.gather(*(users.ensure_user(777, username='ada') for _ in range(5)))
    assert sum(created for _, created in results) == 1
    assert len({u.id for u, _ in results}) == 1
    uid = results[0][0].id
    _, again = await users.ensure_user(777)
    assert not again
    assert await users.balance(uid) == Decimal('10')
    assert [t.kind for t in await users.recent_ledger(uid)] == ['welcome']
    assert await users.ledger.check_consistency() == []


async def test_amounts_are_decimal_cents(database):
    ledger = Ledger(database)
    uid = await new_user(database, ledger, Decimal('0.30'))
    for i in range(3):
        await ledger.debit(uid, '0.10', key=f'dime:{i}')  # 0.1 + 0.2 style float drift would leave a crumb
    assert await ledger.balance(uid) == Decimal('0.00')
    with pytest.raises(ValueError):
        await ledger.debit(uid, '0.001', key='tiny')
    assert isinstance(await ledger.balance(uid), Decimal)
    assert await ledger.check_consistency() == []


async def test_a_repeat_returns_the_first_entry_even_when_the_balance_no_longer_covers_it(database):
    ledger = Ledger(database)
    uid = await new_user(database, ledger, Decimal('5'))
    first = await ledger.debit(uid, 5, key='all-of-it')
    again = await ledger.debit(
        uid, 5, key='all-of-it'
    )  # a retry after the first one succeeded: not refused, not charged
    assert again.id == first.id and again.balance_after == 0 and await ledger.balance(uid) == 0
    with pytest.raises(InsufficientCredits) as e:
        await ledger.debit(uid, 1, key='more')
    assert e.value.available == 0 and '/credits' in str(e.value)
    with pytest.raises(BillingError):
        await ledger.credit(uid + 999, 1, key='nobody')
    with pytest.raises(IntegrityError):  # a broken link is an error, never mistaken for a repeat
        await ledger.credit(uid, 1, key='bad-link', project_id=424242)
    assert await ledger.balance(uid) == 0
    assert await count(database, CreditTransaction, CreditTransaction.user_id == uid) == 2
    assert await ledger.check_consistency() == []
