"""The workbench against a fake session: controls, Fit/Stop/Reset, sync, export."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from vibench.widgets import Workbench

PNG = b"\x89PNG"


def _css_classes(widget) -> set[str]:
    return set(widget._dom_classes)


def test_ui_contract_classes(workbench):
    wb = workbench
    assert "vb-workbench" in _css_classes(wb)
    assert "vb-fit" in _css_classes(wb.fit_button)
    assert "vb-stop" in _css_classes(wb.stop_button)
    assert "vb-reset" in _css_classes(wb.reset_button)
    assert "vb-elbo" in _css_classes(wb.elbo_image)
    assert "vb-marginals" in _css_classes(wb.marginals_image)
    assert "vb-status" in _css_classes(wb.status)


def test_placeholders_before_the_first_fit(workbench):
    assert bytes(workbench.elbo_image.value).startswith(PNG)
    assert bytes(workbench.marginals_image.value).startswith(PNG)
    assert workbench.stop_button.disabled
    assert not workbench.fit_button.disabled


def test_session_or_model_not_both(session):
    with pytest.raises(TypeError):
        Workbench("eight_schools", session=session)


def test_python_session_calls_redraw_the_board(workbench, session):
    gid = session.add_group("full_rank", ["mu", "tau"])
    assert workbench.board.groups[0] == {
        "id": gid,
        "family": "full_rank",
        "variables": ["mu", "tau"],
    }
    session.set_family(gid, "planar*2-loc")
    assert workbench.board.groups[0]["family"] == "planar*2-loc"
    session.remove_group(gid)
    assert [g["id"] for g in workbench.board.groups] == ["rest"]


def test_fit_click_uses_the_controls_set_by_the_front_end(workbench, session):
    wb = workbench
    wb.iterations.set_state({"value": 600})
    wb.optimizer.set_state({"index": wb.optimizer.options.index("sgd")})
    wb.learning_rate.set_state({"value": 0.05})
    wb.mc_samples.set_state({"value": 3})
    wb.seed.set_state({"value": "7"})
    wb.fit_button.click()
    run = wb.wait(timeout=30)
    call = next(c for c in session.calls if c[0] == "start")
    assert call[1] == 600
    assert call[2] == {"optimizer": "sgd", "learning_rate": 0.05, "obj_n_mc": 3, "seed": 7}
    assert run.iterations == 600
    assert "Finished after 600 iterations" in wb.status.value
    assert "k-hat 0.42" in wb.status.value
    assert wb.progress.value == 600
    assert not wb.fit_button.disabled
    assert wb.stop_button.disabled


def test_bad_seed_is_refused_with_a_message(workbench, session):
    workbench.seed.set_state({"value": "abc"})
    workbench.fit_button.click()
    assert "seed" in workbench.status.value
    assert not any(c[0] == "start" for c in session.calls)
    assert not session.running


def test_unfittable_plan_is_explained(workbench, session):
    session.add_group("full_rank")  # empty group
    workbench.fit_button.click()
    assert "empty" in workbench.status.value
    assert not workbench.fit_button.disabled


def test_live_updates_then_stop(session):
    session.step_seconds = 0.002  # slow enough to stop mid-run
    wb = Workbench(session=session)
    wb.iterations.value = 100_000
    placeholder = wb.elbo_image.value
    wb.fit_button.click()
    assert wb.fit_button.disabled
    assert not wb.stop_button.disabled
    assert wb.board.running
    # wait (bounded) for at least one live frame and a "Fitting" status
    for _ in range(400):
        if wb.frames["elbo"] >= 1 and "Fitting" in wb.status.value:
            break
        session._stop.wait(0.01)
    assert "Fitting" in wb.status.value
    assert wb.elbo_image.value != placeholder
    assert "it/s" in wb.progress_text.value
    wb.stop_button.click()
    run = wb.wait(timeout=30)
    assert run.status == "stopped"
    assert 0 < run.iterations < 100_000
    assert "Stopped" in wb.status.value
    assert wb.progress.bar_style == "warning"
    wb.close()


def test_board_edits_during_a_fit_are_queued_then_applied(session):
    session.step_seconds = 0.002
    wb = Workbench(session=session)
    wb.iterations.value = 100_000
    wb.fit_button.click()
    assert wb.board.apply({"kind": "new_group", "variable": "mu", "family": "full_rank"}) is False
    assert "applied when it ends" in wb.board.notice
    assert wb.board.pending
    assert [g.id for g in session.groups] == ["rest"]
    wb.stop_button.click()
    wb.wait(timeout=30)
    assert [g.id for g in session.groups] == ["g1", "rest"]
    assert session.groups[0].variables == ["mu"]
    assert wb.board.notice == ""
    wb.close()


def test_reset_click(workbench, session):
    wb = workbench
    wb.iterations.value = 300
    wb.fit_button.click()
    wb.wait(timeout=30)
    wb.reset_button.click()
    assert ("reset",) in session.calls
    assert "Reset" in wb.status.value
    assert wb.progress.value == 0
    # the earlier run is still overlaid on the ELBO plot
    assert bytes(wb.elbo_image.value).startswith(PNG)


def test_runs_table_and_code_after_fits(workbench, session):
    wb = workbench
    wb.iterations.value = 300
    wb.fit_button.click()
    wb.wait(timeout=30)
    session.add_group("full_rank", ["mu", "tau"])
    wb.fit_button.click()
    wb.wait(timeout=30)
    table = wb.runs_table.value
    assert table.count("<tr>") == 3  # header + two runs
    assert "full-rank(mu, tau) + mean-field(rest)" in table
    assert "0.42" in table
    assert "g1" in wb.code.value
    assert json.loads(wb.plan_json.value)["plan"]["groups"][0]["id"] == "g1"


def test_plan_names_are_escaped_in_the_table():
    from vibench.widgets._runs import run_rows, runs_table_html

    run = SimpleNamespace(
        plan={"groups": [{"id": "g1", "family": "full_rank", "variables": ["<b>x</b>"]}]},
        status="finished",
        seconds=1.0,
        iterations=10,
        elbo=np.array([1.0, 2.0]),
    )
    html = runs_table_html(run_rows([run], {}))
    assert "<b>x</b>" not in html
    assert "full-rank(&lt;b&gt;x&lt;/b&gt;)" in html


def test_save_and_load_plan(workbench, session, tmp_path):
    wb = workbench
    gid = session.add_group("full_rank", ["mu", "tau"])
    session.set_family(gid, "scale-planar-loc")
    path = wb.save_plan(tmp_path / "plan.json")
    saved = json.loads(path.read_text())
    session.remove_group(gid)
    assert [g.id for g in session.groups] == ["rest"]
    assert wb.load_plan(path) is True
    assert next((g.family, g.variables) for g in session.groups) == (
        "scale-planar-loc",
        ["mu", "tau"],
    )
    assert saved["plan"]["groups"][0]["family"] == "scale-planar-loc"
    assert wb.plan_message.value.startswith("Loaded the plan from")


def test_bad_plan_json_changes_nothing(workbench, session):
    session.add_group("full_rank", ["mu"])
    before = [(g.id, g.variables, g.family) for g in session.groups]
    assert workbench.apply_plan_json("{not json") is False
    assert workbench.apply_plan_json('{"nothing": 1}') is False
    assert "not loaded" in workbench.plan_message.value
    assert [(g.id, g.variables, g.family) for g in session.groups] == before


def test_element_picker_for_big_vectors():
    from ._fake import FakeSession, Variable

    s = FakeSession()
    s._vars.append(Variable("beta", (20,), 20))
    wb = Workbench(session=s)
    assert wb.element_variable.options == ("beta",)
    # a dropdown of element labels (no coords here: numbered), "forest only" first
    assert wb.element_index.options[0] == ("(forest only)", -1)
    assert [label for label, _ in wb.element_index.options[1:]] == [
        f"beta[{i}]" for i in range(20)
    ]
    assert [p.kind for p in wb._panels()][-1] == "forest"
    wb.element_index.value = 7
    assert [p.label for p in wb._panels()][-2:] == ["beta[…]", "beta[7]"]
    wb.close()


def test_snapshot_is_static_html_with_the_plots(workbench):
    workbench.iterations.value = 300
    workbench.fit_button.click()
    workbench.wait(timeout=30)
    html = workbench.snapshot().data
    assert html.count("data:image/png;base64,") == 2
    assert "Finished" in html
    assert "<table" in html


@pytest.mark.slow
def test_executed_notebook_keeps_the_last_plots_in_its_widget_state(tmp_path):
    """nbclient saves widget state: a reader without a kernel sees the final plots."""
    import base64
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    root = Path(__file__).resolve().parents[2]
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"import sys; sys.path.insert(0, {str(root)!r})\n"
            "from tests.widgets._fake import FakeSession\n"
            "from vibench.widgets import Workbench\n"
            "wb = Workbench(session=FakeSession())\n"
            "placeholder = bytes(wb.elbo_image.value)\n"
            "wb"
        ),
        nbformat.v4.new_code_cell(
            "wb.iterations.value = 300\nwb.fit()\nrun = wb.wait(timeout=60)\nprint(run.status)"
        ),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True).execute()
    assert "finished" in nb.cells[1].outputs[0]["text"]
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    images = [
        m
        for m in state.values()
        if m["model_name"] == "ImageModel" and "vb-elbo" in m["state"].get("_dom_classes", [])
    ]
    assert len(images) == 1
    buffers = images[0].get("buffers", [])
    assert buffers, "the ELBO image's bytes are not in the saved widget state"
    saved = base64.b64decode(buffers[0]["data"])
    assert saved.startswith(PNG)
    from vibench.plots import placeholder_png

    assert saved != placeholder_png("Press Fit to see the ELBO", (6.4, 1.2), 80)


class _SlowDrawsSession:
    """Mixin for the fake: a ``draws`` whose first call blocks until released (a compile)."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.release = threading.Event()
        self.draw_calls: list[int] = []

    def draws(self, draws: int = 300, seed: int | None = None) -> dict:
        self.release.wait(10)
        self.draw_calls.append(draws)
        tree = self.sample(draws, seed)
        return {k: v.values[0] for k, v in tree["posterior"].data_vars.items()}


def _slow_draws_session():
    from ._fake import FakeSession

    return type("SlowDrawsFake", (_SlowDrawsSession, FakeSession), {})()


def test_first_fit_starts_at_once_and_compiles_live_draws_beside_it():
    s = _slow_draws_session()
    wb = Workbench(session=s)
    wb.iterations.value = 200
    wb.learning_rate.value = 0.2
    run = wb.fit()  # does not wait for the draws function
    assert run is not None
    assert ("start", 200) in [c[:2] for c in s.calls]
    assert wb.wait(timeout=30).iterations == 200
    assert not wb._sampler_ready  # still "compiling"
    assert wb.frames["marginals"] == 0
    s.release.set()
    wb._starter.join(10)
    assert wb._sampler_ready
    assert s.draw_calls == [1]
    # the plan did not change: no second compile, and live frames use the cheap draws
    wb.iterations.value = 20_000
    wb.fit()
    wb.wait(timeout=30)
    assert wb._starter is not None
    assert not wb._starter.is_alive()
    assert all(n > 1 for n in s.draw_calls[1:])
    wb.close()


def test_a_new_plan_compiles_its_live_draws_again():
    s = _slow_draws_session()
    s.release.set()
    wb = Workbench(session=s)
    wb.iterations.value = 50
    wb.fit()
    wb.wait(timeout=30)
    wb._starter.join(10)
    assert wb._sampler_ready
    s.add_group("full_rank", [s.variables[0].name])
    assert not wb._sampler_ready
    wb.fit()
    wb.wait(timeout=30)
    wb._starter.join(10)
    assert wb._sampler_ready
    assert s.draw_calls.count(1) == 2
    wb.close()


def test_log_scale_toggle_redraws_the_elbo(workbench):
    workbench.iterations.value = 300
    workbench.fit_button.click()
    workbench.wait(timeout=30)
    linear = bytes(workbench.elbo_image.value)
    workbench.log_scale.set_state({"value": True})
    assert bytes(workbench.elbo_image.value) != linear
    assert bytes(workbench.elbo_image.value).startswith(PNG)
