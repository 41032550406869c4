"""vibench: a Jupyter workbench for variational inference on PyMC models."""

from __future__ import annotations

from vibench import flows
from vibench.engine import Approximation, Group, NormalizingFlowGroup

__version__ = "0.1.0"

__all__ = ["Approximation", "Group", "NormalizingFlowGroup", "__version__", "flows"]
