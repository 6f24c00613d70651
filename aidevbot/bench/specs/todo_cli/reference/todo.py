"""A to-do list on SQLite."""
import argparse
import sqlite3
import sys


def connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)")
    return db


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("add").add_argument("text")
    sub.add_parser("list")
    sub.add_parser("done").add_argument("id", type=int)
    sub.add_parser("remove").add_argument("id", type=int)
    a = p.parse_args(argv)
    db = connect(a.db)
    with db:
        if a.cmd == "add":
            if not a.text.strip():
                print("error: empty task", file=sys.stderr)
                return 1
            cur = db.execute("INSERT INTO tasks (text) VALUES (?)", (a.text.strip(),))
            print(f"added {cur.lastrowid}")
        elif a.cmd == "list":
            rows = db.execute("SELECT id, text, done FROM tasks ORDER BY done, id").fetchall()
            if not rows:
                print("no tasks")
            for i, text, done in rows:
                print(f"[{'x' if done else ' '}] {i} {text}")
        else:
            sql = "UPDATE tasks SET done = 1 WHERE id = ?" if a.cmd == "done" else "DELETE FROM tasks WHERE id = ?"
            if db.execute(sql, (a.id,)).rowcount == 0:
                print(f"error: no task {a.id}", file=sys.stderr)
                return 1
            print(f"{'done' if a.cmd == 'done' else 'removed'} {a.id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
