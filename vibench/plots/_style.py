"""Colours and sizes shared by the plots (no global rcParams are touched)."""

from __future__ import annotations

from matplotlib.figure import Figure

__all__ = [
    "CSS_DPI",
    "PIXEL_RATIO",
    "RENDER_DPI",
    "RUN_COLORS",
    "apply_axes_style",
    "apply_figure_style",
    "css_width",
]

#: CSS pixels per inch (the CSS definition): a figure ``w`` inches wide is shown
#: ``w * CSS_DPI`` CSS pixels wide, so a 9 pt label reads as 12 CSS px, like the UI text.
CSS_DPI = 96
#: Device pixels per CSS pixel the images carry: sharp on HiDPI screens and projectors.
PIXEL_RATIO = 2
#: The resolution figures are rendered at.
RENDER_DPI = CSS_DPI * PIXEL_RATIO
#: Font sizes in points (at CSS scale): tick labels, axis labels and legends, titles.
TICK_SIZE = 9
LABEL_SIZE = 10
LEGEND_SIZE = 9
TITLE_SIZE = 10

BACKGROUND = "#ffffff"
TEXT = "#1f2328"
TEXT_MUTED = "#6e7781"
GRID = "#e6e8eb"
CURRENT = "#1f6feb"
CURRENT_RAW = "#9cc3ff"
REFERENCE = "#444c56"
#: Colours of earlier runs, in order (colour-blind friendly, muted).
RUN_COLORS = ("#e36209", "#2da44e", "#8250df", "#bf3989", "#9a6700", "#0a7b83")


def apply_figure_style(fig: Figure) -> None:
    """White background and no frame (the workbench's CSS adapts it to dark themes)."""
    fig.set_facecolor(BACKGROUND)


def apply_axes_style(ax) -> None:
    """Quiet axes: light grid, no top/right spines, muted tick labels."""
    ax.set_facecolor(BACKGROUND)
    ax.grid(True, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#afb8c1")
    ax.tick_params(colors=TEXT_MUTED, labelsize=TICK_SIZE, length=3)
    ax.title.set_color(TEXT)


def css_width(fig: Figure) -> int:
    """The width, in CSS pixels, a figure is meant to be shown at."""
    return round(float(fig.get_size_inches()[0]) * CSS_DPI)
