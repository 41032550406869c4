"""Test configuration shared by every tier.

Tiers are chosen by folder: ``tests/notebooks`` is the notebooks tier,
``tests/browser`` the browser tier, everything else the unit tier. Run one tier
with ``pytest -m unit`` (or ``notebooks``, ``browser``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Remembered backend choices go to a throw-away folder, never the user's ~/.cache
# (notebook kernels and JupyterLab servers started by the tests inherit it).
os.environ["VIBENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="vibench-test-cache-")

TESTS = Path(__file__).parent
_TIER_BY_FOLDER = {"notebooks": pytest.mark.notebooks, "browser": pytest.mark.browser}


def pytest_collection_modifyitems(config, items):
    """Mark every test with its tier, taken from the folder it lives in."""
    for item in items:
        rel = Path(item.fspath).resolve().relative_to(TESTS.resolve())
        item.add_marker(_TIER_BY_FOLDER.get(rel.parts[0], pytest.mark.unit))
