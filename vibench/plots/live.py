"""Cheap live frames of the ELBO plot: the axes are drawn once, the lines every frame.

A live plot refreshes several times a second while the fit runs on the same CPU, so a
frame must cost a few milliseconds, not the ~50 ms of a full Matplotlib redraw. Because
the axis limits are stable (:class:`~vibench.plots.StableLimits`), the background (axes,
ticks, grid, earlier runs, legend) is rendered once and reused ("blitting"); a frame
only draws the current run's band, line and value label over it.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import ScalarFormatter
from PIL import Image

from vibench.plots._limits import StableLimits
from vibench.plots._style import (
    CURRENT,
    CURRENT_RAW,
    LABEL_SIZE,
    RENDER_DPI,
    TEXT_MUTED,
    TICK_SIZE,
    apply_axes_style,
    apply_figure_style,
)
from vibench.plots.elbo import (
    ELBO_WIDTH,
    MAX_OVERLAID,
    ElboAxes,
    ElboTrace,
    _envelope,
    _layout,
    _longest,
    _padded,
    _plot_previous_runs,
    _pow10_formatter,
    _robust_range,
    _short,
    _union,
    _values,
    axis_label,
    legend_with_note,
    previous_range,
    zoomed_on_current,
)
from vibench.plots.forest import FOREST_SHIFT, ForestSummary, forest_artists, set_forest
from vibench.plots.marginals import (
    PANEL_SIZE,
    MarginalAxes,
    Panel,
    forest_limits,
    marginals_figure,
)

__all__ = ["LiveElboPlot", "LiveMarginalsPlot", "rgba_to_jpeg", "rgba_to_png"]

#: Buckets of the raw-trace band in a live frame (a polygon of twice as many points):
#: about 4 CSS px each on a full-width plot.
BAND_POINTS = 200
#: Points of the live smoothed line (the final figure draws ``MAX_POINTS``): enough
#: for a plot ~1000 px wide, and half the drawing time of a live frame.
LIVE_LINE_POINTS = 300


def rgba_to_png(
    rgba: memoryview | bytes, size: tuple[int, int], *, palette: bool = False
) -> bytes:
    """Encode an RGBA buffer as PNG quickly (fast zlib level, no alpha).

    With ``palette=True`` (live frames) the image is reduced to 64 colours first: an
    indexed PNG skips the per-row filter search that dominates RGB encoding, so it is
    about twice as fast and half the bytes; the last frame of a fit is full colour.
    """
    img = Image.frombuffer("RGBA", size, rgba, "raw", "RGBA", 0, 1).convert("RGB")
    if palette:
        img = img.quantize(64, method=Image.Quantize.FASTOCTREE)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def rgba_to_jpeg(rgba: memoryview | bytes, size: tuple[int, int], quality: int = 88) -> bytes:
    """Encode an RGBA buffer as JPEG: the live frames' format.

    At two device pixels per CSS pixel a PNG of a plot costs 15-25 ms to encode (the
    pixels quadruple), more than a live frame may take; a JPEG costs 2-3 ms (the RGBA
    buffer is read as RGBX: no conversion). Chroma is sampled at half resolution, which
    is the displayed (CSS) resolution, so at the displayed size no artefact is visible.
    The final frame of a fit, which stays in the saved notebook, is a PNG.
    """
    img = Image.frombuffer("RGBX", size, rgba, "raw", "RGBX", 0, 1)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, subsampling=2)
    return buf.getvalue()


def encode_frame(rgba: memoryview | bytes, size: tuple[int, int], *, live: bool) -> bytes:
    """A live frame as JPEG (cheap), a final frame as PNG (exact, kept in the notebook)."""
    return rgba_to_jpeg(rgba, size) if live else rgba_to_png(rgba, size)


def image_format(data: bytes) -> str:
    """``"png"`` or ``"jpeg"``, from the first bytes of an encoded image."""
    return "jpeg" if data[:2] == b"\xff\xd8" else "png"


def _nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is >= ``x``.

    The x-axis of a live run grows in these steps (a few background redraws per run)
    instead of spanning all the iterations asked for from the first frame.
    """
    p = 10 ** np.floor(np.log10(max(x, 1.0)))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * p >= x:
            return float(m * p)
    return float(10 * p)


def _close_limits(old: tuple, new: tuple) -> bool:
    """Whether live frames can keep the ``old`` panel limits for data wanting ``new``.

    Yes when every panel's new x-range is within the old one widened by a fifth of its
    width on each side and its new density top within 0.6-1.3 times the old one: the
    curve overflows a little for a moment and no redraw (~80 ms) is paid for it.
    """
    if len(old) != len(new):
        return False
    for a, b in zip(old, new, strict=True):
        if a is None or b is None:
            if a is not b:
                return False
            continue
        if a[0] == "forest" or b[0] == "forest":
            # a forest panel's y-range: keep it while the bars stay within a tenth more
            if a[0] != b[0]:
                return False
            (y0, y1), (m0, m1) = a[1], b[1]
            slack = 0.1 * (y1 - y0)
            if m0 < y0 - slack or m1 > y1 + slack or (m1 - m0) < 0.6 * (y1 - y0):
                return False
            continue
        (x0, x1), top = a
        (n0, n1), ntop = b
        slack = 0.2 * (x1 - x0)
        if n0 < x0 - slack or n1 > x1 + slack or not 0.6 * top <= ntop <= 1.3 * top:
            return False
    return True


class LiveElboPlot:
    """An ELBO figure that re-renders only what changed between frames.

    Parameters
    ----------
    figsize : tuple of float
        Size in inches (the height follows the legend, as in
        :func:`~vibench.plots.elbo_figure`).
    dpi : float
        Pixels per inch (two device pixels per CSS pixel by default).

    Examples
    --------
    >>> plot = LiveElboPlot()
    >>> jpeg = plot.frame(ElboTrace("run", -np.linspace(50.0, 10.0, 300)), total=1000)
    >>> jpeg[:2] == b"\\xff\\xd8"
    True
    """

    def __init__(
        self, figsize: tuple[float, float] = (ELBO_WIDTH, 3.2), dpi: float = RENDER_DPI
    ) -> None:
        self.fig = Figure(figsize=figsize, dpi=dpi)
        apply_figure_style(self.fig)
        _layout(self.fig, 1)
        self.canvas = FigureCanvasAgg(self.fig)
        self.ax = self.fig.add_subplot()
        apply_axes_style(self.ax)
        # generous padding: a rising ELBO stays inside the limits for a while
        self.axes = ElboAxes(y=StableLimits(pad=0.15, shrink=0.25))
        self._key: tuple | None = None
        self._background = None
        self._moving: tuple | None = None
        self._previous_range: tuple[tuple, tuple[float, float]] | None = None
        #: Full background redraws so far (a test hook: most frames must not need one).
        self.redraws = 0

    def reset(self) -> None:
        """Forget the axis limits and the cached background (a new run or a Reset)."""
        self.axes.reset()
        self._key = None
        self._background = None

    def _draw_background(
        self,
        previous: Sequence[ElboTrace],
        label: str,
        log_scale: bool,
        window: int,
        xlim: tuple[float, float],
        ylim: tuple[float, float] | None,
        ylabel: str = "ELBO",
        note: str = "",
    ) -> None:
        ax = self.ax
        # keep the axes (re-creating ticks is most of a full redraw's cost): only the
        # earlier runs' lines and the legend are replaced
        moving = self._moving or ()
        for artist in [*ax.lines, *ax.collections, *ax.texts, *ax.patches]:
            if not any(artist is m for m in moving):
                artist.remove()
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        _plot_previous_runs(ax, previous, window, log_scale, xlim=xlim, ylim=ylim)
        ax.set_xlim(*xlim)
        if ylim is not None:
            ax.set_ylim(*ylim)
        if log_scale:
            ax.yaxis.set_major_formatter(_pow10_formatter())
        else:
            ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.set_ylabel(axis_label(ylabel, log_scale), fontsize=LABEL_SIZE, color=TEXT_MUTED)
        ax.set_xlabel("iteration", fontsize=LABEL_SIZE, color=TEXT_MUTED)
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], color=CURRENT, linewidth=2.0))
        labels.append(_short(label))
        legend_with_note(ax, handles, labels, note)
        self.canvas.draw()
        self._background = self.canvas.copy_from_bbox(self.fig.bbox)
        self.redraws += 1

    def frame(
        self,
        current: ElboTrace,
        previous: Sequence[ElboTrace] = (),
        *,
        log_scale: bool = False,
        window: int = 100,
        total: int | None = None,
        ylabel: str = "ELBO",
        note: str = "",
    ) -> bytes:
        """Render one frame and return PNG bytes.

        Parameters are those of :func:`~vibench.plots.elbo_figure`; the background is
        rebuilt only when the limits, the scale, the labels or the earlier runs change.
        """
        if self.axes.log_scale is not None and self.axes.log_scale != log_scale:
            self.axes.reset()
        self.axes.log_scale = log_scale
        previous = list(previous)[-MAX_OVERLAID:]
        raw = _values(current.elbo, log_scale)
        xs, sm = current.line(window, LIVE_LINE_POINTS)
        sm = _values(sm, log_scale)
        pos = current.positions()
        end = float(pos[-1]) + 1 if pos.size else 1.0
        # the x-axis spans the whole run, or, while less than 1/20 of a long run is done,
        # grows in a few big steps (each step redraws the background)
        done = end - current.start
        xmax = _nice_ceiling(max(4.0 * done, 1000.0)) + current.start
        if total:
            full = float(current.start + total)
            xmax = full if 20.0 * done >= total else min(xmax, full)
        xmax = max(xmax, end)
        # a short run (next to long earlier ones) gets the axis to itself; otherwise the
        # earlier runs stay on the plot (a continued fit does not zoom them away)
        zoomed = zoomed_on_current(current, previous, total)
        x0 = float(current.start) if zoomed else 0.0
        if not zoomed:
            for tr in previous:
                if np.asarray(tr.elbo).size:
                    xmax = max(xmax, tr.end)
        xlim = _padded((x0, xmax))
        lo_hi = _robust_range(raw, sm) if raw.size else (np.nan, np.nan)
        runs = tuple((t.label, t.start, np.asarray(t.elbo).size) for t in previous)
        # the earlier runs' range (the part on the axis; short or failed runs left out)
        # is computed once per set of runs and axis
        longest = _longest(current, total)
        cache = (runs, log_scale, window, xlim, longest)
        if self._previous_range is None or self._previous_range[0] != cache:
            self._previous_range = (
                cache,
                previous_range(previous, window, log_scale, xlim, longest),
            )
        lo_hi = _union(lo_hi, self._previous_range[1])
        ylim = self.axes.y.update(*lo_hi) if np.isfinite(lo_hi[0]) else None
        key = (
            log_scale,
            tuple(round(v, 6) for v in xlim),
            ylim,
            current.label,
            runs,
            ylabel,
            note,
        )
        if key != self._key or self._background is None:
            self._draw_background(
                previous, current.label, log_scale, window, xlim, ylim, ylabel, note
            )
            self._key = key
        self.canvas.restore_region(self._background)
        ax = self.ax
        band, line, value = self._moving_artists()
        artists = []
        if raw.size:
            at = np.arange(pos.size)
            xc, lo, hi = _envelope(raw, BAND_POINTS)
            xb = np.interp(xc, at, pos)
            keep = np.isfinite(lo) & np.isfinite(hi)
            if keep.any():
                xb, lo, hi = xb[keep], lo[keep], hi[keep]
                band.set_xy(np.column_stack([np.r_[xb, xb[::-1]], np.r_[lo, hi[::-1]]]))
                artists.append(band)
            ys = sm
            line.set_data(xs, ys)
            artists.append(line)
            finite = np.isfinite(ys)
            if finite.any():
                yv = ys[finite][-1]
                shown = 10**yv if log_scale else yv
                value.set_text(f"{shown:.4g}")
                value.xy = (xs[finite][-1], yv)
                artists.append(value)
        for a in artists:
            a.set_visible(True)
            ax.draw_artist(a)
            a.set_visible(False)  # never part of a background
        size = self.canvas.get_width_height()
        return encode_frame(self.canvas.buffer_rgba(), size, live=True)

    def _moving_artists(self) -> tuple:
        """The current run's band, line and value label: made once, moved every frame."""
        if self._moving is None:
            ax = self.ax
            (band,) = ax.fill([0, 1], [0, 0], color=CURRENT_RAW, alpha=0.55, linewidth=0)
            # no anti-aliasing: at two pixels per CSS pixel the browser's downscaling
            # smooths the edges, and the band costs a third less to draw
            band.set_antialiased(False)
            (line,) = ax.plot([], [], color=CURRENT, linewidth=2.0)
            value = ax.annotate(
                "",
                xy=(0, 0),
                xytext=(4, 0),
                textcoords="offset points",
                fontsize=TICK_SIZE,
                color=CURRENT,
                va="center",
                annotation_clip=False,
            )
            for a in (band, line, value):
                a.set_visible(False)
            self._moving = (band, line, value)
        return self._moving


class LiveMarginalsPlot:
    """Marginal panels whose axes are drawn once and whose densities are redrawn per frame.

    The background (panels, titles, ticks, the reference densities and the legend) is
    rebuilt only when the panels, the reference or a panel's limits change; limits are
    kept stable by :class:`~vibench.plots.MarginalAxes`.

    Parameters
    ----------
    ncols : int
        Panels per row.
    panel_size : tuple of float
        Size of one panel in inches.
    dpi : float
        Pixels per inch.
    """

    def __init__(
        self,
        ncols: int = 5,
        panel_size: tuple[float, float] = PANEL_SIZE,
        dpi: float = RENDER_DPI,
    ) -> None:
        self.ncols = ncols
        self.panel_size = panel_size
        self.dpi = dpi
        self.axes = MarginalAxes()
        self.fig: Figure | None = None
        self.canvas: FigureCanvasAgg | None = None
        self._key: tuple | None = None
        self._background = None
        self._redrawn_at = float("-inf")
        self._artists: list = []
        #: Seconds live frames keep the limits after a redraw.
        self.min_redraw_interval = 2.0
        #: Full background redraws so far (a test hook).
        self.redraws = 0

    def reset(self) -> None:
        """Forget the limits and the cached background."""
        self.axes.reset()
        self._key = None
        self._background = None

    def frame(
        self,
        panels: Sequence[Panel],
        densities: Sequence[tuple[np.ndarray, np.ndarray] | None],
        reference: Sequence[tuple[np.ndarray, np.ndarray] | None] | None = None,
        *,
        title: str | None = None,
        live: bool = False,
        overlays: Sequence[tuple[str, Sequence]] = (),
    ) -> bytes:
        """Render one frame and return PNG bytes (see :func:`~vibench.plots.marginals_figure`).

        With ``live=True`` (frames during a fit) the axes keep their limits for at least
        :attr:`min_redraw_interval` seconds after a redraw (a redraw costs several
        frames' worth of time; a curve may overflow its panel for a moment meanwhile).

        ``overlays`` are earlier runs' densities, ``(colour, densities per panel)``,
        drawn as thin lines in the background (density panels only; pass the same list
        object from frame to frame, a new one redraws the background).
        """
        limits: list = []
        for k, panel in enumerate(panels):
            if panel.kind == "forest":
                got = densities[k] if isinstance(densities[k], ForestSummary) else None
                other = reference[k] if reference is not None else None
                span = forest_limits(got, other if isinstance(other, ForestSummary) else None)
                if got is None or span is None:
                    limits.append(None)
                    continue
                yl = self.axes.y.setdefault(panel.label, StableLimits(pad=0.06, shrink=0.35))
                limits.append(("forest", yl.update(*span)))
                continue
            xs, ymax = [], 0.0
            extra = [o[1][k] for o in overlays if k < len(o[1])]
            for dens in (densities[k], reference[k] if reference is not None else None, *extra):
                if dens is None or isinstance(dens, ForestSummary):
                    continue
                gx, gy = (np.asarray(a, dtype=float) for a in dens)
                peak = float(np.nanmax(gy)) if gy.size else 0.0
                seen = gx[gy >= 0.01 * peak] if peak > 0 else gx
                xs += [float(seen.min()), float(seen.max())]
                ymax = max(ymax, peak)
            if not xs:
                limits.append(None)
                continue
            xl = self.axes.x.setdefault(panel.label, StableLimits(pad=0.1, shrink=0.35))
            yl = self.axes.y.setdefault(panel.label, StableLimits(pad=0.0, shrink=0.4))
            limits.append((xl.update(min(xs), max(xs)), yl.update(0.0, ymax * 1.5)[1]))
        layout = (
            tuple(p.label for p in panels),
            None if reference is None else id(reference),
            title,
            tuple(id(o[1]) for o in overlays),
        )
        key = (layout, tuple(limits))
        now = time.perf_counter()
        if self._key is not None and self._key[0] == layout and self.fig is not None:
            recent = live and (
                now - self._redrawn_at < self.min_redraw_interval
                or _close_limits(self._key[1], key[1])
            )
            if self._background is None or (key != self._key and not recent):
                # same panels: move the limits of the existing axes (a new figure costs
                # several times more than redrawing this one)
                self._set_limits(limits)
                self._key = key
                self._redrawn_at = now
        elif key != self._key or self._background is None:
            self._draw_background(panels, limits, reference, title, overlays)
            self._key = key
            self._redrawn_at = now
        assert self.canvas is not None
        assert self.fig is not None
        self.canvas.restore_region(self._background)
        # one line and one filled polygon per panel (three collections per forest),
        # made once per figure and only moved here (making artists is most of a blit
        # frame's cost)
        for (ax, line, area), dens, lim in zip(self._artists, densities, limits, strict=False):
            if dens is None or lim is None:
                continue
            if lim[0] == "forest":
                set_forest(line, dens)
                for a in line[:3]:
                    a.set_visible(True)
                    ax.draw_artist(a)
                    a.set_visible(False)
                continue
            gx, gy = (np.asarray(a, dtype=float) for a in dens)
            line.set_data(gx, gy)
            area.set_xy(np.column_stack([np.r_[gx, gx[::-1]], np.r_[gy, np.zeros_like(gy)]]))
            for a in (area, line):
                a.set_visible(True)
                ax.draw_artist(a)
                a.set_visible(False)  # never part of a background
        return encode_frame(self.canvas.buffer_rgba(), self.canvas.get_width_height(), live=live)

    def _set_limits(self, limits: list) -> None:
        assert self.fig is not None
        assert self.canvas is not None
        for ax, lim in zip(self.fig.axes, limits, strict=False):
            _apply_limits(ax, lim)
        self.canvas.draw()
        self._background = self.canvas.copy_from_bbox(self.fig.bbox)
        self.redraws += 1

    def _draw_background(
        self,
        panels: Sequence[Panel],
        limits: list,
        reference: Sequence[tuple[np.ndarray, np.ndarray] | None] | None,
        title: str | None,
        overlays: Sequence[tuple[str, Sequence]] = (),
    ) -> None:
        fig = marginals_figure(
            panels,
            [None] * len(panels),
            reference,
            ncols=self.ncols,
            panel_size=self.panel_size,
            title=title,
            show_empty=False,
        )
        for ax, lim in zip(fig.axes, limits, strict=False):
            _apply_limits(ax, lim)
        _draw_overlays(fig, panels, overlays)
        fig.set_dpi(self.dpi)
        self.fig = fig
        self.canvas = FigureCanvasAgg(fig)
        self._artists = []
        for k, (ax, panel) in enumerate(zip(fig.axes, panels, strict=False)):
            if panel.kind == "forest":
                beside = reference is not None and reference[k] is not None
                shift = -FOREST_SHIFT if beside else 0.0
                artists = forest_artists(ax, CURRENT, shift)
                for a in artists[:3]:
                    a.set_visible(False)
                self._artists.append((ax, artists, None))
                continue
            (line,) = ax.plot([], [], color=CURRENT, linewidth=1.4, visible=False)
            (area,) = ax.fill([0, 1], [0, 0], color=CURRENT, alpha=0.18, linewidth=0)
            area.set_visible(False)
            self._artists.append((ax, line, area))
        self.canvas.draw()
        self._background = self.canvas.copy_from_bbox(fig.bbox)
        self.redraws += 1


def _draw_overlays(fig: Figure, panels: Sequence[Panel], overlays) -> None:
    """Earlier runs' densities as thin solid lines in their ELBO-plot colours."""
    for colour, dens_list in overlays:
        for ax, panel, dens in zip(fig.axes, panels, dens_list, strict=False):
            if panel.kind == "forest" or dens is None or isinstance(dens, ForestSummary):
                continue
            gx, gy = (np.asarray(a, dtype=float) for a in dens)
            ax.plot(gx, gy, color=colour, linewidth=1.0, alpha=0.9)


def _apply_limits(ax, lim) -> None:
    """Set a panel's limits: ``(xlim, ymax)``, or ``("forest", ylim)`` for a forest."""
    if lim is None:
        return
    if lim[0] == "forest":
        ax.set_ylim(*lim[1])
        return
    ax.set_xlim(*lim[0])
    ax.set_ylim(0, lim[1])
