import subprocess
import sys
from pathlib import Path

import pytest

from csvreport import report

ROOT = Path(__file__).resolve().parents[1]
DATA = "region,product,amount\nnorth,a,10\nsouth,b,2.5\nnorth,c,5\neast,a,\nsouth,a,13.5\n"


def test_sums_per_group_largest_first():
    assert report(DATA, "region", "amount") == [("south", 16.0), ("north", 15.0)]


def test_ties_sorted_by_name():
    assert report("g,v\nb,1\na,1\nc,2\n", "g", "v") == [("c", 2.0), ("a", 1.0), ("b", 1.0)]


def test_other_grouping():
    assert report(DATA, "product", "amount") == [("a", 23.5), ("c", 5.0), ("b", 2.5)]


def test_empty_values_are_skipped():
    assert "east" not in dict(report(DATA, "region", "amount"))


def test_unknown_column_raises_key_error():
    with pytest.raises(KeyError):
        report(DATA, "country", "amount")


def test_quoted_fields():
    text = 'name,amount\n"Smith, J",1.5\n"Smith, J",2\n'
    assert report(text, "name", "amount") == [("Smith, J", 3.5)]


def test_cli_output(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text(DATA, encoding="utf-8")
    r = subprocess.run([sys.executable, str(ROOT / "csvreport.py"), str(f), "--group", "product", "--value", "amount"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert r.stdout == "a: 23.50\nc: 5.00\nb: 2.50\nTOTAL: 31.00\n"
