"""The library is exported from the notebooks: a hand edit of `aidevbot/*.py` is undone by `nbdev_export`, which is
how `.ci/run` catches it ("notebooks and library out of sync"). Runs the same commands as `.ci/run` on a copy."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def sh(cwd, *argv) -> str:
    return subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True).stdout


def in_sync(repo: Path) -> bool:
    "The check in .ci/run: nbdev_clean + nbdev_export leave `git status` of aidevbot/ and nbs/ unchanged."
    before = sh(repo, 'git', 'status', '--porcelain', '--', 'aidevbot', 'nbs')
    sh(repo, str(BIN / 'nbdev_clean'))
    sh(repo, str(BIN / 'nbdev_export'))
    return sh(repo, 'git', 'status', '--porcelain', '--', 'aidevbot', 'nbs') == before


def test_a_hand_edit_of_the_library_is_caught(tmp_path):
    if not (ROOT / '.git').exists() or not shutil.which('git'):
        pytest.skip('needs a git checkout')
    for name in sh(ROOT, 'git', 'ls-files', '--', 'aidevbot', 'nbs', 'settings.ini').splitlines():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)  # the working tree as it is, like .ci/run sees it
    git = ('git', '-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false')
    sh(tmp_path, 'git', 'init', '-q')
    sh(tmp_path, 'git', 'add', '-A')
    sh(tmp_path, *git, 'commit', '-qm', 'copy')
    assert in_sync(tmp_path), 'notebooks and library out of sync: run nbdev_export and nbdev_clean'

    lib = tmp_path / 'aidevbot' / 'billing.py'
    lib.write_text(lib.read_text().replace('Not enough credits', 'Not enough credits (hand edit)'))
    sh(tmp_path, *git, 'commit', '-qam', 'hand edit')  # committed or not, the check sees it
    assert not in_sync(tmp_path)
    assert 'hand edit' not in lib.read_text()  # the notebook wins
