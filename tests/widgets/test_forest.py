"""Forest panels and coordinate labels in the marginals: the Figures' artists, no pixels."""

from __future__ import annotations

import numpy as np
import pytest

from vibench.plots import (
    forest_figure,
    forest_summary,
    marginal_densities,
    marginal_panels,
    marginals_figure,
)
from vibench.plots.live import LiveMarginalsPlot

COUNTIES = [f"county_{i:02d}" for i in range(85)]


def _draws(rng, shift=0.0):
    return {
        "mu": rng.normal(shift, 1.0, 300),
        "z_a": rng.normal(np.linspace(-1, 1, 85) + shift, 1.0, (300, 85)),
        "w": rng.normal(size=(300, 3)),
    }


def _panels(index=None):
    return marginal_panels(
        {"mu": (), "z_a": (85,), "w": (3,)},
        labels={"z_a": [f"z_a[{c}]" for c in COUNTIES], "w": ["w[low]", "w[mid]", "w[high]"]},
        index=index,
        forest=True,
    )


def test_forest_summary_is_mean_and_central_intervals():
    x = np.random.default_rng(0).normal(3.0, 2.0, (20000, 2))
    s = forest_summary(x)
    np.testing.assert_allclose(s.mean, x.mean(axis=0))
    np.testing.assert_allclose(s.inner, np.quantile(x, [0.25, 0.75], axis=0).T)
    np.testing.assert_allclose(s.outer, np.quantile(x, [0.03, 0.97], axis=0).T)
    assert s.range == (float(s.outer[:, 0].min()), float(s.outer[:, 1].max()))


def test_long_vectors_become_one_forest_panel_labelled_by_coords():
    panels = _panels()
    assert [p.kind for p in panels] == ["density", "forest", "density", "density", "density"]
    assert [p.label for p in panels if p.kind == "density"] == [
        "mu",
        "w[low]",
        "w[mid]",
        "w[high]",
    ]
    forest = panels[1]
    assert forest.element_labels == tuple(COUNTIES)
    assert forest.elements == tuple((i,) for i in range(85))
    # an element picked by the picker: its density beside the forest, named by its coord
    picked = _panels(index={"z_a": 7})
    assert [p.label for p in picked][1:3] == ["z_a[…]", "z_a[county_07]"]


def test_marginals_figure_draws_the_forest_with_tick_labels_and_reference():
    rng = np.random.default_rng(1)
    panels = _panels()
    dens = marginal_densities(panels, _draws(rng))
    ref = marginal_densities(panels, _draws(rng, 0.1))
    fig = marginals_figure(panels, dens, ref, title="marginal posteriors of q")
    assert len(fig.axes) == len(panels)
    forest_ax = fig.axes[1]
    assert forest_ax.get_title(loc="left").startswith("z_a: mean, 50 % and 94 % intervals")
    ticks = [t.get_text() for t in forest_ax.get_xticklabels()]
    # 85 counties: every other one labelled (at most 60 labels), by its coord name
    assert ticks[:3] == ["county_00", "county_02", "county_04"]
    assert ticks[-1] == "county_84"
    # q and NUTS: two sets of bars (94 %, 50 %) and means each, NUTS shifted right
    q_means = [ln for ln in forest_ax.lines if ln.get_marker() == "o"]
    assert len(q_means) == 2
    xs = sorted(float(np.asarray(ln.get_xdata())[0]) for ln in q_means)
    assert xs[0] < 0 < xs[1]
    means = np.asarray(max(q_means, key=lambda ln: ln.get_zorder()).get_ydata())
    np.testing.assert_allclose(means, dens[1].mean)
    # a forest panel sits below the grid, across its full width
    grid_ax = fig.axes[0]
    assert forest_ax.get_position().y1 < grid_ax.get_position().y0
    assert forest_ax.get_position().width > 3 * grid_ax.get_position().width
    assert [ax.get_title() for ax in fig.axes[2:]] == ["w[low]", "w[mid]", "w[high]"]


def test_forest_figure_alone():
    rng = np.random.default_rng(2)
    labels = ["north", "south", "east"]
    fig = forest_figure("u", labels, forest_summary(rng.normal(size=(400, 3))))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == labels
    assert "u" in ax.get_title(loc="left")
    assert not fig.legends  # no reference, no legend


def test_many_elements_thin_the_tick_labels_and_truncate():
    panels = marginal_panels({"f": (500,)}, forest=True)
    (p,) = panels
    assert len(p.elements) == 200
    assert p.total == 500
    assert "first 200 of 500" in p.title
    fig = marginals_figure(panels, marginal_densities(panels, {"f": np.ones((10, 500))}))
    assert len(fig.axes[0].get_xticklabels()) <= 60


@pytest.mark.parametrize("with_reference", [False, True])
def test_live_forest_frames_move_artists_without_redrawing(with_reference):
    rng = np.random.default_rng(3)
    panels = _panels()
    ref = marginal_densities(panels, _draws(rng)) if with_reference else None
    plot = LiveMarginalsPlot()
    plot.frame(panels, marginal_densities(panels, _draws(rng), fast=True), ref, live=True)
    assert plot.redraws == 1
    for k in range(5):
        dens = marginal_densities(panels, _draws(rng, 0.01 * k), fast=True)
        data = plot.frame(panels, dens, ref, live=True)
        assert data[:2] == b"\xff\xd8"  # a JPEG frame
    assert plot.redraws == 1  # the axes stayed; only the bars moved
    _, (outer, _inner, means, shift), _ = plot._artists[1]
    np.testing.assert_allclose(np.asarray(means.get_ydata()), dens[1].mean)
    assert shift == (-0.18 if with_reference else 0.0)
    ys = np.asarray(outer.get_ydata())
    np.testing.assert_allclose(ys[0::3], dens[1].outer[:, 0])
