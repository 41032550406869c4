"""The code in docs/custom_flows.md runs, top to bottom."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vibench.flows import registered_flows, unregister_flow

DOC = Path(__file__).resolve().parents[2] / "docs" / "custom_flows.md"


@pytest.fixture
def clean_registry():
    before = set(registered_flows())
    yield
    for name in set(registered_flows()) - before:
        unregister_flow(name)


def test_custom_flow_docs_run(clean_registry):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) == 3
    namespace: dict = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    assert namespace["group"].formula == "scale-sinh_arcsinh-loc"
    exec(compile(blocks[1], str(DOC), "exec"), namespace)
    assert namespace["same"].formula == "scale-sinh_arcsinh-loc"
    exec(compile(blocks[2], str(DOC), "exec"), namespace)
    assert "sinh_arcsinh" not in registered_flows()
