"""The hostile test file sent through `run_pytest` wherever generated code may run: the host modes
(test_sandbox_modes.py), the sandbox inside the image and the sandbox executor (test_image.py).

The probe prints one line `PROBE {json}`: which processes' environments held a secret mark, which of PATHS it could
read, whether it inserted into the database DB, which of 127.0.0.1:5432 and LISTENER it reached, which of OUTSIDE it
wrote; and it leaves a daemon (DAEMON, a marker per run, in its command line) behind. The file's head sets those names.
"""

import json

PROBE = r'''
import json, os, socket, subprocess, sys, time
def test_probe():
    r = {}
    leaks = []
    try: pids = os.listdir('/proc')
    except OSError: pids = []  # a sandbox without /proc (in containers that mask it)
    for p in pids:
        if p.isdigit():
            try:
                if b'SECRETMARK' in open(f'/proc/{p}/environ', 'rb').read(): leaks.append(p)
            except OSError: pass
    r['environ_leaks'] = leaks + [k for k, v in os.environ.items() if 'SECRETMARK' in v]
    read = {}
    for path in PATHS:
        try:
            if os.path.isdir(path): read[path] = os.listdir(path)
            else: read[path] = open(path, 'rb').read(200).decode('latin-1')
        except OSError as e: read[path] = None
    r['read'] = {k: v for k, v in read.items() if v}
    try:
        import sqlite3
        c = sqlite3.connect(DB); c.execute("insert into users values ('pwned')"); c.commit(); r['db_insert'] = True
    except Exception: r['db_insert'] = False
    net = {}
    for port in (5432, LISTENER):
        try: socket.create_connection(('127.0.0.1', port), timeout=2); net[port] = 'OPEN'
        except OSError: net[port] = 'closed'
    r['net'] = net
    wrote = []
    for path in OUTSIDE:
        try: open(path, 'w').write('x'); wrote.append(path)
        except OSError: pass
    r['wrote'] = wrote
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(300)  # ' + DAEMON])
        os._exit(0)
    time.sleep(0.3)
    print('PROBE ' + json.dumps(r))
'''


def probe_file(*, paths: list[str], db: str, listener: int, outside: list[str], daemon: str, show: bool = False) -> str:
    """The hostile test file, aimed at these paths, database, listener port and places outside its folder.
    `show`: the test fails at its end, so pytest prints its findings where no `-s` can be passed (the executor)."""
    tail = "    assert False, 'the probe fails to show its findings'\n" if show else ''
    head = f'PATHS = {paths!r}\nDB = {db!r}\nLISTENER = {listener}\nOUTSIDE = {outside!r}\nDAEMON = {daemon!r}\n'
    return head + PROBE + tail


def probe_report(output: str) -> dict | None:
    "The probe's findings from its run's output (None when it never printed them)."
    line = next((l for l in output.splitlines() if l.startswith('PROBE ')), None)
    return json.loads(line[6:]) if line else None


# What a bot holds, set up where the probe runs (in a container: its /tmp), and checked after the run. Python source
# run as `python3 -c WORLD BOT MARK` / `python3 -c AFTER BOT MARK OUTSIDE_JSON DAEMON`; both print one JSON line.
WORLD = r'''
import os, sqlite3, sys
bot, mark = sys.argv[1], sys.argv[2]
os.makedirs(bot, mode=0o700, exist_ok=True)
db = os.path.join(bot, 'botdata.sqlite3')  # not ending in .db: no denylist can guess it
with sqlite3.connect(db) as c:
    c.execute('create table if not exists users (token text)'); c.execute('delete from users')
    c.execute('insert into users values (?)', (mark + '-row',))
for suffix in ('-wal', '-shm', '-journal'): open(db + suffix, 'w').write(f'{mark}{suffix}')
open(os.path.join(bot, '.env'), 'w').write(f'TELEGRAM_BOT_TOKEN={mark}-token\n')
print('{"db": "%s"}' % db)
'''

AFTER = r'''
import json, os, sqlite3, sys, time
bot, mark, outside, daemon = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4].encode()
def daemons():
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            if int(pid) != os.getpid() and daemon in open(f'/proc/{pid}/cmdline', 'rb').read(): found.append(int(pid))
        except OSError: pass
    return found
deadline = time.monotonic() + 5
while daemons() and time.monotonic() < deadline: time.sleep(0.1)
with sqlite3.connect(os.path.join(bot, 'botdata.sqlite3')) as c: rows = c.execute('select token from users').fetchall()
survived = [p for p in outside if os.path.exists(p)]
print(json.dumps({'survived': survived, 'daemons': daemons(), 'rows': [r[0] for r in rows]}))
'''


def targets(bot: str, tag: str, *extra_paths: str) -> tuple[list[str], str, list[str]]:
    "What the probe aims at around the bot folder `bot`: paths to read, the database, places to write."
    db = f'{bot}/botdata.sqlite3'
    paths = [db, f'{db}-wal', f'{db}-shm', f'{db}-journal', f'{bot}/.env', bot, *extra_paths]
    outside = [f'/tmp/OUTMARK{tag}', f'/dev/shm/OUTMARK{tag}', f'{bot}/OUTMARK{tag}']
    return paths, db, outside


def leaks(report: dict | None, after: dict, *, mark: str, bot: str) -> list[str]:
    "Everything the probe got that it must not have; [] when it was contained (or never ran: report None)."
    found = []
    if report is not None:
        if report['environ_leaks']:
            found.append(f"secrets in the environment of {report['environ_leaks']}")
        got = {p for p in report['read'] if p.startswith(bot)} | {
            p for p, v in report['read'].items() if mark in json.dumps(v)
        }
        if got:
            found.append(f'read {sorted(got)}')
        if report['db_insert']:
            found.append('inserted into the database')
        if 'OPEN' in report['net'].values():
            found.append(f"connected to {report['net']}")
    if after['survived']:
        found.append(f"wrote {after['survived']}")
    if after['daemons']:
        found.append(f"left processes {after['daemons']} running")
    if after['rows'] != [f'{mark}-row']:
        found.append(f"changed the database: {after['rows']}")
    return found
