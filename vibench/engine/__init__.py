"""The engine: PyMC's Group / Approximation extended with normalizing-flow groups.

Imports PyMC, PyTensor and NumPy only (no widgets, IPython or plotting).
"""

from __future__ import annotations

from vibench.engine import flows
from vibench.engine.approximation import Approximation
from vibench.engine.diagnostics import estimate_elbo
from vibench.engine.errors import (
    FlowFormulaError,
    FlowParamsError,
    UnknownFamilyError,
    UnsupportedGroupOptionError,
)
from vibench.engine.flows import (
    Flow,
    HouseholderFlow,
    LocFlow,
    PlanarFlow,
    RadialFlow,
    ScaleFlow,
    parse_formula,
    register_flow,
    registered_flows,
    unregister_flow,
)
from vibench.engine.groups import Group, NormalizingFlowGroup, pymc_family_names

__all__ = [
    "Approximation",
    "Flow",
    "FlowFormulaError",
    "FlowParamsError",
    "Group",
    "HouseholderFlow",
    "LocFlow",
    "NormalizingFlowGroup",
    "PlanarFlow",
    "RadialFlow",
    "ScaleFlow",
    "UnknownFamilyError",
    "UnsupportedGroupOptionError",
    "estimate_elbo",
    "flows",
    "parse_formula",
    "pymc_family_names",
    "register_flow",
    "registered_flows",
    "unregister_flow",
]
