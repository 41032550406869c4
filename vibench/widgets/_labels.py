"""Words for plans, families and variables, as the workbench shows them.

Variables are named as the model names them (:func:`shown_variables`): a GP's ``f``
rather than PyMC's ``f_rotated_``, an LKJ prior's ``chol_stds`` / ``chol_corr`` rather
than its packed ``chol``, elements by their coordinate names (``z_a[county_07]``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from vibench.session._views import VariableView, element_label

__all__ = [
    "KHAT_NOT_AVAILABLE",
    "all_empirical",
    "continued_from",
    "element_label",
    "family_label",
    "flow_names",
    "khat_text",
    "plan_label",
    "run_titles",
    "shown_variables",
    "transform_hint",
    "view_values",
]

#: How a k-hat that cannot be computed (particles have no density log q) is shown.
KHAT_NOT_AVAILABLE = "n/a (particles)"

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


def continued_from(runs: Sequence[Any]) -> list[int | None]:
    """For each run, the number (1-based) of the earlier run it continues, or ``None``.

    A fit started again without a Reset continues from where the last run of the same
    plan stopped: its ``start_iteration`` is that run's start plus its iterations.

    Examples
    --------
    >>> from types import SimpleNamespace as R
    >>> plan = {"groups": []}
    >>> continued_from(
    ...     [
    ...         R(plan=plan, start_iteration=0, iterations=100),
    ...         R(plan=plan, start_iteration=100, iterations=50),
    ...         R(plan=plan, start_iteration=0, iterations=10),
    ...     ]
    ... )
    [None, 1, None]
    """
    out: list[int | None] = []
    for i, r in enumerate(runs):
        start = int(getattr(r, "start_iteration", 0) or 0)
        found = None
        if start > 0:
            for j in range(i - 1, -1, -1):
                e = runs[j]
                end = int(getattr(e, "start_iteration", 0) or 0) + int(e.iterations)
                if end == start and _groups_of(e.plan) == _groups_of(r.plan):
                    found = j + 1
                    break
        out.append(found)
    return out


def _groups_of(plan: Mapping[str, Any]) -> list:
    return [
        (g.get("id"), g.get("family"), list(g.get("variables", [])))
        for g in plan.get("groups", [])
    ]


def run_titles(runs: Sequence[Any]) -> list[str]:
    """``"#1"``, ``"#2"``, ``"#3 (continues #2)"``: how the plots and the table name runs."""
    return [
        f"#{i}" if j is None else f"#{i} (continues #{j})"
        for i, j in enumerate(continued_from(runs), start=1)
    ]


def all_empirical(groups: Iterable[Any]) -> bool:
    """Whether every group holding variables is empirical: a particle plan, fitted by SVGD.

    ``groups`` are the session's groups (``.variables``, ``.family``); the same rule as
    ``vibench.session.trace_label`` on a plan dict.
    """
    held = [g for g in groups if list(g.variables)]
    return bool(held) and all(g.family == "empirical" for g in held)


def khat_text(khat: Any, *, long: bool = False) -> str:
    """A k-hat for the status line (``long``: ``"k-hat 0.42 (good)"``) or the runs table.

    ``None`` gives ``"–"``; a k-hat that is not available (a particle approximation:
    ``khat.available`` false) gives ``"n/a (particles)"``, never ``"nan"``.
    """
    prefix = "k-hat " if long else ""
    if khat is None:
        return prefix + "–"
    if not getattr(khat, "available", True):
        return prefix + KHAT_NOT_AVAILABLE
    value = float(getattr(khat, "khat", khat))
    reading = str(getattr(khat, "reading", "") or "")
    shown = "–" if math.isnan(value) else f"{value:.2f}"
    if long and reading:
        return f"{prefix}{shown} ({reading})"
    return prefix + shown


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


def shown_variables(session: Any, deterministics: bool = False) -> list[Any]:
    """The variables the marginals show, in the model's words.

    The session's own ``shown_variables`` when it has one (``vibench.Session``: the
    rule for hidden helper variables and coordinate labels), else every continuous free
    variable under its own name with numbered elements.

    Returns
    -------
    list
        Objects with ``.name``, ``.shape``, ``.kind``, ``.labels`` (one per shown
        element), ``.elements`` and ``.values(draws)``.
    """
    own = getattr(session, "shown_variables", None)
    if callable(own):
        return list(own(deterministics=deterministics))
    out = []
    for v in session.variables:
        if v.discrete:
            continue
        shape = tuple(int(s) for s in v.shape)
        elements = tuple(tuple(int(i) for i in ix) for ix in _ndindex(shape))
        out.append(VariableView(v.name, shape, "free", (None,) * len(shape), elements))
    return out


def view_values(views: Sequence[Any], draws: Mapping[str, Any]) -> dict[str, Any]:
    """``draws`` plus each view's values (a derived view computed from its source)."""
    out = dict(draws)
    for view in views:
        if view.name not in out:
            got = view.values(draws)
            if got is not None:
                out[view.name] = got
    return out


def _ndindex(shape: tuple[int, ...]) -> Iterable[tuple[int, ...]]:
    if not shape:
        return ()
    import numpy as np

    return np.ndindex(*shape)
