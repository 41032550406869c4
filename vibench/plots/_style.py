"""Colours and sizes shared by the plots (no global rcParams are touched)."""

from __future__ import annotations

from matplotlib.figure import Figure

__all__ = ["RUN_COLORS", "apply_axes_style", "apply_figure_style"]

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
    """White background and no frame, readable on light and dark notebook themes."""
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
    ax.tick_params(colors=TEXT_MUTED, labelsize=8, length=3)
    ax.title.set_color(TEXT)
