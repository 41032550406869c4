"""The board's front end: its part files, the one module they make, and what Python sends.

- ``node --test tests/js/`` (the JS's pure helpers) runs here, so ``make test`` and
  ``.ci/run`` run it; Node comes with ``make test``'s set-up.
- The module anywidget loads is assembled from ``vibench/widgets/static/board/``
  (``vibench/widgets/_bundle.py``): it parses, exports only ``render``, keeps no
  sibling import, and the bundler refuses what it cannot assemble.
- The flow formula grammar has one owner, the engine's parser: the board's
  ``flow_steps`` are what it parses, and every formula the JS writes from steps parses
  back to the same flows.
- The edits queued during a fit are shown from ``plan_view``, computed in Python.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibench.flows import format_formula, parse_formula
from vibench.widgets import board as board_module
from vibench.widgets._bundle import BundleError, bundle_css, bundle_js, js_parts
from vibench.widgets.board import FAMILIES, PARTS, Board, _flow_steps

ROOT = Path(__file__).resolve().parents[2]
JS_TESTS = ROOT / "tests" / "js"
FLOWS = ("planar", "radial", "hh", "scale", "loc")


def _node() -> str:
    """Node.js: ``$VIBENCH_NODE`` (set by the Makefile) or ``node`` on the PATH."""
    node = shutil.which(os.environ.get("VIBENCH_NODE") or "node")
    if node is None:
        pytest.fail(
            "Node.js (>= 18) is needed for the board's JS tests: `make test` installs it "
            "(Debian/Ubuntu: 'sudo apt-get install nodejs'; or set VIBENCH_NODE)"
        )
    return node


def _run_js(code: str) -> str:
    out = subprocess.run(
        [_node(), "--input-type=module", "-e", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


# ---------------------------------------------------------------- node --test
def test_the_js_helpers_pass_their_node_tests():
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))
    assert files, "no JS tests found"
    out = subprocess.run(
        [_node(), "--test", *files], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "# fail 0" in out.stdout


# ---------------------------------------------------------------- the one module
def test_the_module_is_every_part_in_dependency_order(tmp_path):
    parts = js_parts(PARTS / "board.js")
    assert parts[-1].name == "board.js"
    assert {p.name for p in parts} == {p.name for p in PARTS.glob("*.js")}  # none left out
    order = [p.name for p in parts]
    assert order.index("dom.js") < order.index("chips.js") < order.index("columns.js")
    esm = str(Board._esm)
    assert esm == bundle_js(PARTS / "board.js")
    assert "\nimport " not in esm
    assert not esm.startswith("import ")
    module = tmp_path / "board.mjs"
    module.write_text(esm)
    exports = _run_js(
        f"const m = await import({json.dumps(module.as_uri())});"
        "console.log(JSON.stringify([Object.keys(m), typeof m.default.render]));"
    )
    assert json.loads(exports) == [["default"], "function"]


def test_the_stylesheet_is_every_part_in_order():
    css = str(Board._css)
    assert css == bundle_css(PARTS / "index.css")
    assert "\n@import" not in css
    index = (PARTS / "index.css").read_text()
    for part in PARTS.glob("*.css"):
        if part.name != "index.css":
            assert f'@import "./{part.name}";' in index, part.name
            assert part.read_text().strip() in css, part.name
    assert css.index(".vb-board {") < css.index(".vb-chip {") < css.index(".vb-flow-editor")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {
                "a.js": 'import { b } from "./b.js";\nexport default {};',
                "b.js": "import { a } from './a.js';",
            },
            "import cycle",
        ),
        ({"a.js": 'import { x as y } from "./b.js";', "b.js": "export const x = 1;"}, "renames"),
        ({"a.js": 'import * as b from "./b.js";', "b.js": ""}, "one-line sibling imports"),
        ({"a.js": 'import { c } from "./c.js";'}, "missing part"),
        (
            {"a.js": 'import { b } from "./b.js";\nconst b = 2;', "b.js": "export const b = 1;"},
            "declared in",
        ),
        ({"a.js": 'import { b } from "./b.js";', "b.js": "export default {};"}, "export default"),
    ],
)
def test_the_bundler_refuses_what_it_cannot_assemble(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(BundleError, match=message):
        bundle_js(tmp_path / "a.js")


def test_a_part_change_reaches_live_boards(session, tmp_path, monkeypatch):
    """What ANYWIDGET_HMR=1 does on a change: every open board gets the new module."""
    for p in PARTS.iterdir():
        (tmp_path / p.name).write_text(p.read_text())
    board = Board(session)
    monkeypatch.setattr(board_module, "PARTS", tmp_path)
    monkeypatch.setattr(Board, "_esm", Board._esm)
    monkeypatch.setattr(Board, "_css", Board._css)
    with (tmp_path / "dom.js").open("a") as f:
        f.write("\nexport const HMR_PROBE = 1;\n")
    (tmp_path / "plots.css").write_text("/* probe */\n")
    board_module.reload_parts()
    assert "HMR_PROBE" in board._esm
    assert "/* probe */" in board._css
    assert "HMR_PROBE" in Board(session)._esm  # and boards made from now on


def test_with_anywidget_hmr_a_saved_part_reloads_the_open_boards(session, tmp_path, monkeypatch):
    for p in PARTS.iterdir():
        (tmp_path / p.name).write_text(p.read_text())
    monkeypatch.setattr(board_module, "PARTS", tmp_path)
    monkeypatch.setattr(Board, "_esm", Board._esm)
    monkeypatch.setattr(Board, "_css", Board._css)
    monkeypatch.delenv("ANYWIDGET_HMR", raising=False)
    assert board_module._watch_parts() is None  # off unless asked for
    monkeypatch.setenv("ANYWIDGET_HMR", "1")
    board = Board(session)
    stop = threading.Event()
    thread = board_module._watch_parts(interval=0.02, stop=stop)
    try:
        time.sleep(0.1)
        part = tmp_path / "plots.js"
        part.write_text(part.read_text() + "\n// saved\n")
        os.utime(part, (time.time() + 5, time.time() + 5))  # a coarse clock still sees it
        deadline = time.monotonic() + 10
        while "// saved" not in board._esm and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "// saved" in board._esm
    finally:
        stop.set()
        thread.join(timeout=5)


# ---------------------------------------------------------------- one grammar
formulas = st.lists(
    st.tuples(st.sampled_from(FLOWS), st.integers(1, 5), st.booleans()), min_size=1, max_size=6
)


def _typed(tokens) -> str:
    """A formula as a person might type it: case, spaces, name*N or repeated names."""
    out = []
    for name, count, star in tokens:
        if star:
            out.append(f" {name.upper()} * {count}")
        else:
            out.extend([name] * count)
    return "-".join(out)


@settings(max_examples=60, deadline=None)
@given(formulas)
def test_flow_steps_are_what_the_engine_parses(tokens):
    text = _typed(tokens)
    steps = _flow_steps(text)
    assert [s["name"] for s in steps for _ in range(s["count"])] == parse_formula(text)
    assert all(a["name"] != b["name"] for a, b in itertools.pairwise(steps))


@pytest.mark.parametrize(
    "family",
    ["mean_field", "full_rank", "empirical", "planar-wobble", "", "planar*0", "planar*65"],
)
def test_no_steps_for_a_pymc_family_or_a_refused_formula(family):
    assert _flow_steps(family) == []


def test_what_the_js_writes_from_steps_parses_back_to_the_same_flows():
    cases = [
        [{"name": "scale", "count": 1}],
        [{"name": "scale", "count": 2}, {"name": "hh", "count": 3}, {"name": "loc", "count": 1}],
        [{"name": "planar", "count": 1}, {"name": "planar", "count": 2}],  # neighbours merge
        [{"name": n, "count": k + 1} for k, n in enumerate(FLOWS)],
    ]
    src = (PARTS / "flow_editor.js").as_uri()
    written = json.loads(
        _run_js(
            f"const {{ stepsFormula }} = await import({json.dumps(src)});"
            f"console.log(JSON.stringify({json.dumps(cases)}.map(stepsFormula)));"
        )
    )
    for steps, text in zip(cases, written, strict=True):
        names = [s["name"] for s in steps for _ in range(s["count"])]
        assert parse_formula(text) == names
        assert [s["name"] for s in _flow_steps(text) for _ in range(s["count"])] == names
        assert format_formula(parse_formula(text)) == format_formula(names)


def test_the_default_flow_is_a_valid_formula():
    (flow,) = [f for f in FAMILIES if f["value"] == "flow"]
    assert parse_formula(flow["formula"])


def test_a_typed_formula_is_judged_by_the_session(session):
    board = Board(session)
    gid = session.add_group("planar-loc", ["mu"])
    board.refresh()
    (col,) = [g for g in board.plan_view["groups"] if g["id"] == gid]
    assert col["flow"] is True
    assert col["flow_steps"] == [{"name": "planar", "count": 1}, {"name": "loc", "count": 1}]
    assert board.apply({"kind": "set_family", "group": gid, "family": "planar-wobble*2"}) is False
    assert "wobble" in board.errors[gid]
    assert session.groups[0].family == "planar-loc"
    assert board.apply({"kind": "set_family", "group": gid, "family": "Scale*2 - loc"})
    (col,) = [g for g in board.plan_view["groups"] if g["id"] == gid]
    assert col["flow_steps"] == [{"name": "scale", "count": 2}, {"name": "loc", "count": 1}]
    assert gid not in board.errors


# ---------------------------------------------------------------- no replay in JS
def test_queued_edits_are_shown_from_the_python_view(session):
    session.step_seconds = 0.002
    board = Board(session)
    gid = session.add_group("full_rank", ["mu"])
    board.refresh()
    session.start(100_000)
    try:
        board.apply({"kind": "move", "variable": "tau", "group": gid})
        board.apply({"kind": "new_group", "variable": "mu", "family": "mean_field"})
        board.apply({"kind": "set_family", "group": "rest", "family": "planar*2"})
        board.apply({"kind": "remove_group", "group": gid})
        view = board.plan_view
        cols = {g["id"]: g for g in view["groups"]}
        assert cols[gid]["variables"] == ["tau"]
        assert cols[gid]["pending_variables"] == ["tau"]
        assert cols[gid]["removing"] is True
        assert view["added"] == [
            {"family": "mean_field", "variables": ["mu"], "pending_variables": ["mu"]}
        ]
        assert cols["rest"]["family"] == "planar*2"
        assert cols["rest"]["pending_family"] is True
        assert cols["rest"]["flow_steps"] == [{"name": "planar", "count": 2}]
        assert "tau" not in cols["rest"]["variables"]
        assert board.get_state()["plan_view"] == view  # what the front end draws
        assert [g.id for g in session.groups] == [gid, "rest"]  # nothing applied yet
    finally:
        session.stop()
        session.wait(timeout=30)
    board.apply_pending()
    view = board.plan_view
    assert view["added"] == []
    assert not any(g["pending_variables"] or g["pending_family"] for g in view["groups"])
    assert [(g["id"], g["variables"]) for g in view["groups"]] == [
        (g.id, list(g.variables)) for g in session.groups
    ]


def test_the_front_end_reads_the_plan_only_from_plan_view():
    for part in PARTS.glob("*.js"):
        text = part.read_text()
        for trait in ("groups", "group_details", "queued"):
            assert f'model.get("{trait}")' not in text, (part.name, trait)
        assert "parseFormula" not in text, part.name
