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
    assert fakes == names[-len(fakes):] and all(n[:2] >= '90' for n in fakes), names
