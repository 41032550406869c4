"""The layers stay apart: the engine and the session never pull in UI or plotting."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

UI_MODULES = ("ipywidgets", "anywidget", "matplotlib", "IPython")


def _modules_after_import(module: str) -> set[str]:
    """Import ``module`` in a fresh interpreter and return the names in ``sys.modules``."""
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", ["vibench", "vibench.engine", "vibench.session"])
def test_core_imports_no_ui(module):
    loaded = _modules_after_import(module)
    leaked = sorted(m for m in loaded for ui in UI_MODULES if m == ui or m.startswith(ui + "."))
    assert not leaked, f"importing {module} loaded UI/plotting modules: {leaked}"
