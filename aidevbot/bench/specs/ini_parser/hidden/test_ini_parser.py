import pytest

from iniparse import ParseError, parse


def test_sections_and_keys():
    assert parse("[a]\nx = 1\n[ b ]\ny=two\n") == {"a": {"x": 1}, "b": {"y": "two"}}


def test_global_section_only_when_used():
    assert parse("k = v\n[s]\n") == {"": {"k": "v"}, "s": {}}
    assert "" not in parse("[s]\nk = v\n")


def test_typed_values():
    r = parse("[t]\na = 42\nb = -7\nc = 3.5\nd = -0.25\ne = TRUE\nf = false\ng = hello world\nh =\n")["t"]
    assert r == {"a": 42, "b": -7, "c": 3.5, "d": -0.25, "e": True, "f": False, "g": "hello world", "h": ""}
    assert type(r["a"]) is int and type(r["c"]) is float and type(r["e"]) is bool


def test_quoted_strings_with_escapes():
    r = parse('[q]\na = "  spaced  "\nb = "say \\"hi\\""\nc = "a\\\\b"\nd = "l1\\nl2"\ne = "42"\n')["q"]
    assert r == {"a": "  spaced  ", "b": 'say "hi"', "c": "a\\b", "d": "l1\nl2", "e": "42"}


def test_comments_and_blank_lines():
    assert parse("# c\n  ; c2\n\n[s]\n# inside\nk = v # not a comment\n") == {"s": {"k": "v # not a comment"}}


def test_merge_and_last_value_wins():
    assert parse("[s]\na = 1\n[t]\nb = 2\n[s]\na = 3\nc = 4\n") == {"s": {"a": 3, "c": 4}, "t": {"b": 2}}


@pytest.mark.parametrize("text,line", [("[s]\njunk\n", 2), ("[s]\n= v\n", 2), ("[s\n", 1), ('a = 1\nb = "open\n', 2)])
def test_errors_carry_line_numbers(text, line):
    with pytest.raises(ParseError) as e:
        parse(text)
    assert e.value.line == line
    assert isinstance(e.value, ValueError)
