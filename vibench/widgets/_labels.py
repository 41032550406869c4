"""Words for plans, families and variables, as the workbench shows them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["family_label", "flow_names", "plan_label", "transform_hint"]

_FAMILY_WORDS = {"mean_field": "mean-field", "full_rank": "full-rank", "empirical": "empirical"}
#: Palette order of the built-in flows.
_FLOW_ORDER = ("planar", "radial", "hh", "scale", "loc")


def family_label(family: str) -> str:
    """``"mean-field"``, ``"full-rank"`` or ``"flow scale-planar-loc"``."""
    return _FAMILY_WORDS.get(family, f"flow {family}")


def plan_label(plan: Mapping[str, Any]) -> str:
    """A one-line description of a plan dict (``Session.to_dict()["plan"]`` form).

    Examples
    --------
    >>> plan_label(
    ...     {
    ...         "groups": [
    ...             {"id": "g1", "family": "full_rank", "variables": ["mu", "tau"]},
    ...             {"id": "rest", "family": "mean_field", "variables": ["z"]},
    ...         ]
    ...     }
    ... )
    'full-rank(mu, tau) + mean-field(rest)'
    """
    parts = []
    for g in plan.get("groups", []):
        fam = family_label(str(g.get("family", "?")))
        names = list(g.get("variables", []))
        if g.get("id") == "rest":
            if names:
                parts.append(f"{fam}(rest)")
        else:
            parts.append(f"{fam}({', '.join(map(str, names))})")
    return " + ".join(parts) or "(empty plan)"


def flow_names(session: Any) -> list[str]:
    """Short names of the flows a flow stack can use, in palette order."""
    names = getattr(session, "flow_names", None)
    if names is None:
        from vibench.engine.flows import registered_flows

        names = list(registered_flows())
    names = [str(n) for n in names]
    ordered = [n for n in _FLOW_ORDER if n in names]
    return ordered + sorted(n for n in names if n not in ordered)


def transform_hint(session: Any, name: str) -> str:
    """A short word for the transform of variable ``name`` (``"log"``), or ``""``.

    Read from the variable's ``transform`` attribute when the session provides one,
    else from the PyMC model the session holds.
    """
    for v in session.variables:
        if v.name == name and getattr(v, "transform", None):
            return str(v.transform)
    model = getattr(session, "model", None)
    transforms = getattr(model, "rvs_to_transforms", None)
    if not transforms:
        return ""
    for rv, tr in transforms.items():
        if getattr(rv, "name", None) == name and tr is not None:
            word = getattr(tr, "name", "") or type(tr).__name__
            word = str(word).removesuffix("Transform").removesuffix("transform").lower()
            return word.strip("_") or "transformed"
    return ""
