"""The ELBO plot: a smoothed line over the raw trace, earlier runs overlaid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from vibench._smoothing import trailing_median
from vibench.plots._limits import StableLimits
from vibench.plots._style import (
    CURRENT,
    CURRENT_RAW,
    LABEL_SIZE,
    LEGEND_SIZE,
    RUN_COLORS,
    TEXT_MUTED,
    TICK_SIZE,
    apply_axes_style,
    apply_figure_style,
)

__all__ = [
    "ELBO_WIDTH",
    "ElboAxes",
    "ElboTrace",
    "elbo_figure",
    "legend_with_note",
    "rolling_median",
    "smooth",
    "x_range",
    "zoomed_on_current",
]

#: Most points drawn per line; longer traces are summarised per bucket.
MAX_POINTS = 600
#: Earlier runs drawn at most (the latest ones).
MAX_OVERLAID = 6
#: A run shorter than this fraction of the longest run shown is "short": it does not set
#: the value axis, and as the current run it gets the iteration axis to itself (a
#: 48-iteration run is not a dot at the left of a 10,000-iteration axis).
SHORT_RUN = 0.25
#: Width of the ELBO plot in inches: ``ELBO_WIDTH * CSS_DPI`` = 960 CSS px, the width
#: of the workbench in a usual JupyterLab notebook (the image scales down when narrower).
ELBO_WIDTH = 10.0
#: The narrowest ELBO plot drawn (inches): a narrower cell scales this one down.
MIN_ELBO_WIDTH = 5.0
# the layout, in inches: the axes keep their height; the legend sits below them and the
# figure grows by one row per two legend entries (it never covers a curve)
_AXES_HEIGHT = 2.3
_TOP = 0.12
_LEFT = 0.8
_RIGHT = 0.75  # room for the value label at the end of the current line
_XAXIS = 0.55  # tick labels and "iteration" under the axes
_LEGEND_ROW = 0.22
#: Legend labels up to this length sit two to a row (longer ones one per row).
_TWO_COLUMNS = 62


@dataclass(frozen=True)
class ElboTrace:
    """One run's ELBO trace, with the label it is shown under.

    Attributes
    ----------
    label : str
        Legend text, usually the run's plan (``"rest: mean_field"``).
    elbo : numpy.ndarray
        ELBO per iteration (higher is better).
    start : int
        Iteration number of the first value (runs that continue a fit start later).
    x : numpy.ndarray, optional
        Iteration number of each value, for a sparse trace (live progress points).
    smoothed : numpy.ndarray, optional
        Smoothed values already computed (for a sparse trace); otherwise the figure
        smooths ``elbo`` itself.
    status : str
        How the run ended (``"failed"`` runs never set the value axis), ``""`` if unknown.
    """

    label: str
    elbo: np.ndarray
    start: int = 0
    x: np.ndarray | None = None
    smoothed: np.ndarray | None = None
    status: str = ""

    @property
    def end(self) -> float:
        """One past the iteration number of the last value (``start`` when empty)."""
        pos = self.positions()
        return float(pos[-1]) + 1 if pos.size else float(self.start)

    def positions(self) -> np.ndarray:
        """Iteration number of every value (``x`` when given, else consecutive)."""
        if self.x is not None:
            return np.asarray(self.x, dtype=float)
        return self.start + np.arange(np.asarray(self.elbo).size, dtype=float)

    def line(self, window: int, max_points: int = 600) -> tuple[np.ndarray, np.ndarray]:
        """The smoothed line to draw, as ``(iteration, value)`` with at most ``max_points``.

        ``smoothed`` when given; otherwise the trailing median of ``elbo`` over ``window``
        iterations (:func:`rolling_median`, the smoothing the status line reports: a
        median, unlike a mean, does not step down and up again by a box the width of
        the window when one noisy draw gives a wild ELBO).
        """
        pos = self.positions()
        if self.smoothed is not None:
            y = np.asarray(self.smoothed, dtype=float)
            idx, yy = _thin(y, max_points)
            return np.interp(idx, np.arange(pos.size), pos), yy
        y = np.asarray(self.elbo, dtype=float)
        idx, _ = _thin(y, max_points)
        at = idx.astype(int)
        return pos[at] if pos.size else pos, rolling_median(y, window, at)


@dataclass
class ElboAxes:
    """Axis state carried from frame to frame so that a live plot does not jump.

    Attributes
    ----------
    y : StableLimits
        Limits of the value axis (in log10 units on a log scale).
    log_scale : bool or None
        The scale the limits were computed for; a change resets them.
    """

    y: StableLimits = field(default_factory=StableLimits)
    log_scale: bool | None = None

    def reset(self) -> None:
        """Forget the limits (a new run, or a Reset)."""
        self.y.reset()
        self.log_scale = None


def smooth(elbo: np.ndarray, window: int = 100) -> np.ndarray:
    """Trailing moving average of ``elbo`` over ``window`` iterations (same length).

    Non-finite values are ignored inside each window.

    Parameters
    ----------
    elbo : numpy.ndarray
        One value per iteration.
    window : int
        Width of the trailing window (values before the start use what exists).

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> smooth(np.array([1.0, 3.0, 5.0, 7.0]), window=2)
    array([1., 2., 4., 6.])
    """
    y = np.asarray(elbo, dtype=float)
    if y.size == 0:
        return y.copy()
    window = max(int(window), 1)
    finite = np.isfinite(y)
    values = np.concatenate([[0.0], np.cumsum(np.where(finite, y, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    idx = np.arange(1, y.size + 1)
    lo = np.maximum(idx - window, 0)
    n = counts[idx] - counts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (values[idx] - values[lo]) / np.maximum(n, 1), np.nan)


def rolling_median(y: np.ndarray, window: int, at: np.ndarray | None = None) -> np.ndarray:
    """The smoothed line: :func:`vibench._smoothing.trailing_median` (one smoothing for
    the plot, the status line and the progress events).

    A trailing median of ``y`` at the indices ``at`` (default all), over a window that
    grows with the trace up to ``window`` values (no kink where it fills). Non-finite
    values are ignored; a window with none gives NaN.

    Examples
    --------
    >>> rolling_median(np.array([1.0, 9.0, 2.0, 3.0, 8.0, 4.0]), window=3).tolist()
    [1.0, 9.0, 2.0, 3.0, 5.5, 6.0]
    """
    return trailing_median(y, window, at)


def _buckets(n: int, max_points: int) -> np.ndarray:
    """Edges of at most ``max_points`` contiguous buckets covering ``range(n)``."""
    k = min(n, max_points)
    return np.linspace(0, n, k + 1).astype(int)


def _envelope(y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bucket centre index, minimum and maximum of the finite values of ``y``."""
    edges = _buckets(y.size, max_points)
    starts = edges[:-1]
    clean = np.where(np.isfinite(y), y, np.nan)
    if y.size <= max_points:
        return np.arange(y.size, dtype=float), clean, clean
    with np.errstate(all="ignore"):
        lo = np.fmin.reduceat(clean, starts)
        hi = np.fmax.reduceat(clean, starts)
    centres = (edges[:-1] + edges[1:] - 1) / 2.0
    return centres, lo, hi


def _thin(y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Every k-th point of ``y`` (always keeping the last), as ``(x, y)``."""
    if y.size <= max_points:
        return np.arange(y.size, dtype=float), y
    idx = np.unique(np.append(np.linspace(0, y.size - 1, max_points).astype(int), y.size - 1))
    return idx.astype(float), y[idx]


def _robust_range(raw: np.ndarray, smoothed: np.ndarray) -> tuple[float, float]:
    """A y-range that ignores the first steep part of a fit and rare spikes."""
    n = raw.size
    r = raw[int(n * 0.1) :] if n >= 10 else raw
    if r.size > 20_000:  # percentiles of an even subsample: the same to the eye, 10x cheaper
        r = r[:: r.size // 20_000]
    s = smoothed[int(smoothed.size * 0.1) :] if smoothed.size >= 10 else smoothed
    r = r[np.isfinite(r)]
    s = s[np.isfinite(s)]
    if r.size == 0 and s.size == 0:
        return (np.nan, np.nan)
    parts_lo, parts_hi = [], []
    if r.size:
        q_lo, q_hi = np.percentile(r, [2.0, 99.5])
        parts_lo.append(q_lo)
        parts_hi.append(q_hi)
    if s.size:
        parts_lo.append(float(s.min()))
        parts_hi.append(float(s.max()))
    return float(min(parts_lo)), float(max(parts_hi))


def _values(elbo: np.ndarray, log_scale: bool) -> np.ndarray:
    """ELBO on the linear scale; ``log10(-ELBO)`` (the loss) on the log scale."""
    y = np.asarray(elbo, dtype=float)
    if not log_scale:
        return y
    with np.errstate(all="ignore"):
        loss = -y
        return np.where(loss > 0, np.log10(np.where(loss > 0, loss, 1.0)), np.nan)


def zoomed_on_current(
    current: ElboTrace | None, previous: Sequence[ElboTrace], total: int | None = None
) -> bool:
    """Whether the iteration axis spans the current run alone: it is short next to the others.

    The current run's length is the iterations it is asked for (``total``) when given.
    Alone on the plot, a run that continues a fit (``start > 0``) has the axis to itself
    too (its earlier part is not shown).
    """
    if current is None:
        return False
    ends = [t.end for t in previous if np.asarray(t.elbo).size]
    if not ends:
        return current.start > 0
    span = max(current.end, current.start + (total or 0)) - current.start
    return span < SHORT_RUN * max(ends)


def x_range(
    current: ElboTrace | None, previous: Sequence[ElboTrace], total: int | None = None
) -> tuple[float, float]:
    """The iteration axis: every shown run, or the current run alone when it is short.

    Examples
    --------
    >>> long = ElboTrace("long", np.zeros(10_000))
    >>> x_range(ElboTrace("short", np.zeros(48)), [long])
    (0.0, 48.0)
    >>> x_range(ElboTrace("more", np.zeros(5_000)), [long])
    (0.0, 10000.0)
    """
    if current is not None and zoomed_on_current(current, previous, total):
        end = max(current.end, current.start + (total or 0))
        return (float(current.start), max(end, current.start + 1.0))
    hi = max([t.end for t in previous if np.asarray(t.elbo).size], default=1.0)
    if current is not None:
        hi = max(hi, current.end, current.start + (total or 0))
    return (0.0, float(hi))


def _padded(xlim: tuple[float, float]) -> tuple[float, float]:
    return (xlim[0], xlim[1] + 0.02 * (xlim[1] - xlim[0]))


def elbo_figure(
    current: ElboTrace | None,
    previous: Sequence[ElboTrace] = (),
    *,
    log_scale: bool = False,
    window: int = 100,
    total: int | None = None,
    axes: ElboAxes | None = None,
    figsize: tuple[float, float] = (ELBO_WIDTH, 3.2),
    ylabel: str = "ELBO",
    note: str = "",
) -> Figure:
    """Draw the ELBO of the current run over its raw trace, earlier runs overlaid.

    Parameters
    ----------
    current : ElboTrace or None
        The run being fitted or the latest run; its raw trace is a light band (the
        per-bucket minimum and maximum) under its smoothed line.
    previous : sequence of ElboTrace
        Earlier runs, drawn as thin smoothed lines labelled by their plan (at most the
        last :data:`MAX_OVERLAID`).
    log_scale : bool
        Plot the loss ``-ELBO`` on a log axis instead of the ELBO (values where the
        ELBO is positive are left out).
    window : int
        Smoothing window, in iterations.
    total : int or None
        Iterations the current run is asked for; fixes the x-axis while it runs.
    axes : ElboAxes or None
        Axis state from the previous frame, so live frames do not jump; updated in place.
    figsize : tuple of float
        Size in inches; the height grows with the legend below the axes (the axes
        keep their height).
    ylabel : str
        What the traces are: ``"ELBO"``, or for particle (SVGD) runs ``"mean log p of
        the particles"`` (``vibench.session.trace_label``). Traces of different kinds
        are not comparable: pass only traces of this kind.
    note : str
        A short line written in italics as the legend's last entry (e.g. which runs
        are not shown).

    Returns
    -------
    matplotlib.figure.Figure
    """
    axes = axes if axes is not None else ElboAxes()
    if axes.log_scale is not None and axes.log_scale != log_scale:
        axes.reset()
    axes.log_scale = log_scale
    fig = Figure(figsize=figsize)
    apply_figure_style(fig)
    # fixed margins (set with the legend): a constrained layout costs more than a frame
    ax = fig.add_subplot()
    apply_axes_style(ax)
    overlaid = list(previous)[-MAX_OVERLAID:]
    if current is not None and not current.elbo.size:
        current = None
    xlim = x_range(current, overlaid, total if current is not None else None)
    lo_hi: tuple[float, float] = (np.nan, np.nan)
    if current is not None:
        raw = _values(current.elbo, log_scale)
        xs, sm = current.line(window, MAX_POINTS)
        sm = _values(sm, log_scale)
        lo_hi = _robust_range(raw, sm)
    # the earlier runs stay on the plot (a continued fit does not zoom them away), but
    # only the part inside the iteration axis, and no short or failed run, sets the range
    longest = _longest(current, total) if current is not None else None
    lo_hi = _union(lo_hi, previous_range(overlaid, window, log_scale, xlim, longest))
    ylo, yhi = axes.y.update(*lo_hi)
    ylim = (ylo, yhi) if np.isfinite(lo_hi[0]) else None
    _plot_previous_runs(ax, overlaid, window, log_scale, xlim=xlim, ylim=ylim)
    if current is not None:
        pos = current.positions()
        at = np.arange(pos.size)
        xc, lo, hi = _envelope(raw, MAX_POINTS)
        ax.fill_between(np.interp(xc, at, pos), lo, hi, color=CURRENT_RAW, alpha=0.55, linewidth=0)
        ys = sm
        ax.plot(xs, ys, color=CURRENT, linewidth=2.0, label=_short(current.label))
        last = ys[np.isfinite(ys)]
        if last.size:
            shown = 10 ** last[-1] if log_scale else last[-1]
            ax.annotate(
                f"{shown:.4g}",
                xy=(xs[np.isfinite(ys)][-1], last[-1]),
                xytext=(4, 0),
                textcoords="offset points",
                fontsize=TICK_SIZE,
                color=CURRENT,
                va="center",
            )
    ax.set_xlim(*_padded(xlim))
    if ylim is not None:
        ax.set_ylim(*ylim)
    if log_scale:
        ax.yaxis.set_major_formatter(_pow10_formatter())
    ax.set_ylabel(axis_label(ylabel, log_scale), fontsize=LABEL_SIZE, color=TEXT_MUTED)
    ax.set_xlabel("iteration", fontsize=LABEL_SIZE, color=TEXT_MUTED)
    if current is None and not overlaid:
        ax.text(0.5, 0.5, "no runs yet", transform=ax.transAxes, ha="center", color=TEXT_MUTED)
    handles, labels = ax.get_legend_handles_labels()
    legend_with_note(ax, handles, labels, note)
    return fig


def axis_label(ylabel: str, log_scale: bool) -> str:
    """The value axis's label: ``"ELBO"``, or ``"−ELBO (log scale)"`` on a log scale."""
    if not log_scale:
        return ylabel
    return f"−{ylabel} (log scale)" if " " not in ylabel else f"−({ylabel}), log scale"


def _longest(current: ElboTrace, total: int | None) -> float:
    """The current run's length for :data:`SHORT_RUN`: what it is asked for, when known."""
    return float(max(np.asarray(current.elbo).size, total or 0))


def _visible(
    t: ElboTrace, window: int, log_scale: bool, xlim: tuple[float, float] | None
) -> np.ndarray:
    """The finite values of ``t``'s smoothed line inside ``xlim`` (all when ``None``)."""
    lx, ly = t.line(window, MAX_POINTS)
    y = _values(ly, log_scale)
    if xlim is not None:
        y = y[(lx >= xlim[0]) & (lx <= xlim[1])]
    return y[np.isfinite(y)]


def previous_range(
    previous: Sequence[ElboTrace],
    window: int,
    log_scale: bool,
    xlim: tuple[float, float] | None = None,
    longest: float | None = None,
) -> tuple[float, float]:
    """The value range of earlier runs' smoothed lines (after the first tenth shown).

    Only the part inside ``xlim`` counts. Failed runs and short ones (fewer values than
    :data:`SHORT_RUN` times the longest run, ``longest`` being the current run's
    length) do not count: they would flatten the others (drawn, they may leave the
    axes). When no current run is given and every run is short or failed, all count.
    """
    sizes = [np.asarray(t.elbo).size for t in previous]
    top = max([*sizes, longest or 0.0], default=0.0)
    main = [
        t
        for t, n in zip(previous, sizes, strict=True)
        if t.status != "failed" and n >= SHORT_RUN * top
    ]
    if not main and longest is None:
        main = list(previous)
    parts = []
    for t in main:
        y = _visible(t, window, log_scale, xlim)
        y = y[int(y.size * 0.1) :]
        if y.size:
            parts += [float(y.min()), float(y.max())]
    if not parts:
        return (np.nan, np.nan)
    return (min(parts), max(parts))


def _union(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    lo = [v for v in (a[0], b[0]) if np.isfinite(v)]
    hi = [v for v in (a[1], b[1]) if np.isfinite(v)]
    if not lo or not hi:
        return (np.nan, np.nan)
    return (min(lo), max(hi))


def legend_with_note(ax, handles: list, labels: list[str], note: str = "") -> None:
    """The legend below the axes: one entry per line, then ``note`` in italics.

    The figure is resized so that the axes keep their height and the legend (two
    entries a row, one when a label is long) fits under them in full: it never covers
    a curve and no label is cut. The note says which runs the plot leaves out (ELBO and
    particle traces are not comparable).
    """
    handles, labels = list(handles), list(labels)
    if note:
        handles.append(Line2D([], [], linestyle="none"))
        labels.append(note)
    # a narrower figure (a narrow cell) holds fewer characters a row
    scale = min(float(ax.figure.get_size_inches()[0]) / ELBO_WIDTH, 1.0)
    labels = [_short(t, max(int(110 * scale), 40)) for t in labels]
    ncols = 2 if all(len(t) <= _TWO_COLUMNS * scale for t in labels) else 1
    rows = -(-len(labels) // ncols)
    _layout(ax.figure, rows)
    if not handles:
        return
    below = -_XAXIS / _AXES_HEIGHT
    legend = ax.legend(
        handles,
        labels,
        fontsize=LEGEND_SIZE,
        loc="upper left",
        bbox_to_anchor=(-0.01, below),
        ncols=ncols,
        frameon=False,
        labelcolor=TEXT_MUTED,
        handlelength=1.8,
        columnspacing=2.0,
        borderaxespad=0.0,
        borderpad=0.0,
    )
    if note:
        legend.get_texts()[-1].set_fontstyle("italic")


def _layout(fig: Figure, legend_rows: int) -> None:
    """Size ``fig`` (its width kept) for axes of a fixed height and the legend rows below."""
    width = float(fig.get_size_inches()[0])
    legend = legend_rows * _LEGEND_ROW + (0.1 if legend_rows else 0.0)
    height = _TOP + _AXES_HEIGHT + _XAXIS + legend
    if abs(float(fig.get_size_inches()[1]) - height) > 1e-6:
        fig.set_size_inches(width, height, forward=False)
    fig.subplots_adjust(
        left=_LEFT / width,
        right=1 - _RIGHT / width,
        top=1 - _TOP / height,
        bottom=(_XAXIS + legend) / height,
    )


def _plot_previous_runs(
    ax,
    previous,
    window: int,
    log_scale: bool,
    *,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
) -> float:
    """Draw earlier runs' smoothed ELBO lines, labelled by plan; return the x range used.

    A run with no value inside ``xlim`` x ``ylim`` says so in its legend entry
    ("off the axes"): it is hidden by the limits, not missing.
    """
    xmax = 1.0
    for i, tr in enumerate(previous):
        lx, ly = tr.line(window, MAX_POINTS)
        y = _values(ly, log_scale)
        if y.size == 0:
            continue
        label = _short(tr.label)
        if ylim is not None:
            seen = _visible(tr, window, log_scale, xlim)
            if not ((seen >= ylim[0]) & (seen <= ylim[1])).any():
                label = _short(tr.label, 96) + " (off the axes)"
        ax.plot(
            lx,
            y,
            color=RUN_COLORS[i % len(RUN_COLORS)],
            linewidth=1.2,
            alpha=0.85,
            label=label,
        )
        xmax = max(xmax, float(lx[-1]) + 1)
    return xmax


def _short(label: str, limit: int = 110) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _pow10_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{10**v:.3g}")
