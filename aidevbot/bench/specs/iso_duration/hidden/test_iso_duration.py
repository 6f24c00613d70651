from datetime import timedelta

import pytest

from isodur import add_duration, format_duration, parse_duration


def test_parse_parts():
    assert parse_duration("P1DT2H30M5S") == timedelta(days=1, hours=2, minutes=30, seconds=5)
    assert parse_duration("PT45M") == timedelta(minutes=45)
    assert parse_duration("P3D") == timedelta(days=3)


def test_parse_weeks_and_fractions():
    assert parse_duration("P2W") == timedelta(days=14)
    assert parse_duration("PT0.5S") == timedelta(milliseconds=500)


def test_parse_negative():
    assert parse_duration("-PT1H") == timedelta(hours=-1)


@pytest.mark.parametrize("bad", ["P1Y", "P2M", "1D", "P", "PT", "P1DT", "hello", "PT1H2D"])
def test_parse_rejects(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_format_canonical():
    assert format_duration(timedelta(days=1, hours=2)) == "P1DT2H"
    assert format_duration(timedelta(minutes=30)) == "PT30M"
    assert format_duration(timedelta(seconds=1.5)) == "PT1.5S"
    assert format_duration(timedelta(days=14)) == "P14D"


def test_format_zero_and_negative():
    assert format_duration(timedelta(0)) == "PT0S"
    assert format_duration(timedelta(hours=-3)) == "-PT3H"


def test_round_trip():
    for s in ["P1DT2H30M5S", "PT1S", "P10D", "PT59M59S"]:
        assert format_duration(parse_duration(s)) == s


def test_add_duration_crosses_month_and_leap_day():
    assert add_duration("2024-02-28T22:00:00", "PT3H") == "2024-02-29T01:00:00"
    assert add_duration("2023-02-28T22:00:00", "P1DT3H") == "2023-03-02T01:00:00"
