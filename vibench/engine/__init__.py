"""The engine: PyMC's Group / Approximation extended with flow, amortized and row-wise groups.

Imports PyMC, PyTensor and NumPy only (no widgets, IPython or plotting).
"""

from __future__ import annotations

from vibench.engine import flows
from vibench.engine.approximation import Approximation
from vibench.engine.batched import (
    BatchedFlowGroup,
    BatchedFullRankGroup,
    BatchedGroup,
    BatchedMeanFieldGroup,
    minibatch_latent,
)
from vibench.engine.diagnostics import estimate_elbo
from vibench.engine.errors import (
    AmortizedGroupError,
    BatchedGroupError,
    FlowFormulaError,
    FlowParamsError,
    RowwiseGroupError,
    UnbatchableFamilyError,
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
    "AmortizedGroupError",
    "Approximation",
    "BatchedFlowGroup",
    "BatchedFullRankGroup",
    "BatchedGroup",
    "BatchedGroupError",
    "BatchedMeanFieldGroup",
    "Flow",
    "FlowFormulaError",
    "FlowParamsError",
    "Group",
    "HouseholderFlow",
    "LocFlow",
    "NormalizingFlowGroup",
    "PlanarFlow",
    "RadialFlow",
    "RowwiseGroupError",
    "ScaleFlow",
    "UnbatchableFamilyError",
    "UnknownFamilyError",
    "UnsupportedGroupOptionError",
    "estimate_elbo",
    "flows",
    "minibatch_latent",
    "parse_formula",
    "pymc_family_names",
    "register_flow",
    "registered_flows",
    "unregister_flow",
]
