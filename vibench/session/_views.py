"""What the plots show of a model: its own words, not PyMC's internals.

The free variables a plan fits are not always what a modeller wrote. PyMC
parametrizes some quantities through a helper free variable and computes the
quantity itself as a Deterministic:

- ``pm.gp.Latent`` fits a whitened ``f_rotated_``; the GP's values are the
  Deterministic ``f``;
- ``pm.LKJCholeskyCov`` fits a packed Cholesky factor ``chol`` (``n (n + 1) / 2``
  numbers mixing scales and correlations); with ``compute_corr=True`` the
  Deterministics ``chol_stds`` and ``chol_corr`` hold what the prior is about.

**The rule.** A free variable is *hidden* when its name ends with an underscore
(PyMC's convention for helper variables: ``f_rotated_``, ``*_hsgp_coeffs_``) or it
is an ``LKJCholeskyCov`` packed factor. A hidden variable is shown through the
Deterministics computed from it, in its place (always, whatever the Deterministics
toggle says); an LKJ factor without such Deterministics is shown as ``<name>_stds``
and ``<name>_corr`` derived from the packed draws (NumPy, the same formulas as
PyMC's ``compute_corr=True``). A hidden variable that no Deterministic uses stays
shown under its own name (nothing would stand for it). A correlation matrix is
shown by its strict upper triangle (the diagonal is all ones, the lower triangle a
copy). The other Deterministics are shown on request (``deterministics=True``),
after the free variables. Deterministics of more than :data:`MAX_SHOWN_SIZE` elements
(one value per data row) are never shown.

Element labels come from the model's ``coords``: ``z_a[county_07]``,
``beta[g3, x1]``; an axis without coords is numbered (``chol_corr[0, 1]``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

__all__ = ["VariableView", "derive_lkj", "element_label", "model_views"]

#: Kinds of shown variables.
KINDS = ("free", "deterministic", "derived")
#: Deterministics with more elements are not shown (one value per data row is not a
#: marginal to look at, and computing it every live frame would cost a lot).
MAX_SHOWN_SIZE = 10_000


def element_label(name: str, index: Sequence[int], axes: Sequence[Sequence[str] | None]) -> str:
    """``"z_a[county_07]"`` for element ``index`` of ``name``; numbers where no coords.

    Examples
    --------
    >>> element_label("z", (2,), [["a", "b", "c"]])
    'z[c]'
    >>> element_label("L", (0, 1), [None, None])
    'L[0, 1]'
    >>> element_label("mu", (), [])
    'mu'
    """
    if not index:
        return name
    parts = []
    for k, i in enumerate(index):
        labels = axes[k] if k < len(axes) else None
        parts.append(str(labels[i]) if labels is not None and i < len(labels) else str(i))
    return f"{name}[{', '.join(parts)}]"


@dataclass(frozen=True)
class VariableView:
    """A quantity the plots show: a free variable, a Deterministic or a derived one.

    Attributes
    ----------
    name : str
        Its name (``"f"``, ``"chol_corr"``, ``"z_a"``).
    shape : tuple of int
        Its shape (per draw).
    kind : {"free", "deterministic", "derived"}
        ``"derived"``: computed by vibench from a hidden free variable's draws
        (:attr:`source`), not by the model.
    axes : tuple
        Per axis, the coordinate labels (strings) or ``None`` (numbered).
    elements : tuple of tuple of int
        The elements shown (all, in C order, unless a rule drops some: the strict
        upper triangle of a correlation matrix).
    replaces : str or None
        The hidden free variable this stands for (``"f_rotated_"`` for ``f``).
    source : str or None
        For a derived view, the variable its values are computed from.
    """

    name: str
    shape: tuple[int, ...]
    kind: str = "free"
    axes: tuple[tuple[str, ...] | None, ...] = ()
    elements: tuple[tuple[int, ...], ...] = ()
    replaces: str | None = None
    source: str | None = None
    derive: Callable[[np.ndarray], np.ndarray] | None = field(
        default=None, compare=False, repr=False
    )

    @property
    def size(self) -> int:
        """Number of elements shown."""
        return len(self.elements) if self.shape else 1

    @cached_property
    def labels(self) -> list[str]:
        """Labels of the shown elements: ``["z_a[county_00]", ...]`` (``[name]`` for a scalar)."""
        if not self.shape:
            return [self.name]
        return [element_label(self.name, ix, self.axes) for ix in self.elements]

    def values(self, draws: Mapping[str, Any]) -> np.ndarray | None:
        """This view's draws (leading draw axis) out of ``draws``, or ``None`` if absent.

        A derived view is computed from its :attr:`source` when ``draws`` does not
        hold it already.
        """
        if self.name in draws:
            return np.asarray(draws[self.name])
        if self.derive is not None and self.source in draws:
            return self.derive(np.asarray(draws[self.source]))
        return None


def _all_elements(shape: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(i) for i in ix) for ix in np.ndindex(*shape)) if shape else ()


def _upper(n: int) -> tuple[tuple[int, int], ...]:
    return tuple((i, j) for i in range(n) for j in range(i + 1, n))


def derive_lkj(packed: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard deviations and correlations from draws of a packed Cholesky factor.

    Parameters
    ----------
    packed : numpy.ndarray
        Shape ``(draws, n (n + 1) / 2)``: the lower triangle row by row (PyMC's
        ``LKJCholeskyCov`` packing, ``pm.math.expand_packed_triangular(n, packed)``).
    n : int
        Dimension.

    Returns
    -------
    stds : numpy.ndarray
        ``(draws, n)``: ``sqrt(diag(L L^T))``.
    corr : numpy.ndarray
        ``(draws, n, n)``: ``L L^T / (stds stds^T)``.
    """
    packed = np.asarray(packed, dtype=float)
    lead = packed.shape[:-1]
    chol = np.zeros((*lead, n, n))
    rows, cols = np.tril_indices(n)
    chol[..., rows, cols] = packed
    cov = chol @ np.swapaxes(chol, -1, -2)
    stds = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    corr = cov / (stds[..., :, None] * stds[..., None, :])
    return stds, corr


def _is_hidden(rv: Any) -> bool:
    return rv.name.endswith("_") or _lkj_dimension(rv) is not None


def _lkj_dimension(rv: Any) -> int | None:
    """``n`` of an ``LKJCholeskyCov`` packed factor, else ``None``."""
    owner = getattr(rv, "owner", None)
    if owner is None or "LKJCholeskyCov" not in type(owner.op).__name__:
        return None
    size = rv.type.shape[-1] if rv.type.shape else None
    if size is None:
        return None
    n = round((math.sqrt(8 * int(size) + 1) - 1) / 2)
    return n if n * (n + 1) // 2 == int(size) else None


def _static_shape(var: Any) -> tuple[int, ...]:
    static = var.type.shape
    if all(s is not None for s in static):
        return tuple(int(s) for s in static)
    return tuple(int(s) for s in var.shape.eval())


def _axes(model: Any, name: str, shape: tuple[int, ...]) -> tuple[tuple[str, ...] | None, ...]:
    dims = tuple(model.named_vars_to_dims.get(name) or ())
    coords = model.coords or {}
    out: list[tuple[str, ...] | None] = []
    for k, size in enumerate(shape):
        dim = dims[k] if k < len(dims) else None
        labels = coords.get(dim) if dim is not None else None
        if labels is not None and len(labels) == size:
            out.append(tuple(_coord_text(v) for v in labels))
        else:
            out.append(None)
    return tuple(out)


def _coord_text(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def _is_corr(name: str, shape: tuple[int, ...]) -> bool:
    return name.endswith("_corr") and len(shape) == 2 and shape[0] == shape[1]


def model_views(
    model: Any, free: Sequence[Any], *, deterministics: bool = False
) -> list[VariableView]:
    """The variables the plots show for ``model``, by the rule of this module.

    Parameters
    ----------
    model : pymc.Model
    free : sequence
        The free variables as the session lists them (``.name``, ``.shape``,
        ``.discrete``), in order; discrete ones are skipped.
    deterministics : bool
        Also show the Deterministics that do not stand for a hidden variable.

    Returns
    -------
    list of VariableView
        Free variables in model order, each hidden one replaced in place by what
        stands for it, then (on request) the other Deterministics.
    """
    from pytensor.graph.traversal import ancestors

    rvs = {rv.name: rv for rv in model.free_RVs}
    dets = list(model.deterministics)
    uses: dict[str, list[Any]] = {}
    for det in dets:
        seen = set(ancestors([det]))
        for rv in model.free_RVs:
            if rv in seen:
                uses.setdefault(det.name, []).append(rv.name)
    taken: set[str] = set()
    out: list[VariableView] = []

    def det_view(det: Any, replaces: str | None) -> VariableView | None:
        try:
            shape = _static_shape(det)
        except Exception:  # a shape that cannot be evaluated here: leave it out
            return None
        if math.prod(shape) > MAX_SHOWN_SIZE:
            return None
        elements = _upper(shape[0]) if _is_corr(det.name, shape) else _all_elements(shape)
        kind = "deterministic"
        return VariableView(
            det.name, shape, kind, _axes(model, det.name, shape), elements, replaces
        )

    for v in free:
        if getattr(v, "discrete", False):
            continue
        rv = rvs.get(v.name)
        shape = tuple(int(s) for s in v.shape)
        if rv is not None and _is_hidden(rv):
            standing = [d for d in dets if v.name in uses.get(d.name, []) and d.name not in taken]
            views = [dv for dv in (det_view(d, v.name) for d in standing) if dv is not None]
            if views:
                taken.update(dv.name for dv in views)
                out.extend(views)
                continue
            n = _lkj_dimension(rv)
            if n is not None:
                out.extend(_lkj_views(v.name, n))
                continue
        out.append(
            VariableView(v.name, shape, "free", _axes(model, v.name, shape), _all_elements(shape))
        )
    if deterministics:
        more = (det_view(d, None) for d in dets if d.name not in taken)
        out.extend(dv for dv in more if dv is not None)
    return out


def _lkj_views(name: str, n: int) -> list[VariableView]:
    def stds(packed: np.ndarray) -> np.ndarray:
        return derive_lkj(packed, n)[0]

    def corr(packed: np.ndarray) -> np.ndarray:
        return derive_lkj(packed, n)[1]

    none = (None,)
    return [
        VariableView(f"{name}_stds", (n,), "derived", none, _all_elements((n,)), name, name, stds),
        VariableView(f"{name}_corr", (n, n), "derived", none * 2, _upper(n), name, name, corr),
    ]
