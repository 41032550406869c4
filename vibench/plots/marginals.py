"""Marginal posterior densities: one small panel per variable or vector element.

Vector variables with more elements than fit as panels get one forest panel each
(:mod:`vibench.plots.forest`): every element's mean and intervals along a full-width
row, labelled with its coordinate names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from arviz_stats.base import array_stats
from matplotlib.figure import Figure

from vibench.plots._limits import StableLimits
from vibench.plots._style import (
    CURRENT,
    LABEL_SIZE,
    LEGEND_SIZE,
    REFERENCE,
    TEXT_MUTED,
    TICK_SIZE,
    TITLE_SIZE,
    apply_axes_style,
    apply_figure_style,
)
from vibench.plots.forest import (
    FOREST_HEIGHT,
    ForestSummary,
    draw_forest,
    forest_label_room,
    forest_summary,
    forest_title,
)

__all__ = [
    "MarginalAxes",
    "Panel",
    "fast_kde",
    "marginal_densities",
    "marginal_panels",
    "marginals_figure",
]

#: Vector variables with at most this many elements get one panel per element.
MAX_ELEMENTS = 8
#: A forest panel shows at most this many elements (the first ones; its title says so).
MAX_FOREST = 200
#: Grid points of each density.
GRID_LEN = 128
#: Size of one panel in inches: five panels a row make the plot as wide as the ELBO plot.
PANEL_SIZE = (2.0, 1.5)


@dataclass(frozen=True)
class Panel:
    """One marginal panel: a scalar variable or one element of a vector variable.

    Attributes
    ----------
    variable : str
        The variable's name.
    index : tuple of int
        Index of the element inside the variable (``()`` for a scalar).
    text : str, optional
        The panel's title, when the element has a name from the model's coords
        (``"z_a[county_07]"``); default ``"theta[3]"``.
    kind : {"density", "forest"}
        ``"forest"``: every element in :attr:`elements` in one panel.
    elements : tuple of tuple of int
        A forest panel's elements (indices inside the variable).
    element_labels : tuple of str
        A forest panel's tick labels, one per element (``"county_07"``).
    total : int
        A forest panel's element count before truncation to :data:`MAX_FOREST`.
    """

    variable: str
    index: tuple[int, ...] = ()
    text: str | None = None
    kind: str = "density"
    elements: tuple[tuple[int, ...], ...] = ()
    element_labels: tuple[str, ...] = ()
    total: int = 0

    @property
    def label(self) -> str:
        """``"mu"``, ``"theta[3]"`` or its :attr:`text` (``"z_a[county_07]"``)."""
        if self.text is not None:
            return self.text
        if self.kind == "forest":
            return f"{self.variable}[…]"
        if not self.index:
            return self.variable
        return f"{self.variable}[{', '.join(map(str, self.index))}]"

    @property
    def title(self) -> str:
        """What the panel's title says (a forest panel names its intervals)."""
        if self.kind != "forest":
            return self.label
        title = forest_title(self.variable)
        if self.total > len(self.elements):
            title += f" (first {len(self.elements)} of {self.total})"
        return title


@dataclass
class MarginalAxes:
    """Per-panel axis state carried between frames so live panels do not jump."""

    x: dict[str, StableLimits] = field(default_factory=dict)
    y: dict[str, StableLimits] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget every panel's limits."""
        self.x.clear()
        self.y.clear()


def marginal_panels(
    shapes: Mapping[str, tuple[int, ...]],
    *,
    index: Mapping[str, int | None] | None = None,
    max_elements: int = MAX_ELEMENTS,
    labels: Mapping[str, Sequence[str]] | None = None,
    elements: Mapping[str, Sequence[tuple[int, ...]]] | None = None,
    forest: bool = False,
) -> list[Panel]:
    """The panels to draw for variables of the given shapes.

    Parameters
    ----------
    shapes : mapping of str to tuple of int
        Variable name to shape, in the order to draw.
    index : mapping of str to int, optional
        For variables with more than ``max_elements`` elements, the position (in
        ``elements``; the flat index when all are shown) of the element to show
        (default 0; with ``forest``, no element panel unless given, ``None`` none).
    max_elements : int
        Vector variables up to this size get one panel per element.
    labels : mapping of str to sequence of str, optional
        Per variable, the titles of its shown elements (``"z_a[county_07]"``, from the
        model's coords), aligned with ``elements``; default ``"z_a[7]"``.
    elements : mapping of str to sequence of tuple of int, optional
        Per variable, the elements to show (default all, in C order).
    forest : bool
        Show variables with more than ``max_elements`` elements as one forest panel
        each (all elements, up to :data:`MAX_FOREST`), plus the element ``index``
        picks as a density panel.

    Returns
    -------
    list of Panel

    Examples
    --------
    >>> [p.label for p in marginal_panels({"mu": (), "theta": (3,)})]
    ['mu', 'theta[0]', 'theta[1]', 'theta[2]']
    >>> [p.label for p in marginal_panels({"beta": (20,)}, index={"beta": 7})]
    ['beta[7]']
    >>> [p.kind for p in marginal_panels({"beta": (20,)}, forest=True)]
    ['forest']
    >>> names = {"u": ["u[north]", "u[south]"]}
    >>> [p.label for p in marginal_panels({"u": (2,)}, labels=names)]
    ['u[north]', 'u[south]']
    """
    index = dict(index or {})
    labels = dict(labels or {})
    elements = dict(elements or {})
    panels: list[Panel] = []
    for name, shape in shapes.items():
        shape = tuple(int(s) for s in shape)
        if not shape:
            panels.append(Panel(name, text=(labels.get(name) or [None])[0]))
            continue
        shown = [tuple(int(i) for i in ix) for ix in elements.get(name, np.ndindex(*shape))]
        titles = list(labels.get(name) or [])
        if len(titles) != len(shown):
            titles = [None] * len(shown)
        size = len(shown)
        if size == 0:
            continue
        if size <= max_elements:
            panels.extend(Panel(name, ix, text=t) for ix, t in zip(shown, titles, strict=True))
            continue
        if forest:
            ticks = tuple(_tick(t, name, ix) for ix, t in zip(shown, titles, strict=True))
            panels.append(
                Panel(
                    name,
                    kind="forest",
                    elements=tuple(shown[:MAX_FOREST]),
                    element_labels=ticks[:MAX_FOREST],
                    total=size,
                )
            )
            if index.get(name) is None:
                continue
        flat = min(max(int(index.get(name) or 0), 0), size - 1)
        panels.append(Panel(name, shown[flat], text=titles[flat]))
    return panels


def _tick(title: str | None, name: str, index: tuple[int, ...]) -> str:
    """A forest tick label: the coord part of ``"z_a[county_07]"`` (``"county_07"``)."""
    if title and title.startswith(f"{name}[") and title.endswith("]"):
        return title[len(name) + 1 : -1]
    return ", ".join(map(str, index))


def _column(draws: Mapping[str, np.ndarray], panel: Panel) -> np.ndarray | None:
    arr = draws.get(panel.variable)
    if arr is None:
        return None
    arr = np.asarray(arr, dtype=float)
    if panel.kind == "forest":
        if arr.ndim < 2 or arr.shape[0] < 2 or not panel.elements:
            return None
        idx = tuple(np.asarray(axis) for axis in zip(*panel.elements, strict=True))
        return arr[(slice(None), *idx)]
    col = arr[(slice(None), *panel.index)] if panel.index else arr.reshape(arr.shape[0], -1)[:, 0]
    col = col[np.isfinite(col)]
    return col if col.size >= 2 else None


def fast_kde(x: np.ndarray, grid_len: int = GRID_LEN) -> tuple[np.ndarray, np.ndarray]:
    """A binned Gaussian KDE for live frames: about 0.1 ms instead of ArviZ's ~2 ms.

    Silverman's bandwidth, linear binning on ``grid_len`` points spanning the draws and
    a Gaussian kernel applied by convolution, with reflection at both ends (like
    ArviZ's boundary correction, so a positive variable does not leak below zero).
    The final frame of a fit uses ArviZ's KDE (:func:`marginal_densities`).

    Returns
    -------
    grid, density : numpy.ndarray
        ``density`` integrates to one over ``grid``.
    """
    x = np.asarray(x, dtype=float)
    lo, hi = float(x.min()), float(x.max())
    n = x.size
    std = float(x.std())
    q75, q25 = np.percentile(x, [75, 25])
    spread = min(std, (q75 - q25) / 1.349) or std
    bw = 0.9 * spread * n**-0.2
    grid = np.linspace(lo, hi, grid_len)
    dx = grid[1] - grid[0]
    # linear binning
    pos = (x - lo) / dx
    i = np.clip(np.floor(pos).astype(int), 0, grid_len - 2)
    w = pos - i
    counts = np.bincount(i, 1.0 - w, minlength=grid_len) + np.bincount(
        i + 1, w, minlength=grid_len
    )
    half = min(max(math.ceil(4.0 * bw / dx), 1), grid_len - 1)
    taps = np.arange(-half, half + 1) * dx / bw
    kernel = np.exp(-0.5 * taps**2)
    pad = half
    padded = np.pad(counts, pad, mode="reflect")
    dens = np.convolve(padded, kernel, mode="same")[pad : pad + grid_len]
    # reflection folds the mass beyond the ends back in: the density integrates to one
    area = float(np.sum(dens) * dx)
    return grid, dens / area if area > 0 else dens


def marginal_densities(
    panels: Sequence[Panel], draws: Mapping[str, np.ndarray], *, fast: bool = False
) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """KDE (ArviZ) of each panel's draws.

    Parameters
    ----------
    panels : sequence of Panel
    draws : mapping of str to numpy.ndarray
        Draws per variable, the draw axis first.
    fast : bool
        Use :func:`fast_kde` (live frames) instead of ArviZ's KDE.

    Returns
    -------
    list
        ``(grid, density)`` per panel, ``None`` where there are no (finite, varying)
        draws; for a forest panel, a :class:`~vibench.plots.forest.ForestSummary`.
    """
    out: list = []
    cols = [_column(draws, p) for p in panels]
    forests = {
        k: forest_summary(c)
        for k, (p, c) in enumerate(zip(panels, cols, strict=True))
        if p.kind == "forest" and c is not None
    }
    cols = [None if p.kind == "forest" else c for p, c in zip(panels, cols, strict=True)]
    if fast:
        dens = [None if c is None or np.ptp(c) <= 0 else fast_kde(c) for c in cols]
        return [forests.get(k, d) for k, d in enumerate(dens)]
    usable = [c for c in cols if c is not None and np.ptp(c) > 0]
    lengths = {c.size for c in usable}
    batched: list[tuple[np.ndarray, np.ndarray]] = []
    if usable and len(lengths) == 1:
        grid, pdf, _ = array_stats.kde(np.stack(usable), grid_len=GRID_LEN)
        batched = list(zip(np.atleast_2d(grid), np.atleast_2d(pdf), strict=True))
    it = iter(batched)
    for k, c in enumerate(cols):
        if k in forests:
            out.append(forests[k])
        elif c is None or np.ptp(c) <= 0:
            out.append(None)
        elif batched:
            out.append(next(it))
        else:
            grid, pdf, _ = array_stats.kde(c, grid_len=GRID_LEN)
            out.append((np.asarray(grid), np.asarray(pdf)))
    return out


def marginals_figure(
    panels: Sequence[Panel],
    densities: Sequence[tuple[np.ndarray, np.ndarray] | None],
    reference: Sequence[tuple[np.ndarray, np.ndarray] | None] | None = None,
    *,
    axes: MarginalAxes | None = None,
    ncols: int = 5,
    panel_size: tuple[float, float] = PANEL_SIZE,
    title: str | None = None,
    show_empty: bool = True,
    legend: bool | None = None,
) -> Figure:
    """Draw one density per panel, the NUTS reference dashed when given.

    Parameters
    ----------
    panels : sequence of Panel
    densities : sequence
        ``(grid, density)`` per panel, or ``None`` (the panel says "no draws"); a
        :class:`~vibench.plots.forest.ForestSummary` for a forest panel (see
        :func:`marginal_densities`).
    reference : sequence, optional
        Reference densities per panel (NUTS), drawn as a dashed grey line (a forest
        panel draws the reference's bars in grey beside q's).
    axes : MarginalAxes, optional
        Axis state from the previous frame; updated in place.
    ncols : int
        Panels per row.
    panel_size : tuple of float
        Size of one panel in inches.
    title : str, optional
        A line above the grid.
    show_empty : bool
        Write "no draws" in panels without a density.
    legend : bool, optional
        Whether to show the q / NUTS legend (default: when a reference density is
        drawn). It sits in the title's row, on the right (below the panels when the
        figure is narrower than three panels).

    Returns
    -------
    matplotlib.figure.Figure
    """
    axes = axes if axes is not None else MarginalAxes()
    ref = list(reference) if reference is not None else [None] * len(panels)
    if legend is None:
        legend = any(r is not None for r in ref)
    layout = panel_layout(panels, ncols=ncols, panel_size=panel_size, title=title, legend=legend)
    width, height, legend_below = layout.width, layout.height, layout.legend_below
    fig = Figure(figsize=(width, height))
    apply_figure_style(fig)
    if title:
        fig.text(
            0.15 / width,
            1 - 0.1 / height,
            title,
            ha="left",
            va="top",
            fontsize=LABEL_SIZE,
            color=TEXT_MUTED,
        )
    if not panels:
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no variables to show", ha="center", color=TEXT_MUTED)
        return fig
    # fixed positions (in inches): a constrained layout costs more than a live frame
    for k, panel in enumerate(panels):
        ax = fig.add_axes(layout.rects[k])
        if panel.kind == "forest":
            summary = densities[k] if isinstance(densities[k], ForestSummary) else None
            other = ref[k] if isinstance(ref[k], ForestSummary) else None
            draw_forest(ax, panel.element_labels, summary, other, title=panel.title)
            limits = forest_limits(summary, other)
            if limits is not None:
                yl = axes.y.setdefault(panel.label, StableLimits(pad=0.06, shrink=0.35))
                ax.set_ylim(*yl.update(*limits))
            elif summary is None and show_empty:
                ax.text(
                    0.5, 0.5, "no draws", transform=ax.transAxes, ha="center", color=TEXT_MUTED
                )
            continue
        apply_axes_style(ax)
        ax.grid(False)
        ax.spines["left"].set_visible(False)
        ax.set_yticks([])
        ax.set_title(panel.title, fontsize=TITLE_SIZE, pad=4)
        xs_lo, xs_hi, ymax = [], [], 0.0
        for dens, style in ((densities[k], "q"), (ref[k], "ref")):
            if dens is None:
                continue
            gx, gy = (np.asarray(a, dtype=float) for a in dens)
            if style == "q":
                ax.fill_between(gx, gy, color=CURRENT, alpha=0.18, linewidth=0)
                ax.plot(gx, gy, color=CURRENT, linewidth=1.4)
            else:
                ax.plot(gx, gy, color=REFERENCE, linewidth=1.1, linestyle="--")
            # the range where the density is visible, not the grid's far tails (the
            # extremes of the draws change from frame to frame; this barely does)
            seen = gx[gy >= 0.01 * np.nanmax(gy)] if gy.size and np.nanmax(gy) > 0 else gx
            xs_lo.append(float(seen.min()))
            xs_hi.append(float(seen.max()))
            ymax = max(ymax, float(np.nanmax(gy)) if gy.size else 0.0)
        if not xs_lo:
            if show_empty:
                ax.text(
                    0.5, 0.5, "no draws", transform=ax.transAxes, ha="center", color=TEXT_MUTED
                )
            continue
        xl = axes.x.setdefault(panel.label, StableLimits(pad=0.1, shrink=0.35))
        yl = axes.y.setdefault(panel.label, StableLimits(pad=0.0, shrink=0.5))
        ax.set_xlim(*xl.update(min(xs_lo), max(xs_hi)))
        ax.set_ylim(0, yl.update(0.0, ymax * 1.08)[1])
        ax.tick_params(axis="x", labelsize=TICK_SIZE)
    if legend:
        fig.legend(
            handles=[
                _line(CURRENT, "-", "q (this fit)"),
                _line(REFERENCE, "--", "NUTS reference"),
            ],
            loc="lower center" if legend_below else "upper right",
            bbox_to_anchor=(0.5, 0.02) if legend_below else (1 - 0.15 / width, 1 - 0.04 / height),
            ncols=2,
            fontsize=LEGEND_SIZE,
            frameon=False,
            labelcolor=TEXT_MUTED,
            borderaxespad=0.0,
        )
    return fig


def forest_limits(*summaries: ForestSummary | None) -> tuple[float, float] | None:
    """The y-range of a forest panel: the ends of every 94 % interval drawn."""
    ranges = [s.range for s in summaries if s is not None]
    if not ranges:
        return None
    return min(r[0] for r in ranges), max(r[1] for r in ranges)


@dataclass(frozen=True)
class PanelLayout:
    """Where each panel's axes sit: ``rects`` in figure fractions, sizes in inches."""

    width: float
    height: float
    rects: list[tuple[float, float, float, float]]
    legend_below: bool


def panel_layout(
    panels: Sequence[Panel],
    *,
    ncols: int = 5,
    panel_size: tuple[float, float] = PANEL_SIZE,
    title: str | None = None,
    legend: bool = False,
) -> PanelLayout:
    """Density panels in a grid of ``ncols``, then one full-width row per forest panel."""
    dens = [p for p in panels if p.kind != "forest"]
    forests = [p for p in panels if p.kind == "forest"]
    gcols = max(1, min(ncols, max(len(dens), 1)))
    cols = max(1, min(ncols, len(panels))) if not forests else max(ncols, 1)
    nrows = math.ceil(len(dens) / gcols) if dens else 0
    width = panel_size[0] * max(cols, gcols)
    legend_below = bool(legend) and width < 3 * panel_size[0]
    head = 0.32 if title or (legend and not legend_below) else 0.0
    title_room, tick_room = 0.3, 0.34
    row_h = max(panel_size[1], title_room + tick_room + 0.3)
    forest_rows = [
        title_room + FOREST_HEIGHT + forest_label_room(p.element_labels) for p in forests
    ]
    height = head + row_h * nrows + sum(forest_rows) + 0.12 + (0.3 if legend_below else 0.0)
    height = max(height, 1.0)
    margin = 0.15
    # density panels keep their width beside forest rows (which set the figure's width)
    slots = max(cols, gcols)
    pw = (width - 2 * margin) / (slots + 0.12 * (slots - 1))
    rects: list[tuple[float, float, float, float]] = []
    d = f = 0
    for p in panels:
        if p.kind == "forest":
            top = head + row_h * nrows + sum(forest_rows[:f]) + title_room
            left, w = 0.55, width - 0.55 - margin
            rects.append(
                (
                    left / width,
                    1 - (top + FOREST_HEIGHT) / height,
                    w / width,
                    FOREST_HEIGHT / height,
                )
            )
            f += 1
        else:
            r, c = divmod(d, gcols)
            top = head + row_h * r + title_room
            ah = row_h - title_room - tick_room
            left = margin + c * pw * 1.12
            rects.append((left / width, 1 - (top + ah) / height, pw / width, ah / height))
            d += 1
    return PanelLayout(width, height, rects, legend_below)


def _line(color: str, style: str, label: str):
    from matplotlib.lines import Line2D

    return Line2D([], [], color=color, linestyle=style, label=label)
