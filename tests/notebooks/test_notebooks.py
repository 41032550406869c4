"""Notebooks tier: every notebook under ``notebooks/`` runs top to bottom.

Notebooks run at smoke size (``VIBENCH_SMOKE=1`` shrinks iterations and draws)
in a kernel started from this interpreter. A cell that raises fails the test,
with the cell's traceback in the report. The committed files are never written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks():
    assert any(p.name == "01_getting_started.ipynb" for p in ALL)


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.outputs]
    counted = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count]
    assert (dirty, counted) == ([], []), "strip the outputs: nbstripout or Clear All Outputs"


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_notebook_runs(path, monkeypatch, tmp_path):
    monkeypatch.setenv("VIBENCH_SMOKE", "1")
    # Run in a copy of the folder so files a notebook writes never land in the repo.
    workdir = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, workdir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
