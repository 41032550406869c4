"""The engine imports PyMC, PyTensor and NumPy only."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("ipywidgets", "anywidget", "matplotlib", "IPython")


def test_engine_imports_no_ui_or_plotting_modules():
    code = (
        "import json, sys; import vibench.engine, vibench.flows; "
        f"print(json.dumps([m for m in {FORBIDDEN!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_public_names():
    import vibench
    import vibench.flows

    for name in ("Group", "Approximation", "NormalizingFlowGroup", "flows", "__version__"):
        assert name in vibench.__all__
        assert hasattr(vibench, name)
    for name in ("PlanarFlow", "RadialFlow", "LocFlow", "ScaleFlow", "HouseholderFlow"):
        assert getattr(vibench.flows, name).__name__ == name
