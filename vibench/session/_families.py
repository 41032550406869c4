"""Family names: PyMC short names and flow formulas, checked and made canonical."""

from __future__ import annotations

from typing import Any

from pymc.variational import opvi

from vibench.engine.flows import format_formula, parse_formula
from vibench.session._errors import PlanError

__all__ = ["canonical_family", "is_flow_family"]

# PyMC's families the ELBO can fit, by every accepted spelling -> canonical short name.
_PYMC_FAMILIES = {
    "mf": "mean_field",
    "mean_field": "mean_field",
    "meanfield": "mean_field",
    "fr": "full_rank",
    "full_rank": "full_rank",
    "fullrank": "full_rank",
}
_NOT_FITTABLE = {"empirical", "histogram"}
_MAX_FAMILY_LENGTH = 500


def _flow_formula_parser():
    """The engine's flow-formula parser, returning the canonical formula text."""
    return lambda text: format_formula(parse_formula(text))


def canonical_family(family: Any) -> str:
    """Check a family and return its canonical spelling.

    Parameters
    ----------
    family : str
        A PyMC short name (``"mf"``, ``"mean_field"``, ``"fr"``, ``"full_rank"``) or a flow
        formula (``"scale-planar*2-loc"``).

    Returns
    -------
    str
        ``"mean_field"``, ``"full_rank"`` or the engine's canonical flow formula.

    Raises
    ------
    vibench.session.PlanError
        Not a string, an empirical family (it has no log q, so the ELBO cannot fit it), or
        neither a PyMC family nor a valid flow formula.
    """
    if not isinstance(family, str):
        raise PlanError(f"a family must be a string, got {type(family).__name__}")
    if len(family) > _MAX_FAMILY_LENGTH:
        raise PlanError(f"family string too long ({len(family)} characters)")
    key = family.strip().lower()
    if key in _PYMC_FAMILIES:
        return _PYMC_FAMILIES[key]
    if key in _NOT_FITTABLE:
        raise PlanError(
            f"family {family!r} has no density log q, so the ELBO cannot fit it; "
            "use 'mean_field', 'full_rank' or a flow formula"
        )
    return _canonical_formula(family)


def _canonical_formula(family: str) -> str:
    parser = _flow_formula_parser()
    try:
        parsed = parser(family)
    except (KeyError, ValueError, TypeError) as err:
        message = err.args[0] if err.args else str(err)
        raise PlanError(
            f"unknown family {family!r}: not a PyMC family (mean_field/mf, full_rank/fr) "
            f"and not a flow formula: {message}"
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


def pymc_group_class(family: str) -> type[opvi.Group] | None:
    """PyMC's group class for a canonical PyMC family, ``None`` for flows."""
    if is_flow_family(family):
        return None
    return opvi.Group.group_for_short_name(family)
