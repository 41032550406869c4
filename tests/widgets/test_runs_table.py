"""The Runs table travels to the browser as plain data; the DOM is built from text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vibench.widgets._runs import RunsTable, runs_table_html, runs_table_parts

STATIC = Path(__file__).resolve().parents[2] / "vibench" / "widgets" / "static"
NASTY = "<img src=x onerror=alert(1)>"


def _row(n: int, plan: str, **more):
    return {
        "run": n,
        "continues": None,
        "plan": plan,
        "status": "finished",
        "trace": "ELBO",
        "elbo": -10.0 - n,
        "khat": 0.3,
        "khat_text": "0.30 good",
        "seconds": 1.5,
        "iterations": 1000,
        "shown": True,
        "overlay": False,
        **more,
    }


def test_a_name_from_a_model_stays_text_in_the_data_and_escaped_in_the_html():
    rows = [_row(1, NASTY), _row(2, "mean-field", continues=1, shown=False, overlay=None)]
    parts = runs_table_parts(rows, controls=True)
    first, second = parts["rows"][1], parts["rows"][0]  # newest first
    assert first["cells"][1]["text"] == NASTY  # raw text: runs.js sets textContent
    assert second["hidden"]
    assert second["controls"]["overlay"] is None
    assert second["cells"][0]["tag"] == "(continues #1)"
    assert "★" in first["cells"][3]["text"]  # the best final ELBO
    html = runs_table_html(rows, controls=True)
    assert NASTY not in html
    assert "&lt;img src=x" in html


def test_the_widget_syncs_data_not_html():
    table = RunsTable()
    table.set_rows([_row(1, NASTY)])
    state = table.get_state()
    assert "table" in state
    assert "value" not in state
    assert state["table"]["rows"][0]["cells"][1]["text"] == NASTY
    assert "&lt;img" in table.value  # the static rendering, for snapshots
    assert np.isclose(float(state["table"]["rows"][0]["cells"][5]["text"]), 1.5)


def test_no_board_module_parses_html():
    for js in STATIC.rglob("*.js"):
        text = js.read_text()
        assert "innerHTML" not in text, js.name
        assert "insertAdjacentHTML" not in text, js.name
