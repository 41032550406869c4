"""Forest panels: every element of a long vector variable at once, labelled by coords.

A vector with more elements than fit as density panels (85 counties, a GP's 50
points) is drawn as one wide panel: per element, q's mean (a dot), its 50 % interval
(a thick bar) and its 94 % interval (a thin bar), beside NUTS's (grey, shifted to the
right) when a reference exists. Elements run along the x-axis, labelled with their
coordinate names (``county_07``), so a row of the marginals grid holds a whole
vector; the y-axis is the variable's value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from vibench.plots._style import (
    CURRENT,
    LEGEND_SIZE,
    REFERENCE,
    TEXT_MUTED,
    TICK_SIZE,
    TITLE_SIZE,
    apply_axes_style,
    apply_figure_style,
)

__all__ = [
    "INTERVALS",
    "MAX_FOREST_LABELS",
    "ForestSummary",
    "draw_forest",
    "forest_figure",
    "forest_summary",
]

#: The two central intervals drawn per element (probabilities).
INTERVALS = (0.5, 0.94)
#: At most this many tick labels along a forest panel (every k-th element beyond).
MAX_FOREST_LABELS = 60
#: Height of the bars' area of a forest panel (inches); the labels come below.
FOREST_HEIGHT = 1.25
#: Horizontal shift of q's and the reference's bars when both are drawn.
FOREST_SHIFT = 0.18


@dataclass(frozen=True)
class ForestSummary:
    """Per element: the mean and the 50 % and 94 % central intervals.

    Attributes
    ----------
    mean : numpy.ndarray
        Shape ``(elements,)``.
    inner, outer : numpy.ndarray
        Shape ``(elements, 2)``: the lower and upper ends of the 50 % and the 94 %
        interval.
    """

    mean: np.ndarray
    inner: np.ndarray
    outer: np.ndarray

    @property
    def range(self) -> tuple[float, float]:
        """The lowest and highest end of the 94 % intervals (finite ones)."""
        ends = self.outer[np.isfinite(self.outer)]
        if ends.size == 0:
            return (0.0, 1.0)
        return float(ends.min()), float(ends.max())


def forest_summary(draws: np.ndarray, intervals: Sequence[float] = INTERVALS) -> ForestSummary:
    """Means and central intervals of each column of ``draws`` (``(draws, elements)``).

    One sort per frame: about 0.5 ms for 300 draws of 85 elements.

    Examples
    --------
    >>> s = forest_summary(np.arange(101.0)[:, None] * [1.0, 2.0])
    >>> s.mean.tolist(), s.inner[:, 0].tolist(), s.outer[:, 1].tolist()
    ([50.0, 100.0], [25.0, 50.0], [97.0, 194.0])
    """
    x = np.asarray(draws, dtype=float)
    x = x.reshape(x.shape[0], -1)
    x = np.sort(x, axis=0)
    n = x.shape[0]

    def q(p: float) -> np.ndarray:
        pos = p * (n - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, n - 1)
        return x[lo] + (pos - lo) * (x[hi] - x[lo])

    inner_p, outer_p = sorted(intervals)
    inner = np.column_stack([q((1 - inner_p) / 2), q((1 + inner_p) / 2)])
    outer = np.column_stack([q((1 - outer_p) / 2), q((1 + outer_p) / 2)])
    return ForestSummary(np.nanmean(x, axis=0), inner, outer)


def _bars(ends: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """One polyline through every bar, NaN-separated: one path to draw, not one per bar.

    (A ``LineCollection`` of 85 segments costs ~3 ms to draw; this ~0.3 ms.)
    """
    n = ends.shape[0]
    xs = np.repeat(np.arange(n, dtype=float) + shift, 3)
    ys = np.empty(3 * n)
    ys[0::3], ys[1::3], ys[2::3] = ends[:, 0], ends[:, 1], np.nan
    xs[2::3] = np.nan
    return xs, ys


def forest_artists(ax: Axes, color: str, shift: float, *, zorder: float = 2.0) -> tuple:
    """The three artists of one forest (94 % bars, 50 % bars, means), empty for now."""
    (outer,) = ax.plot([], [], color=color, linewidth=0.9, zorder=zorder, solid_capstyle="butt")
    (inner,) = ax.plot(
        [], [], color=color, linewidth=2.4, zorder=zorder + 0.1, solid_capstyle="butt"
    )
    (means,) = ax.plot(
        [], [], linestyle="none", marker="o", markersize=2.4, color=color, zorder=zorder + 0.2
    )
    return outer, inner, means, shift


def set_forest(artists: tuple, summary: ForestSummary) -> None:
    """Move the artists of :func:`forest_artists` to ``summary`` (a live frame's update)."""
    outer, inner, means, shift = artists
    outer.set_data(*_bars(summary.outer, shift))
    inner.set_data(*_bars(summary.inner, shift))
    means.set_data(np.arange(summary.mean.size, dtype=float) + shift, summary.mean)


def style_forest(ax: Axes, labels: Sequence[str], title: str) -> None:
    """Axes, title and element tick labels (at most :data:`MAX_FOREST_LABELS`)."""
    apply_axes_style(ax)
    n = len(labels)
    step = max(1, int(np.ceil(n / MAX_FOREST_LABELS)))
    ticks = list(range(0, n, step))
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=90)
    ax.tick_params(axis="x", labelsize=max(TICK_SIZE - 1.5, 5.0), length=2, pad=1)
    ax.tick_params(axis="y", labelsize=TICK_SIZE)
    ax.set_xlim(-0.6, n - 0.4)
    ax.grid(axis="x", visible=False)
    ax.set_title(title, fontsize=TITLE_SIZE, pad=4, loc="left")


def forest_label_room(labels: Sequence[str]) -> float:
    """Inches below a forest panel for its rotated tick labels."""
    longest = max((len(s) for s in labels), default=1)
    return min(1.1, 0.14 + 0.062 * longest)


def draw_forest(
    ax: Axes,
    labels: Sequence[str],
    summary: ForestSummary | None,
    reference: ForestSummary | None = None,
    *,
    title: str = "",
) -> None:
    """Draw a forest panel on ``ax`` (q's bars, and the reference's beside them).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    labels : sequence of str
        One tick label per element (coordinate names: ``"county_07"``).
    summary, reference : ForestSummary, optional
        q's and the reference's (NUTS) means and intervals.
    title : str
        The panel's title.
    """
    style_forest(ax, labels, title)
    shift = FOREST_SHIFT if reference is not None else 0.0
    if reference is not None:
        set_forest(forest_artists(ax, REFERENCE, shift, zorder=1.5), reference)
    if summary is not None:
        set_forest(forest_artists(ax, CURRENT, -shift), summary)
    ranges = [s.range for s in (summary, reference) if s is not None]
    if ranges:
        lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
        pad = 0.06 * (hi - lo) or 1.0
        ax.set_ylim(lo - pad, hi + pad)


def forest_figure(
    name: str,
    labels: Sequence[str],
    summary: ForestSummary | None,
    reference: ForestSummary | None = None,
    *,
    width: float = 10.0,
    title: str | None = None,
) -> Figure:
    """A figure holding one forest panel (q against NUTS when ``reference`` is given).

    Parameters
    ----------
    name : str
        The variable (the panel's title, with the intervals drawn).
    labels : sequence of str
        Element labels, one per element (coordinate names).
    summary, reference : ForestSummary, optional
        From :func:`forest_summary` of q's and NUTS's draws.
    width : float
        Inches.
    title : str, optional
        Replaces the default title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fig = forest_figure("z", ["a", "b", "c"], forest_summary(rng.normal(size=(200, 3))))
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['a', 'b', 'c']
    """
    room = forest_label_room(labels)
    height = 0.35 + FOREST_HEIGHT + room
    fig = Figure(figsize=(width, height))
    apply_figure_style(fig)
    ax = fig.add_axes((0.55 / width, room / height, 1 - 0.7 / width, FOREST_HEIGHT / height))
    draw_forest(ax, labels, summary, reference, title=title or forest_title(name))
    if reference is not None:
        forest_legend(fig, width, height)
    return fig


def forest_title(name: str) -> str:
    """``"z_a: mean, 50 % and 94 % intervals"``."""
    inner, outer = (round(100 * p) for p in sorted(INTERVALS))
    return f"{name}: mean, {inner} % and {outer} % intervals"


def forest_legend(fig: Figure, width: float, height: float) -> None:
    """The q / NUTS legend in the figure's top right corner."""
    from matplotlib.lines import Line2D

    fig.legend(
        handles=[
            Line2D([], [], color=CURRENT, marker="o", markersize=3, label="q (this fit)"),
            Line2D([], [], color=REFERENCE, marker="o", markersize=3, label="NUTS reference"),
        ],
        loc="upper right",
        bbox_to_anchor=(1 - 0.15 / width, 1 - 0.04 / height),
        ncols=2,
        fontsize=LEGEND_SIZE,
        frameon=False,
        labelcolor=TEXT_MUTED,
        borderaxespad=0.0,
    )
