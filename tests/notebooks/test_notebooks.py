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


def _execute(nb, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("VIBENCH_SMOKE", "1")
    # Run in a copy of the folder so files a notebook writes never land in the repo.
    workdir = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, workdir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_notebook_runs(path, monkeypatch, tmp_path):
    _execute(nbformat.read(path, as_version=4), monkeypatch, tmp_path)


#: What a reader does on the board before running the later cells, sent the way the board
#: sends it (the widget's message handler, the boxes, the Fit button). It leaves a flow
#: group, a rest group of another family, changed settings, a fitted plan (its fit may
#: even fail: sgd at a large step on a flow) and an empty group behind: the cells after it
#: must not assume a fresh plan.
PLAY_WITH_THE_BOARD = """\
# injected by tests/notebooks: the reader plays with the board before going on
import vibench as _vb

_wb = next(v for v in list(globals().values()) if isinstance(v, _vb.Workbench))
_s, _board = _wb.session, _wb.board
_names = [v.name for v in _s.variables if not v.discrete]


def _send(message):
    _board._handle_custom_msg(message, [])


# drag the first chip onto New group, then the last chip into that group
_send({"kind": "new_group", "variable": _names[0], "family": "full_rank"})
_g = next(g.id for g in _s.groups if _names[0] in g.variables)
_send({"kind": "move", "variable": _names[-1], "group": _g})
# type a flow stack into the group's formula box; another family for rest
_send({"kind": "set_family", "group": _g, "family": "scale-planar*2-loc"})
_send({"kind": "set_family", "group": "rest", "family": "full_rank"})
assert _s.group(_g).family == "scale-planar*2-loc", _board.errors
# other settings in the boxes, then Fit, and wait for it (and its final plots)
_wb.iterations.value = 20
_wb.learning_rate.value = 0.05
_wb.optimizer.value = "sgd"
_wb.seed.value = "5"
_wb.fit_button.click()
try:
    _wb.wait(timeout=300)
except Exception as err:  # a fit that failed on the board must not break later cells
    print("the board's fit failed:", type(err).__name__, err)
    _wb.wait(timeout=300)  # its final plots
assert _s.runs, _wb.status.value
assert _s.settings.optimizer == "sgd"
# a last drag back to rest, and a new group left empty
_send({"kind": "move", "variable": _names[0], "group": "rest"})
_send({"kind": "new_group", "variable": None, "family": "mean_field"})
assert len(_s.groups) == 3, [(g.id, g.variables) for g in _s.groups]
"""


def _played_at(path: Path) -> int | None:
    """Index of the first cell that shows a Workbench, if code cells follow it."""
    cells = nbformat.read(path, as_version=4).cells
    for i, cell in enumerate(cells):
        if cell.cell_type == "code" and "Workbench(" in cell.source:
            later = [c for c in cells[i + 1 :] if c.cell_type == "code"]
            return i if later else None
    return None


PLAYED = [p for p in ALL if _played_at(p) is not None]


def test_the_notebooks_with_a_board_are_played_with():
    assert {p.name for p in PLAYED} >= {
        "01_getting_started.ipynb",
        "02_mean_field_vs_full_rank.ipynb",
        "03_normalizing_flows.ipynb",
        "04_grouping.ipynb",
    }


@pytest.mark.parametrize("path", PLAYED, ids=[p.stem for p in PLAYED])
def test_notebook_runs_after_the_reader_played_with_the_board(path, monkeypatch, tmp_path):
    """Every later cell still runs, and says what it needs, after board edits and a fit."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(_played_at(path) + 1, nbformat.v4.new_code_cell(PLAY_WITH_THE_BOARD))
    _execute(nb, monkeypatch, tmp_path)
