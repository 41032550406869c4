"""Plots for the workbench: numbers in, matplotlib ``Figure`` objects out.

No widgets and no PyTensor here; every function takes plain NumPy arrays.
"""

from __future__ import annotations

from vibench.plots._limits import StableLimits
from vibench.plots._render import figure_to_png, placeholder_figure, placeholder_png
from vibench.plots.elbo import ElboAxes, ElboTrace, elbo_figure, smooth
from vibench.plots.forest import ForestSummary, forest_figure, forest_summary
from vibench.plots.marginals import (
    MarginalAxes,
    Panel,
    marginal_densities,
    marginal_panels,
    marginals_figure,
)

__all__ = [
    "ElboAxes",
    "ElboTrace",
    "ForestSummary",
    "MarginalAxes",
    "Panel",
    "StableLimits",
    "elbo_figure",
    "figure_to_png",
    "forest_figure",
    "forest_summary",
    "marginal_densities",
    "marginal_panels",
    "marginals_figure",
    "placeholder_figure",
    "placeholder_png",
    "smooth",
]
