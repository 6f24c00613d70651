"""The notebooks as a reader meets them in JupyterLab: they open without a dialog, in story order, and tidy up."""

import json
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

NBS = Path(__file__).resolve().parent.parent / 'nbs'
NOTEBOOKS = sorted(NBS.glob('*.ipynb'))


def test_every_notebook_names_an_installed_kernel_so_jupyterlab_opens_it_without_select_kernel():
    installed = KernelSpecManager().find_kernel_specs()
    assert len(NOTEBOOKS) > 20
    for nb in NOTEBOOKS:
        spec = json.loads(nb.read_text(encoding='utf-8'))['metadata'].get('kernelspec') or {}
        assert spec.get('name') in installed, (nb.name, spec, sorted(installed))
        assert spec.get('language') == 'python', nb.name


def test_the_fakes_come_last_in_the_story():
    names = [nb.name for nb in NOTEBOOKS if nb.name != 'index.ipynb']
    fakes = [n for n in names if '_testing' in n or n.startswith('99_testing')]
    assert fakes == names[-len(fakes) :] and all(n[:2] >= '90' for n in fakes), names


def _code(nb: Path) -> list[str]:
    return [
        ''.join(c['source']) for c in json.loads(nb.read_text(encoding='utf-8'))['cells'] if c['cell_type'] == 'code'
    ]


def test_a_notebook_that_makes_temporary_databases_or_folders_removes_them_in_its_last_cell():
    makers = ('migrated_database(', 'temp_sqlite_url(', 'temp_dir(')
    checked = 0
    for nb in NOTEBOOKS:
        cells = _code(nb)
        tour = [
            c for c in cells if not c.startswith('#| export')
        ]  # what running the notebook executes besides definitions
        left = [
            c for c in tour if 'mkdtemp(' in c and 'not os.path.exists' not in c
        ]  # unless the cell checks it is gone
        assert not left, f"{nb.name}: use aidevbot.testing.temp_dir(), which remove_temp_dirs() cleans up"
        if any(m in c for c in tour for m in makers):
            checked += 1
            assert 'remove_temp_dirs()' in cells[-1], f"{nb.name}: its last cell should call remove_temp_dirs()"
    assert checked >= 10


def render_readme(index: Path) -> str:
    "What nbdev_readme would make of index.ipynb without outputs: markdown as is, code cells as Python blocks."
    parts = []
    for c in json.loads(index.read_text(encoding='utf-8'))['cells']:
        text = ''.join(c['source']).strip('\n')
        if c['cell_type'] == 'markdown':
            parts.append(text)
        elif not text.startswith('#| hide'):
            parts.append(f"```python\n{text}\n```")
    return '\n\n'.join(parts) + '\n'


def test_readme_is_the_index_notebook_rendered():
    # nbdev_readme needs Quarto, which this project does not install; README.md is kept in step by hand
    readme = (NBS.parent / 'README.md').read_text(encoding='utf-8')
    assert readme == render_readme(NBS / 'index.ipynb'), "edit nbs/index.ipynb and README.md together"
