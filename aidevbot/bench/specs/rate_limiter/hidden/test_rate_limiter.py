import pytest

from ratelimit import TokenBucket


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_starts_full_and_drains():
    c = Clock()
    b = TokenBucket(1, 3, clock=c)
    assert [b.allow() for _ in range(4)] == [True, True, True, False]


def test_refills_over_time_up_to_capacity():
    c = Clock()
    b = TokenBucket(2, 4, clock=c)
    for _ in range(4):
        b.allow()
    c.t += 1.0
    assert b.tokens == pytest.approx(2.0)
    c.t += 100
    assert b.tokens == pytest.approx(4.0)


def test_allow_n_takes_nothing_on_failure():
    c = Clock()
    b = TokenBucket(1, 5, clock=c)
    assert b.allow(4)
    assert not b.allow(2)
    assert b.tokens == pytest.approx(1.0)


def test_more_than_capacity():
    b = TokenBucket(1, 2, clock=Clock())
    assert not b.allow(3)
    assert b.wait_time(3) == float("inf")


def test_wait_time():
    c = Clock()
    b = TokenBucket(2, 2, clock=c)
    assert b.wait_time() == 0.0
    b.allow(2)
    assert b.wait_time(1) == pytest.approx(0.5)
    c.t += 0.25
    assert b.wait_time(1) == pytest.approx(0.25)


def test_fractional_refill():
    c = Clock()
    b = TokenBucket(0.5, 1, clock=c)
    b.allow()
    c.t += 1.0
    assert not b.allow()
    c.t += 1.0
    assert b.allow()


def test_invalid_arguments():
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    with pytest.raises(ValueError):
        TokenBucket(1, 0)


def test_default_clock_works():
    b = TokenBucket(1000, 1)
    assert b.allow()
