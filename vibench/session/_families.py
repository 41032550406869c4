"""Family names: PyMC short names and flow formulas, checked and made canonical."""

from __future__ import annotations

from typing import Any

from pymc.variational import opvi

from vibench.engine.flows import FlowStackTooLongError, format_formula, parse_formula
from vibench.session._errors import PlanError

__all__ = [
    "ELBO_LABEL",
    "EMPIRICAL",
    "TRACE_LABEL",
    "canonical_family",
    "is_flow_family",
    "is_particle_family",
    "is_particle_plan",
    "trace_label",
]

#: The particle family: a cloud of particles (PyMC's ``EmpiricalGroup``) moved by SVGD.
EMPIRICAL = "empirical"
#: What a particle plan records per iteration where other plans record the ELBO.
TRACE_LABEL = "mean log p of the particles"
#: What every other plan records.
ELBO_LABEL = "ELBO"

# PyMC's families, by every accepted spelling -> canonical short name. Mean-field and
# full-rank are fitted by the ELBO (KLqp); "empirical" by SVGD (see ``_particles.py``).
_PYMC_FAMILIES = {
    "mf": "mean_field",
    "mean_field": "mean_field",
    "meanfield": "mean_field",
    "fr": "full_rank",
    "full_rank": "full_rank",
    "fullrank": "full_rank",
    "empirical": EMPIRICAL,
    "histogram": EMPIRICAL,
    "particles": EMPIRICAL,
}
_MAX_FAMILY_LENGTH = 500


def _flow_formula_parser():
    """The engine's flow-formula parser, returning the canonical formula text."""
    return lambda text: format_formula(parse_formula(text))


def canonical_family(family: Any) -> str:
    """Check a family and return its canonical spelling.

    Parameters
    ----------
    family : str
        A PyMC short name (``"mf"``, ``"mean_field"``, ``"fr"``, ``"full_rank"``,
        ``"empirical"`` (also ``"histogram"``, ``"particles"``)) or a flow formula
        (``"scale-planar*2-loc"``).

    Returns
    -------
    str
        ``"mean_field"``, ``"full_rank"``, ``"empirical"`` or the engine's canonical flow
        formula.

    Raises
    ------
    vibench.session.PlanError
        Not a string, or neither a PyMC family nor a valid flow formula, or a flow
        stack beyond the engine's bounds (``name*N`` with ``N`` above
        ``vibench.engine.flows.MAX_FLOW_REPEAT``, or more than ``MAX_FLOW_LAYERS``
        flows in all), refused before the stack is expanded.

    Notes
    -----
    Any family may be set on any group while a plan is edited. Whether the plan can be
    *fitted* is decided by ``Plan.check_fittable``: empirical groups are fitted by SVGD,
    which moves the particles of the whole posterior, so they cannot sit next to other
    families.
    """
    if not isinstance(family, str):
        raise PlanError(f"a family must be a string, got {type(family).__name__}")
    if len(family) > _MAX_FAMILY_LENGTH:
        raise PlanError(
            f"family string too long ({len(family)} characters, at most {_MAX_FAMILY_LENGTH})"
        )
    key = family.strip().lower()
    if key in _PYMC_FAMILIES:
        return _PYMC_FAMILIES[key]
    return _canonical_formula(family)


def _canonical_formula(family: str) -> str:
    parser = _flow_formula_parser()
    try:
        parsed = parser(family)
    except FlowStackTooLongError as err:
        raise PlanError(f"flow stack too long: {err}") from None
    except (KeyError, ValueError, TypeError) as err:
        message = err.args[0] if err.args else str(err)
        raise PlanError(
            f"unknown family {family!r}: not a PyMC family (mean_field/mf, full_rank/fr, "
            f"empirical) and not a flow formula: {message}"
        ) from None
    return _formula_text(parsed)


def _formula_text(parsed: Any) -> str:
    """Canonical formula text from whatever the engine parser returns."""
    if isinstance(parsed, str):
        return parsed
    formula = getattr(parsed, "formula", None)
    if isinstance(formula, str):
        return formula
    raise TypeError(f"cannot read a formula from {parsed!r}")


def is_flow_family(family: str) -> bool:
    """Whether a canonical family is a flow formula (not a PyMC family)."""
    return family not in set(_PYMC_FAMILIES.values())


def is_particle_family(family: str) -> bool:
    """Whether a canonical family is the particle family ``"empirical"`` (fitted by SVGD)."""
    return family == EMPIRICAL


def pymc_group_class(family: str) -> type[opvi.Group] | None:
    """PyMC's group class for a canonical PyMC family, ``None`` for flows."""
    if is_flow_family(family):
        return None
    return opvi.Group.group_for_short_name(family)


def is_particle_plan(plan: dict[str, Any]) -> bool:
    """Whether a plan (``Plan.to_dict()`` form, e.g. ``Run.plan``) is fitted by SVGD.

    True when every group that holds variables is empirical (the only empirical plans
    that can be fitted).
    """
    groups = [g for g in plan.get("groups", []) if g.get("variables")]
    return bool(groups) and all(is_particle_family(g.get("family")) for g in groups)


def trace_label(plan: dict[str, Any]) -> str:
    """Name of a plan's per-iteration trace (``Run.elbo``): ``"ELBO"`` or :data:`TRACE_LABEL`.

    A particle plan records the mean log density of its particles, which is not an ELBO
    and not comparable with one (see ``vibench.session._particles``).
    """
    return TRACE_LABEL if is_particle_plan(plan) else ELBO_LABEL
