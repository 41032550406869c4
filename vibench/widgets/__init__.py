"""The workbench UI: the drag-and-drop board, fit controls and live plots.

Widgets talk to a session object only (see :mod:`vibench.widgets._protocol`).
"""

from __future__ import annotations

from vibench.widgets.board import FAMILIES, Board
from vibench.widgets.workbench import CONTROLS, OPTIMIZERS, Workbench

__all__ = ["CONTROLS", "FAMILIES", "OPTIMIZERS", "Board", "Workbench"]
