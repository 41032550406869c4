"""Plots: numbers in, Figures and PNG bytes out; axes that do not jump."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from vibench.plots import (
    ElboAxes,
    ElboTrace,
    MarginalAxes,
    StableLimits,
    elbo_figure,
    figure_to_png,
    marginal_densities,
    marginal_panels,
    marginals_figure,
    placeholder_png,
    smooth,
)
from vibench.plots.live import LiveElboPlot
from vibench.widgets._budget import FrameBudget


def _trace(n: int = 2000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return -(30 + 100 * np.exp(-np.arange(n) / 300)) + rng.normal(0, 2, n)


def test_smooth_is_a_trailing_mean_ignoring_nan():
    y = np.array([1.0, 3.0, np.nan, 7.0])
    np.testing.assert_allclose(smooth(y, window=2), [1.0, 2.0, 3.0, 7.0])
    assert smooth(np.empty(0)).size == 0


def test_stable_limits_keep_still_then_reset():
    lim = StableLimits(pad=0.0, shrink=0.5)
    assert lim.update(0, 10) == (0, 10)
    assert lim.update(2, 9) == (0, 10)  # inside and >= half: unchanged
    assert lim.update(-1, 9) == (-1, 9)  # left the limits: reset
    assert lim.update(4, 5) == (4, 5)  # far smaller: reset
    assert lim.update(float("nan"), 1) == (4, 5)


def test_elbo_figure_with_runs_and_log_scale():
    fig = elbo_figure(
        ElboTrace("now", _trace()), [ElboTrace("earlier", _trace(seed=1) - 3)], total=3000
    )
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlim()[1] >= 3000
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["earlier", "now"]
    log = elbo_figure(ElboTrace("now", _trace()), log_scale=True)
    assert "log" in log.axes[0].get_ylabel()
    assert figure_to_png(log).startswith(b"\x89PNG")


def test_elbo_axes_do_not_jump_between_frames():
    axes = ElboAxes()
    y = _trace(3000)
    lims = []
    for n in (1500, 1800, 2100, 2400, 2700, 3000):
        fig = elbo_figure(ElboTrace("now", y[:n]), total=3000, axes=axes)
        lims.append(fig.axes[0].get_ylim())
    assert len(set(lims[1:])) == 1


def test_live_elbo_plot_redraws_its_background_rarely():
    plot = LiveElboPlot()
    y = _trace(6000)
    pngs = [plot.frame(ElboTrace("now", y[:n]), total=6000) for n in range(500, 6001, 250)]
    assert all(p.startswith(b"\xff\xd8") for p in pngs)  # live frames are JPEGs
    assert plot.redraws <= 8 < len(pngs)
    assert len(set(pngs)) == len(pngs)  # every frame shows new data


def test_sparse_trace_from_progress_points():
    x = np.array([100, 900, 2000])
    fig = elbo_figure(
        ElboTrace("now", np.array([-80.0, -40.0, -31.0]), x=x, smoothed=np.array([-90, -45, -32]))
    )
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), x)


def test_marginal_panels_small_vectors_by_element_big_by_index():
    panels = marginal_panels(
        {"mu": (), "theta": (3,), "beta": (20,), "L": (2, 2)}, index={"beta": 5}
    )
    assert [p.label for p in panels] == [
        "mu",
        "theta[0]",
        "theta[1]",
        "theta[2]",
        "beta[5]",
        "L[0, 0]",
        "L[0, 1]",
        "L[1, 0]",
        "L[1, 1]",
    ]


def test_marginals_figure_with_reference_and_stable_axes():
    rng = np.random.default_rng(0)
    draws = {"mu": rng.normal(0, 1, 400), "theta": rng.normal(2, 1, (400, 3))}
    panels = marginal_panels({"mu": (), "theta": (3,)})
    dens = marginal_densities(panels, draws)
    assert all(d is not None for d in dens)
    axes = MarginalAxes()
    fig = marginals_figure(panels, dens, dens, axes=axes)
    first = [a.get_xlim() for a in fig.axes[:4]]
    draws2 = {"mu": rng.normal(0.05, 1, 400), "theta": rng.normal(2.05, 1, (400, 3))}
    fig2 = marginals_figure(panels, marginal_densities(panels, draws2), axes=axes)
    assert [a.get_xlim() for a in fig2.axes[:4]] == first
    assert fig.legends  # the reference is labelled


def test_marginal_without_draws_says_so():
    panels = marginal_panels({"mu": ()})
    dens = marginal_densities(panels, {"mu": np.full(10, 3.0)})
    assert dens == [None]
    fig = marginals_figure(panels, dens)
    assert "no draws" in [t.get_text() for t in fig.axes[0].texts]


def test_placeholder_png():
    assert placeholder_png("hello").startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("spent", "now", "due"), [(0.0, 1.0, True), (0.2, 1.0, False), (0.2, 10.0, True)]
)
def test_frame_budget(spent, now, due):
    b = FrameBudget(fraction=0.05, min_interval=0.25, cost=0.02)
    b.start(now=0.0)
    b.spent = spent
    assert b.due(now=now) is due


def test_frame_budget_forgets_a_slow_frame_at_the_next_run():
    b = FrameBudget(fraction=0.05, min_interval=0.0, cost=0.02)
    b.start(now=0.0)
    b.spend(5.0, now=1.0)  # one very slow frame
    assert not b.due(now=10.0)
    b.start(now=100.0)
    assert b.due(now=101.0)


def test_frame_budget_one_slow_frame_does_not_hold_back_cheap_ones():
    b = FrameBudget(fraction=0.05, min_interval=0.0, cost=0.01, grace=0.06)
    b.start(now=0.0)
    assert b.due(now=0.25)
    b.spend(0.06, now=0.25)  # the first frame redraws the background
    b.spend(0.005, now=0.5)
    b.spend(0.005, now=0.75)
    assert b.cost < 0.03  # the estimate follows the typical frame
    assert b.due(now=1.0)  # the grace paid for the slow one
    b.spend(0.5, now=1.0)  # but the fraction still holds over the run
    assert not b.due(now=2.0)


def test_fast_kde_matches_arviz():
    from arviz_stats.base import array_stats

    from vibench.plots.marginals import fast_kde

    rng = np.random.default_rng(3)
    for x in (rng.normal(size=300), rng.gamma(2.0, size=300)):
        grid, dens = fast_kde(x)
        assert grid.shape == dens.shape == (128,)
        assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=0.01)
        ag, ad, _ = array_stats.kde(x, grid_len=128)
        assert np.max(np.abs(np.interp(grid, ag, ad) - dens)) < 0.1 * ad.max()
    # degenerate inputs stay finite
    for x in (np.r_[np.zeros(299), 1.0], np.r_[0.0, 1.0]):
        assert np.isfinite(fast_kde(x)[1]).all()


def test_live_frames_are_2x_jpegs_and_leave_no_artists():
    import io

    from PIL import Image

    from vibench.plots._style import PIXEL_RATIO, RENDER_DPI

    plot = LiveElboPlot()
    y = _trace(3000)
    plot.frame(ElboTrace("now", y[:1000]), total=3000)
    n_artists = len(plot.ax.get_children())
    pngs = [plot.frame(ElboTrace("now", y[:k]), total=3000) for k in range(1100, 3000, 300)]
    assert len(plot.ax.get_children()) == n_artists
    img = Image.open(io.BytesIO(pngs[-1]))
    assert img.format == "JPEG"
    # two device pixels per CSS pixel: 10 in at 96 CSS px/in is 960 CSS px, 1920 pixels
    assert img.size[0] == round(plot.fig.get_size_inches()[0] * RENDER_DPI) == 960 * PIXEL_RATIO
    assert len(pngs[-1]) < 250_000
    # the band, line and label are drawn: the frame differs from the background
    assert pngs[0] != pngs[-1]


def test_live_marginals_keep_their_limits_for_small_moves_but_not_the_final_frame():
    from vibench.plots.live import LiveMarginalsPlot

    rng = np.random.default_rng(0)
    panels = marginal_panels({"mu": (), "tau": ()})
    plot = LiveMarginalsPlot()

    def draws(shift):
        return {"mu": rng.normal(shift, 1.0, 300), "tau": rng.gamma(2.0, 1.0, 300)}

    plot.frame(panels, marginal_densities(panels, draws(0.0), fast=True), live=True)
    plot.min_redraw_interval = 0.0
    first = plot.redraws
    for shift in (0.05, 0.1, 0.15):
        png = plot.frame(panels, marginal_densities(panels, draws(shift), fast=True), live=True)
        assert png[:2] == b"\xff\xd8"  # live: JPEG
    assert plot.redraws == first  # small moves: no redraw
    final = plot.frame(panels, marginal_densities(panels, draws(5.0)), live=False)
    assert final[:4] == b"\x89PNG"  # the final frame, kept in the notebook: PNG
    assert plot.redraws == first + 1  # a big move (or the final frame) redraws
