"""The Binder environment, built fresh from ``binder/``, runs the getting-started notebook.

mybinder.org installs ``binder/requirements.txt``, then runs ``binder/postBuild`` (which
installs vibench itself with ``--no-deps``). This test does the same in a new virtual
environment and executes ``notebooks/01_getting_started.ipynb`` there with nbclient at
smoke size, in a kernel running that environment's interpreter. A missing or broken pin
shows up here as an import error or a failing cell.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Executed by the fresh environment's interpreter: run the notebook in a kernel that is
# that same interpreter (checked by an extra first cell), at smoke size.
RUNNER = textwrap.dedent(
    """
    import sys

    import nbformat
    from nbclient import NotebookClient

    path, workdir = sys.argv[1], sys.argv[2]
    nb = nbformat.read(path, as_version=4)
    check = f"import sys\\nassert sys.prefix == {sys.prefix!r}, sys.prefix"
    nb.cells.insert(0, nbformat.v4.new_code_cell(check))
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": workdir}}
    )
    client.execute()
    print("vibench-binder-env: notebook ran")
    """
)


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


@pytest.mark.slow
def test_getting_started_runs_in_a_fresh_binder_environment(tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, "-r", str(ROOT / "binder" / "requirements.txt")])
    # What binder/postBuild does (hatchling builds the wheel outside the tree).
    _run([*pip, "--no-deps", str(ROOT)])
    # nbclient runs the notebook here; Binder itself does not need it (JupyterLab runs
    # the kernels there), so it is not pinned: install it only if the pins lack it.
    if subprocess.run([str(python), "-c", "import nbclient, nbformat"]).returncode:
        _run([*pip, "nbclient", "nbformat"])

    workdir = tmp_path / "notebooks"
    workdir.mkdir()
    runner = tmp_path / "run_notebook.py"
    runner.write_text(RUNNER)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH", "JUPYTER_DATA_DIR"}
    }
    env.update(
        VIBENCH_SMOKE="1",
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        # the kernel spec "python3" must be this environment's, not a user-wide one
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
    )
    result = _run(
        [
            str(python),
            str(runner),
            str(ROOT / "notebooks" / "01_getting_started.ipynb"),
            str(workdir),
        ],
        cwd=workdir,
        env=env,
        timeout=900,
    )
    assert "vibench-binder-env: notebook ran" in result.stdout
