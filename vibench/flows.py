"""Normalizing flows (``vibench.flows.PlanarFlow``, ...): a re-export of ``vibench.engine.flows``."""

from __future__ import annotations

from vibench.engine.flows import (
    Flow,
    HouseholderFlow,
    LocFlow,
    PlanarFlow,
    RadialFlow,
    ScaleFlow,
    flow_class,
    flow_class_for_params,
    format_formula,
    formula_from_params,
    is_flow_params,
    parse_formula,
    register_flow,
    registered_flows,
    unregister_flow,
)

__all__ = [
    "Flow",
    "HouseholderFlow",
    "LocFlow",
    "PlanarFlow",
    "RadialFlow",
    "ScaleFlow",
    "flow_class",
    "flow_class_for_params",
    "format_formula",
    "formula_from_params",
    "is_flow_params",
    "parse_formula",
    "register_flow",
    "registered_flows",
    "unregister_flow",
]
