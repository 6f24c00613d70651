import subprocess
import sys
from pathlib import Path

from wordfreq import top_words

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, str(ROOT / "wordfreq.py"), *args], capture_output=True, text=True, timeout=30)


def test_counts_case_insensitively():
    assert top_words("The cat and the hat. THE end") == [("the", 3), ("and", 1), ("cat", 1), ("end", 1), ("hat", 1)]


def test_ties_alphabetical_and_limit():
    assert top_words("b a c b a", 2) == [("a", 2), ("b", 2)]


def test_apostrophes_are_part_of_words():
    assert top_words("don't stop, don't") == [("don't", 2), ("stop", 1)]


def test_empty_text():
    assert top_words("") == []


def test_cli_prints_top_n(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("x y x z x y", encoding="utf-8")
    r = run(str(f), "-n", "2")
    assert r.returncode == 0
    assert r.stdout == "x 3\ny 2\n"


def test_cli_default_is_ten(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(" ".join(f"w{c}" for c in "abcdefghijkl").replace("w", "q"), encoding="utf-8")
    r = run(str(f))
    assert r.returncode == 0
    assert len(r.stdout.splitlines()) == 10


def test_cli_missing_file(tmp_path):
    r = run(str(tmp_path / "nope.txt"))
    assert r.returncode == 1
    assert "error: cannot read" in r.stderr
