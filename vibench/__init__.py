"""vibench: a Jupyter workbench for variational inference on PyMC models.

The engine (``Group``, ``Approximation``, ``NormalizingFlowGroup``, ``flows``) is
imported eagerly. ``Session``, ``Run``, ``Workbench`` and ``models`` load on first
use, so that ``import vibench.engine`` never pulls in widgets or plotting.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vibench import flows
from vibench.engine import Approximation, Group, NormalizingFlowGroup, minibatch_latent

if TYPE_CHECKING:
    from vibench import models
    from vibench.session import Run, Session
    from vibench.widgets import Workbench

__version__ = "0.1.0"

__all__ = [
    "Approximation",
    "Group",
    "NormalizingFlowGroup",
    "Run",
    "Session",
    "Workbench",
    "__version__",
    "flows",
    "minibatch_latent",
    "models",
]

_LAZY = {
    "Session": ("vibench.session", "Session"),
    "Run": ("vibench.session", "Run"),
    "Workbench": ("vibench.widgets", "Workbench"),
    "models": ("vibench.models", None),
}


def __getattr__(name: str) -> Any:
    """Load the session, widget and demo-model names on first use."""
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'vibench' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
