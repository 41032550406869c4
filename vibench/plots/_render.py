"""Figures to PNG bytes, and the placeholder shown before the first fit."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vibench.plots._style import RENDER_DPI, TEXT_MUTED

__all__ = ["figure_to_png", "placeholder_figure", "placeholder_png"]


def figure_to_png(fig: Figure, dpi: float = RENDER_DPI) -> bytes:
    """Render ``fig`` with Agg and return PNG bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure (no pyplot involved).
    dpi : float
        Resolution; the pixel size is ``figsize * dpi``. The default carries two
        device pixels per CSS pixel (``RENDER_DPI``): show the image
        ``figsize * CSS_DPI`` CSS pixels wide.

    Returns
    -------
    bytes
    """
    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor=fig.get_facecolor(), transparent=False)
    return buf.getvalue()


def placeholder_figure(text: str, figsize: tuple[float, float] = (6.0, 3.0)) -> Figure:
    """An empty panel with a centred hint, for plots that have no data yet.

    Parameters
    ----------
    text : str
        The hint, for example ``"Press Fit to see the ELBO"``.
    figsize : tuple of float
        Size in inches.
    """
    fig = Figure(figsize=figsize)
    # transparent, with a mid-grey dashed frame and hint: quiet on light and dark themes
    fig.patch.set_alpha(0.0)
    ax = fig.add_axes((0.01, 0.03, 0.98, 0.94))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.patch.set_alpha(0.0)
    for spine in ax.spines.values():
        spine.set_linestyle((0, (4, 3)))
        spine.set_color(TEXT_MUTED)
    ax.text(0.5, 0.5, text, ha="center", va="center", color=TEXT_MUTED, fontsize=11)
    return fig


def placeholder_png(
    text: str, figsize: tuple[float, float] = (6.0, 3.0), dpi: float = RENDER_DPI
) -> bytes:
    """PNG bytes of :func:`placeholder_figure`."""
    return figure_to_png(placeholder_figure(text, figsize), dpi=dpi)
