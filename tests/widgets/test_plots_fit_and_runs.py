"""Plots that fit and stay readable: runs shown, hidden or removed; short runs; one smoothing;
no stale busy state after a fit (issue 15, item 6)."""

from __future__ import annotations

import numpy as np

from vibench._smoothing import smoothed_at, trailing_median, window_at
from vibench.plots import ElboTrace, elbo_figure
from vibench.plots.elbo import rolling_median
from vibench.plots.live import LiveElboPlot
from vibench.widgets import Workbench
from vibench.widgets import workbench as workbench_module

from ._fake import FakeSession


def _fit(wb: Workbench, n: int = 400):
    wb.iterations.set_state({"value": n})
    wb.fit_button.click()
    return wb.wait(timeout=120)


def _trace(n: int, level: float = -30.0, start_drop: float = 100.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    it = np.arange(n)
    return level - start_drop * np.exp(-it / 300) + rng.normal(0, 1, n)


def _labels(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend is not None else []


# ---------------------------------------------------------------- one smoothing
def test_status_and_plot_smooth_the_same_way():
    """The smoothed value of a progress event is the plot's line at that iteration."""
    y = _trace(3000)
    line = rolling_median(y, 100)
    for end in (1, 7, 48, 100, 399, 400, 401, 2999, 3000):
        assert smoothed_at(y, end, 100) == line[end - 1]
    # the plot's thinned line ends on the last value: the number the status shows
    xs, ys = ElboTrace("run", y).line(100, 600)
    assert xs[-1] == 2999
    assert ys[-1] == smoothed_at(y, y.size, 100)


def test_the_workbench_status_says_what_the_plot_draws(workbench, session):
    seen = []
    session.subscribe(lambda p: seen.append(p))
    run = _fit(workbench, 700)
    assert seen
    assert seen[-1].done
    elbo = run.elbo
    for p in seen:
        assert p.smoothed_elbo == trailing_median(elbo, 100)[p.iteration - 1]
    # the final status quotes the number and the window it used
    text = workbench.status.value
    assert f"{seen[-1].smoothed_elbo:.4g}" in text
    assert "median of the last 100" in text


def test_the_smoothing_window_grows_without_a_kink():
    """A steady slope: the smoothed line's slope does not jump where the window fills."""
    y = -1000.0 + np.arange(2000.0)

    def block_slopes(line: np.ndarray, block: int = 40) -> np.ndarray:
        return np.diff(line[::block]) / block

    new = block_slopes(trailing_median(y, 100))
    # the old partial window (the whole trace until it is full) lagged by i/2, then by a
    # constant 50: the slope went from 0.5 to 1 at iteration 100
    old = block_slopes(np.array([np.median(y[max(0, i - 99) : i + 1]) for i in range(2000)]))
    assert old.max() - old.min() >= 0.45
    assert new.max() - new.min() <= 0.15
    assert new.min() >= 0.85  # and it follows the trace closely from the start
    assert window_at(np.array([0, 399, 10_000]), 100).tolist() == [1, 100, 100]


# ---------------------------------------------------------------- axes
def test_a_short_run_gets_the_iteration_axis_to_itself():
    long = ElboTrace("#1 long", _trace(10_000), status="finished")
    short = ElboTrace("#2 short", _trace(48, seed=1), status="stopped")
    ax = elbo_figure(short, [long]).axes[0]
    lo, hi = ax.get_xlim()
    assert lo == 0
    assert 48 <= hi <= 50
    # a run about as long as the others: every run on the axis
    ax = elbo_figure(ElboTrace("#2", _trace(6000)), [long]).axes[0]
    assert ax.get_xlim()[1] >= 10_000


def test_short_or_failed_runs_do_not_flatten_the_value_axis():
    long = ElboTrace("#3 long", _trace(10_000))
    short = ElboTrace("#1 short", np.full(48, -5000.0) + np.arange(48.0), status="stopped")
    failed = ElboTrace("#2 failed", np.array([-1e6, -9e5]), status="failed")
    ax = elbo_figure(long, [short, failed]).axes[0]
    lo, hi = ax.get_ylim()
    assert lo > -200
    assert hi < 0
    labels = _labels(ax)
    assert "#1 short (off the axes)" in labels
    assert "#2 failed (off the axes)" in labels
    assert "#3 long" in labels
    # without the short ones the limits are the same
    alone = elbo_figure(long).axes[0].get_ylim()
    np.testing.assert_allclose((lo, hi), alone)


def test_a_live_frame_of_a_short_run_next_to_a_long_one():
    plot = LiveElboPlot()
    long = ElboTrace("#1 long", _trace(10_000))
    plot.frame(ElboTrace("now", _trace(30, seed=2)), [long], total=48)
    lo, hi = plot.ax.get_xlim()
    assert lo == 0
    assert 48 <= hi <= 50
    plot.reset()
    plot.frame(ElboTrace("now", _trace(3000, seed=2)), [long], total=10_000)
    assert plot.ax.get_xlim()[1] >= 10_000


# ---------------------------------------------------------------- runs shown, hidden, removed
def _capture_figures(monkeypatch) -> list:
    figs = []
    real = workbench_module.elbo_figure

    def spy(*args, **kwargs):
        fig = real(*args, **kwargs)
        figs.append(fig)
        return fig

    monkeypatch.setattr(workbench_module, "elbo_figure", spy)
    return figs


def test_runs_can_be_hidden_shown_and_removed_from_python(workbench, session, monkeypatch):
    wb = workbench
    for _ in range(3):
        _fit(wb, 300)
    figs = _capture_figures(monkeypatch)
    wb.hide_run(1)
    labels = _labels(figs[-1].axes[0])
    assert not any(t.startswith("#1 ") for t in labels)
    assert any(t.startswith("#2 ") for t in labels)
    assert any(t.startswith("#3 ") for t in labels)
    assert "data-run='1' aria-label" in wb.runs_table.value  # the box, unticked
    assert "data-run='2' checked" in wb.runs_table.value
    assert [wb.session.runs.index(r) + 1 for r in wb.shown_runs()] == [2, 3]
    wb.hide_run(wb.session.runs[-1])  # the latest run: no current line either
    labels = _labels(figs[-1].axes[0])
    assert [t.split(" ")[0] for t in labels] == ["#2"]
    wb.show_runs()
    assert len(_labels(figs[-1].axes[0])) == 3
    first = session.runs[0]
    assert wb.remove_run(1)
    assert first not in session.runs
    assert len(session.runs) == 2
    assert ("remove_run", first) in session.calls
    assert wb.runs_table.value.count("vb-run-remove") == 2
    assert len(_labels(figs[-1].axes[0])) == 2


def test_the_runs_table_controls_send_show_and_remove(workbench, session):
    wb = workbench
    _fit(wb, 300)
    _fit(wb, 300)
    table = wb.runs_table.value
    assert table.count("input type='checkbox' class='vb-run-show'") == 2
    assert table.count("<button type='button' class='vb-run-remove'") == 2
    wb.runs_table._on_front_end(None, {"kind": "show", "run": 2, "shown": False}, [])
    assert id(session.runs[1]) in wb._hidden_runs
    assert "<tr class='vb-run-hidden'>" in wb.runs_table.value
    wb.runs_table._on_front_end(None, {"kind": "show", "run": 2, "shown": True}, [])
    assert not wb._hidden_runs
    wb.runs_table._on_front_end(None, {"kind": "remove", "run": 1}, [])
    assert len(session.runs) == 1
    # nonsense from the front end changes nothing and says why
    wb.runs_table._on_front_end(None, {"kind": "remove", "run": 7}, [])
    assert len(session.runs) == 1
    assert "no run #7" in wb.status.value
    wb.runs_table._on_front_end(None, {"kind": "drop tables", "run": 1}, [])
    assert len(session.runs) == 1


def test_a_session_without_remove_run_hides_the_run_instead():
    class Keeper(FakeSession):
        remove_run = None

    session = Keeper()
    wb = Workbench(session=session)
    try:
        _fit(wb, 200)
        assert wb.remove_run(1)
        assert len(session.runs) == 1
        assert not wb.shown_runs()
    finally:
        wb.close()


# ---------------------------------------------------------------- no stale busy state
def test_fit_is_pressable_and_the_run_listed_while_khat_is_computed(workbench, session):
    wb = workbench
    during = {}
    real_khat = wb._khat

    def slow_khat(run):
        during["fit_disabled"] = wb.fit_button.disabled
        during["stop_disabled"] = wb.stop_button.disabled
        during["table"] = wb.runs_table.value
        if "pressed" not in during:
            during["pressed"] = wb.fit()  # a press now: queued, not refused
            during["status"] = wb.status.value
        return real_khat(run)

    wb._khat = slow_khat
    _fit(wb, 300)
    assert during["fit_disabled"] is False
    assert during["stop_disabled"] is True
    assert "No runs yet" not in during["table"]
    assert "computing…" in during["table"]
    assert during["pressed"] is None
    assert "as soon as" in during["status"]
    # the queued press started the next fit once the k-hat was done
    wb.wait(timeout=60)
    session.wait(timeout=60)
    wb.wait(timeout=60)
    assert len(session.runs) == 2
    assert not wb.fit_button.disabled
    assert "computing…" not in wb.runs_table.value


# ---------------------------------------------------------------- marginal overlays
def test_chosen_runs_are_overlaid_in_the_marginals(workbench, session):
    wb = workbench
    _fit(wb, 300)
    session.add_group("full_rank", ["mu"])
    _fit(wb, 300)
    assert "class='vb-run-overlay' data-run='1' aria-label" in wb.runs_table.value
    # the latest run's marginals are the current ones: nothing to overlay
    assert "class='vb-run-overlay' data-run='2' disabled" in wb.runs_table.value
    lines_before = [len(ax.lines) for ax in wb._live_marginals.fig.axes]
    wb.runs_table._on_front_end(None, {"kind": "overlay", "run": 1, "shown": True}, [])
    assert id(session.runs[0]) in wb._overlay_runs
    assert "data-run='1' checked" in wb.runs_table.value.split("vb-run-overlay")[1]
    lines_after = [len(ax.lines) for ax in wb._live_marginals.fig.axes]
    # one more line per density panel: run 1's marginal, in its ELBO-plot colour
    assert [b - a for a, b in zip(lines_before, lines_after, strict=True)] == [1] * len(
        lines_after
    )
    from vibench.plots._style import RUN_COLORS

    ax = wb._live_marginals.fig.axes[0]
    assert any(line.get_color() == RUN_COLORS[0] for line in ax.lines)
    # hidden runs are not overlaid; nor is the latest run (q itself)
    wb.hide_run(1)
    assert [len(ax.lines) for ax in wb._live_marginals.fig.axes] == lines_before
    wb.show_run(1)
    wb.overlay_runs([1], overlay=False)
    assert [len(ax.lines) for ax in wb._live_marginals.fig.axes] == lines_before
    assert wb._marginal_overlays(wb._panels()) == []
    wb.overlay_runs([2])
    assert wb._marginal_overlays(wb._panels()) == []


# ---------------------------------------------------------------- readable when narrow
def test_the_elbo_plot_is_drawn_as_wide_as_the_cell(workbench, session):
    """A narrow cell (the board measures it): the plot is drawn narrower, not shrunk."""
    import io

    from PIL import Image

    from vibench.plots._style import RENDER_DPI

    wb = workbench
    wb.board.set_state({"width": 470})  # what the front end measured
    _fit(wb, 300)
    assert wb.elbo_image.layout.max_width == "480px"  # 5 inches, the narrowest drawn
    w, _ = Image.open(io.BytesIO(bytes(wb.elbo_image.value))).size
    assert w == 5 * RENDER_DPI
    assert float(wb._live_elbo.fig.get_size_inches()[0]) == 5.0
    assert wb._live_marginals.ncols == 2  # two 2-inch panels a row fit 470 px
    wb.board.set_state({"width": 0})  # a wide cell again: full-size plots
    assert wb.elbo_image.layout.max_width == "960px"
    assert wb._live_marginals.ncols == 5
    # a long label is cut to what a narrow figure holds
    long = "#2 flow scale-hh*2-planar-radial-loc(mu, tau) + full-rank(theta_tilde, x, y, z)"
    fig = elbo_figure(ElboTrace(long, _trace(500)), figsize=(5.0, 3.2))
    (text,) = _labels(fig.axes[0])
    assert len(text) <= 55
    assert text.endswith("…")


def test_the_snapshot_table_has_no_controls(workbench):
    _fit(workbench, 200)
    html = workbench.snapshot().data
    assert "<table" in html
    assert "vb-run-show" not in html
    assert "vb-run-remove" not in html
    assert "vb-run-show" in workbench.runs_table.value
