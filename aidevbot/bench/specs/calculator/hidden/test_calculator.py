import pytest

from calc import evaluate


def test_precedence():
    assert evaluate("2 + 3 * 4") == 14


def test_parentheses():
    assert evaluate("(2 + 3) * 4") == 20
    assert evaluate("((1))") == 1


def test_left_associativity():
    assert evaluate("8 - 3 - 2") == 3
    assert evaluate("8 / 4 / 2") == 1.0


def test_unary_minus():
    assert evaluate("-3 + 5") == 2
    assert evaluate("-(2 + 1) * 2") == -6
    assert evaluate("--2") == 2
    assert evaluate("2 * -3") == -6


def test_types():
    r = evaluate("7 * 3 - 1")
    assert r == 20 and isinstance(r, int)
    r = evaluate("6 / 3")
    assert r == 2.0 and isinstance(r, float)


def test_decimals():
    assert evaluate("2.5 * 2") == pytest.approx(5.0)
    assert evaluate(".5 + .25") == pytest.approx(0.75)


def test_spaces_anywhere():
    assert evaluate("  1+2 *  3 ") == 7


def test_division_by_zero():
    with pytest.raises(ZeroDivisionError):
        evaluate("1 / (2 - 2)")


@pytest.mark.parametrize("bad", ["", "2 +", "(1 + 2", "1 + 2)", "3 $ 4", "* 2", "2 3"])
def test_malformed(bad):
    with pytest.raises(ValueError):
        evaluate(bad)
