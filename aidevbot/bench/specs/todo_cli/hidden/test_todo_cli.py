import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def todo(db, *args):
    return subprocess.run([sys.executable, str(ROOT / "todo.py"), "--db", str(db), *args], capture_output=True, text=True, timeout=30)


def test_empty_list(tmp_path):
    r = todo(tmp_path / "t.db", "list")
    assert r.returncode == 0 and r.stdout == "no tasks\n"


def test_add_and_list(tmp_path):
    db = tmp_path / "t.db"
    assert todo(db, "add", "buy milk").stdout == "added 1\n"
    assert todo(db, "add", "call mom").stdout == "added 2\n"
    assert todo(db, "list").stdout == "[ ] 1 buy milk\n[ ] 2 call mom\n"


def test_done_moves_task_after_open_ones(tmp_path):
    db = tmp_path / "t.db"
    for t in ("a", "b", "c"):
        todo(db, "add", t)
    r = todo(db, "done", "1")
    assert r.returncode == 0 and r.stdout == "done 1\n"
    assert todo(db, "list").stdout == "[ ] 2 b\n[ ] 3 c\n[x] 1 a\n"


def test_remove(tmp_path):
    db = tmp_path / "t.db"
    todo(db, "add", "a")
    todo(db, "add", "b")
    assert todo(db, "remove", "1").stdout == "removed 1\n"
    assert todo(db, "list").stdout == "[ ] 2 b\n"


def test_unknown_id(tmp_path):
    db = tmp_path / "t.db"
    r = todo(db, "done", "9")
    assert r.returncode == 1 and "error: no task 9" in r.stderr
    r = todo(db, "remove", "9")
    assert r.returncode == 1 and "error: no task 9" in r.stderr


def test_empty_task_rejected(tmp_path):
    db = tmp_path / "t.db"
    r = todo(db, "add", "   ")
    assert r.returncode == 1 and "error: empty task" in r.stderr
    assert todo(db, "list").stdout == "no tasks\n"


def test_data_persists_in_the_file(tmp_path):
    db = tmp_path / "t.db"
    todo(db, "add", "keep me")
    assert db.exists()
    assert "keep me" in todo(db, "list").stdout
