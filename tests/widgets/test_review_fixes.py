"""What an independent review in JupyterLab found outside the board, fixed.

Plan loading that fails says so; the status keeps the run summary with the NUTS
reference on; a model with discrete variables says up front that it cannot be fitted;
the NUTS legend only with NUTS lines; legible 2x plots as wide as the workbench; dark
theme CSS; the Plan tab's labels; a Copy button and quiet exported code; per-frame
costs; continued fits labelled as such.
"""

from __future__ import annotations

import io
import json
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vibench.plots import ElboTrace, elbo_figure, marginal_densities, marginal_panels
from vibench.plots._style import CSS_DPI, PIXEL_RATIO, RENDER_DPI
from vibench.plots.live import LiveMarginalsPlot
from vibench.plots.marginals import marginals_figure
from vibench.widgets import Workbench
from vibench.widgets._labels import continued_from, run_titles
from vibench.widgets._runs import run_rows, runs_table_html
from vibench.widgets.board import Board

from ._fake import FakeSession

STATIC = Path(__file__).parents[2] / "vibench" / "widgets" / "static"


def _fit(wb: Workbench, n: int = 400):
    wb.iterations.set_state({"value": n})
    wb.fit_button.click()
    return wb.wait(timeout=120)


def _size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(bytes(data))).size


# ---------------------------------------------------------------- 1. plan loading
def test_a_plan_whose_apply_fails_says_so_and_puts_the_old_plan_back(workbench, session):
    wb = workbench
    session.add_group("full_rank", ["mu"])
    plan = json.loads(wb.plan_json.value)
    plan["plan"]["groups"][0]["variables"] = ["mu", "tau"]
    real = session.configure

    def broken(**changes):  # fails once: putting the old plan back works
        session.configure = real
        raise RuntimeError("the settings could not be applied")

    session.configure = broken
    try:
        assert wb.apply_plan_json(json.dumps(plan)) is False
    finally:
        session.configure = real
    message = wb.plan_message.value
    assert "Plan not loaded: the settings could not be applied" in message
    assert "The previous plan is back" in message
    back = [(g.family, g.variables) for g in session.groups if g.id != "rest"]
    assert back == [("full_rank", ["mu"])]  # (under a new id)
    assert "tau" in wb.plan_json.value  # what was typed stays in the box, to fix it
    # a good load replaces the error
    wb.plan_json.value = json.dumps(plan)
    wb.apply_json_button.click()
    assert wb.plan_message.value.startswith("Loaded the plan from the JSON above")
    assert "not loaded" not in wb.plan_message.value
    assert next(g.variables for g in session.groups if g.id != "rest") == ["mu", "tau"]


def test_any_error_of_a_load_lands_in_the_plan_message(workbench, session, tmp_path):
    wb = workbench
    path = wb.save_plan(tmp_path / "plan.json")
    assert wb.plan_message.value.startswith("Saved to")

    def broken(*_a, **_k):
        raise AttributeError("no such thing")

    real = type(session).from_dict
    type(session).from_dict = classmethod(lambda cls, m, d: broken())
    try:
        wb.plan_path.value = str(path)
        wb.load_button.click()  # a click never raises into the notebook
    finally:
        type(session).from_dict = real
    assert "Plan not loaded: no such thing" in wb.plan_message.value
    assert wb.load_plan(path) is True
    assert wb.plan_message.value.startswith(f"Loaded the plan from {path}")
    assert wb.load_plan(tmp_path / "missing.json") is False
    assert "Could not read" in wb.plan_message.value


# ---------------------------------------------------------------- 2. NUTS reference note
class _ReferenceSession(FakeSession):
    def reference(self, background: bool = False):
        future: Future = Future()
        future.set_result(self.sample(500, seed=3))
        return future


def test_the_nuts_reference_note_sits_by_its_box_and_the_status_keeps_the_run():
    session = _ReferenceSession()
    wb = Workbench(session=session)
    try:
        _fit(wb, 300)
        summary = wb.status.value
        assert "Finished after 300 iterations" in summary
        wb.show_reference.value = True
        assert wb.status.value == summary  # the run summary stays
        assert "NUTS reference ready" in wb.reference_note.value
        assert "vb-reference-note" in wb.reference_note._dom_classes
        assert wb.reference_note in wb._plot_options.children
        assert wb._live_marginals.fig.legends  # dashed lines drawn: the legend says so
        wb.show_reference.value = False
        assert wb.reference_note.value == ""
        assert not wb._live_marginals.fig.legends
    finally:
        wb.close()


# ---------------------------------------------------------------- 3. discrete variables
def test_a_model_with_discrete_variables_says_so_up_front_and_fit_is_off():
    session = FakeSession()
    session.fits_discrete = False  # like vibench.Session
    wb = Workbench(session=session)
    try:
        assert wb.fit_button.disabled
        assert "discrete free variables ['k']" in wb.fit_button.tooltip
        assert "Cannot fit this model" in wb.status.value
        assert "discrete free variables ['k']" in wb.plan_message.value
        assert wb.fit() is None
        assert not session.runs
        assert not session.running
        wb._set_running(False)  # e.g. after Reset or a plan change: still off
        assert wb.fit_button.disabled
        session.add_group("full_rank", ["mu"])  # plan edits do not hide the reason
        assert "Cannot fit" in wb.status.value
    finally:
        wb.close()


def test_a_model_without_discrete_variables_can_fit():
    session = FakeSession(discrete=False)
    session.fits_discrete = False
    wb = Workbench(session=session)
    try:
        assert not wb.fit_button.disabled
        assert "Cannot fit" not in wb.status.value
    finally:
        wb.close()


# ---------------------------------------------------------------- 4. marginals legend
def test_the_nuts_legend_only_when_nuts_lines_are_drawn():
    rng = np.random.default_rng(0)
    panels = marginal_panels({"mu": (), "theta": (3,)})
    dens = marginal_densities(
        panels, {"mu": rng.normal(size=300), "theta": rng.normal(size=(300, 3))}
    )
    assert not marginals_figure(panels, dens).legends
    assert not marginals_figure(panels, dens, [None] * len(panels)).legends
    fig = marginals_figure(panels, dens, dens)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["q (this fit)", "NUTS reference"]
    live = LiveMarginalsPlot()
    live.frame(panels, dens, live=True)
    assert not live.fig.legends
    live.frame(panels, dens, dens, live=False)
    assert live.fig.legends


# ---------------------------------------------------------------- 5. legible plots
def test_plots_carry_two_pixels_per_css_pixel_and_fill_the_width(workbench):
    wb = workbench
    for image in (wb.elbo_image, wb.marginals_image):
        assert image.layout.width == "100%"
        assert image.layout.height == "auto"
        assert image.layout.max_width == f"{10 * CSS_DPI}px"
    _fit(wb, 600)
    assert wb.elbo_image.format == "png"  # the final frame, kept in the notebook
    w, _ = _size(wb.elbo_image.value)
    assert w == 10 * RENDER_DPI == int(wb.elbo_image.layout.max_width[:-2]) * PIXEL_RATIO
    w, _ = _size(wb.marginals_image.value)
    assert w == int(wb.marginals_image.layout.max_width[:-2]) * PIXEL_RATIO


def test_elbo_legend_below_the_axes_in_full_and_fonts_readable():
    rng = np.random.default_rng(1)
    y = -30 - 50 * np.exp(-np.arange(2000) / 200) + rng.normal(0, 1, 2000)
    long = "#2 flow scale-hh*2-planar-radial-loc(mu, tau) + full-rank(theta_tilde)"
    previous = [ElboTrace(f"#{i} mean-field(rest)", y - i) for i in (1, 3, 4)]
    fig = elbo_figure(ElboTrace(long, y), [*previous, ElboTrace(long, y + 1)])
    ax = fig.axes[0]
    legend = ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert long in texts
    assert not any("…" in t for t in texts)
    renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else None
    if renderer is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer = FigureCanvasAgg(fig).get_renderer()
    box = legend.get_window_extent(renderer)
    axes_box = ax.get_window_extent(renderer)
    assert box.y1 < axes_box.y0  # below the axes: never over a curve
    assert box.y0 >= 0  # and inside the picture
    assert box.x1 <= fig.bbox.width
    assert min(t.get_fontsize() for t in legend.get_texts()) >= 9
    assert min(t.get_fontsize() for t in ax.get_xticklabels()) >= 9
    assert fig.get_size_inches()[0] == 10.0


# ---------------------------------------------------------------- 6. dark theme
def test_plots_have_a_dark_theme_rule():
    wb_css = str(Board._css)
    assert 'body[data-jp-theme-light="false"] .vb-workbench img.vb-plot' in wb_css


def test_plot_images_carry_the_plot_class(workbench):
    assert "vb-plot" in workbench.elbo_image._dom_classes
    assert "vb-plot" in workbench.marginals_image._dom_classes


# ---------------------------------------------------------------- 7. plan tab labels
def test_plan_buttons_size_to_their_labels(workbench):
    for b in (workbench.apply_json_button, workbench.save_button, workbench.load_button):
        assert b.layout.width == "auto"
        assert b.layout.min_width == "max-content"
    assert workbench.apply_json_button.description == "Apply JSON above"


# ---------------------------------------------------------------- 8. copy and quiet code
def test_the_code_tab_has_a_copy_button_with_the_code(workbench, session):
    wb = workbench
    assert wb.copy_button.text == wb.code.value
    session.add_group("full_rank", ["mu"])
    assert wb.copy_button.text == wb.code.value
    assert "full_rank" in wb.copy_button.text
    assert "vb-copy-code" in wb.copy_button._dom_classes
    assert (STATIC / "copy.js").exists()


def test_exported_code_keeps_pymc_quiet():
    from vibench.session._codegen import PYMC_FIT_LOGGER, plan_to_code
    from vibench.session._run import FitSettings

    plan = {"groups": [{"id": "rest", "family": "mean_field", "variables": ["mu"]}]}
    code = plan_to_code(plan, FitSettings(), demo="eight_schools", model_code=None, fit=True)
    assert f"logging.getLogger({PYMC_FIT_LOGGER!r}).setLevel(logging.WARNING)" in code
    assert code.index("setLevel") < code.index("inference.fit(")
    compile(code, "<code>", "exec")
    built = plan_to_code(plan, FitSettings(), demo="eight_schools", model_code=None, fit=False)
    assert "logging" not in built


# ---------------------------------------------------------------- 9. frame costs
def test_frame_costs_per_live_frame_reset_at_each_fit():
    session = FakeSession(step_seconds=0.002)
    wb = Workbench(session=session)
    try:
        wb._sampler_ready = True
        _fit(wb, 1500)
        costs = wb.frame_costs
        assert set(costs) == {"elbo", "marginals"}
        assert len(costs["elbo"]) == wb.frames["elbo"] > 0
        assert len(costs["marginals"]) == wb.frames["marginals"]
        assert all(0 < c < 5 for c in costs["elbo"] + costs["marginals"])
        wb.iterations.set_state({"value": 50})
        wb.fit_button.click()
        assert wb.frame_costs is not costs
        wb.wait(timeout=60)
        assert len(wb.frame_costs["elbo"]) == wb.frames["elbo"]
    finally:
        wb.close()


# ---------------------------------------------------------------- 10. continued fits
def test_a_continued_fit_is_labelled_and_keeps_the_earlier_run_on_the_plot(workbench, session):
    wb = workbench
    _fit(wb, 600)
    _fit(wb, 600)  # Fit again without Reset: continues #1
    first, second = session.runs
    assert second.start_iteration == 600
    assert run_titles(session.runs) == ["#1", "#2 (continues #1)"]
    assert "(continues #1)" in wb.runs_table.value
    labels = [t.get_text() for t in _elbo_legend(wb)]
    assert labels == ["#1 mean-field(rest)", "#2 (continues #1) mean-field(rest)"]
    # the y-axis still shows run #1's line after its first tenth
    fig = elbo_figure(ElboTrace("#2", second.elbo, 600), [ElboTrace("#1", first.elbo)], axes=None)
    lo, hi = fig.axes[0].get_ylim()
    tail = first.elbo[60:]
    assert lo <= np.median(tail) <= hi
    wb.reset()
    _fit(wb, 300)
    assert run_titles(session.runs)[-1] == "#3"


def _elbo_legend(wb: Workbench):
    fig = elbo_figure(None, wb._previous_traces(kind="ELBO"))
    return fig.axes[0].get_legend().get_texts()


def test_continued_from_needs_the_same_plan_and_the_iteration_it_stopped_at():
    from types import SimpleNamespace as R

    a = {"groups": [{"id": "rest", "family": "mean_field", "variables": ["mu"]}]}
    b = {"groups": [{"id": "rest", "family": "full_rank", "variables": ["mu"]}]}
    runs = [
        R(plan=a, start_iteration=0, iterations=100),
        R(plan=b, start_iteration=0, iterations=50),
        R(plan=a, start_iteration=100, iterations=20),  # back to plan a: continues #1
        R(plan=b, start_iteration=10, iterations=5),  # no run of b ended at 10
    ]
    assert continued_from(runs) == [None, None, 1, None]
    rows = run_rows(runs_with_elbo(runs), {})
    assert [r["continues"] for r in rows] == [None, None, 1, None]
    assert "3 <span class='vb-continues'>(continues #1)</span>" in runs_table_html(rows)


def runs_with_elbo(runs):
    from types import SimpleNamespace as R

    return [
        R(
            plan=r.plan,
            start_iteration=r.start_iteration,
            iterations=r.iterations,
            elbo=np.full(r.iterations, -1.0),
            status="finished",
            seconds=1.0,
            settings=None,
        )
        for r in runs
    ]


@pytest.mark.parametrize("name", ["elbo", "marginals"])
def test_placeholders_are_2x_too(workbench, name):
    image = getattr(workbench, f"{name}_image")
    w, _ = _size(image.value)
    assert w == int(image.layout.max_width[:-2]) * PIXEL_RATIO


def test_typed_settings_survive_plan_edits_and_follow_python_configure():
    s = FakeSession()
    wb = Workbench(session=s)
    wb.iterations.value = 500
    wb.learning_rate.value = 0.05
    s.add_group("full_rank", [s.variables[0].name])  # a plan edit, as a drag does
    s.set_family("rest", "full_rank")
    assert wb.iterations.value == 500
    assert wb.learning_rate.value == 0.05
    s.configure(iterations=42)  # a change of the settings themselves does show
    assert wb.iterations.value == 42
    wb.close()


def test_loading_a_plan_keeps_row_wise_groups(tmp_path):
    from vibench.session import Session

    session = Session("eight_schools", compile_kwargs={"mode": "FAST_COMPILE"})
    gid = session.add_group("mean_field", ["theta_tilde"])
    session.set_rowwise(gid, True)
    wb = Workbench(session=session)
    path = wb.save_plan(tmp_path / "plan.json")
    session.set_rowwise(gid, False)
    assert wb.load_plan(path)
    (group,) = [g for g in session.groups if g.id != "rest"]
    assert group.rowwise
    assert group.variables == ["theta_tilde"]
    wb.close()
