"""Cheap draws from q for live plots: free variables (and Deterministics), no densities.

:class:`~vibench.session._sampling.Sampler` also evaluates ``log p`` and ``log q`` on
every draw (what k-hat needs); on a model with thousands of observed rows that costs
tens of milliseconds per frame. A live marginal frame needs only the constrained
values, so this function computes just those. It is compiled once per plan and
reused by every frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytensor.tensor as pt
from pymc.pytensorf import compile as pm_compile
from pymc.pytensorf import find_rng_nodes, reseed_rngs
from pytensor.graph.replace import vectorize_graph

__all__ = ["DrawFunction", "numpy_friendly"]


def numpy_friendly(graphs: list[Any], compile_kwargs: dict[str, Any]) -> list[Any]:
    """``graphs`` with element-wise ops that PyTensor's Python mode runs per element
    rewritten into NumPy ufuncs, when ``compile_kwargs`` asks for ``FAST_COMPILE``.

    In Python mode an ``Elemwise`` whose scalar op has no NumPy function runs one
    Python call per element: ``clip`` (in every PyMC covariance kernel's distance) made
    300 draws of a 50-point GP's ``f`` cost ~0.16 s. ``clip(x, lo, hi)`` becomes
    ``maximum(minimum(x, hi), lo)`` (the same values, NaN kept). Other modes compile
    C or Numba code and are left alone.
    """
    from pytensor.graph.replace import clone_replace
    from pytensor.graph.traversal import applys_between
    from pytensor.scalar.basic import Clip
    from pytensor.tensor.elemwise import Elemwise

    if compile_kwargs.get("mode") != "FAST_COMPILE":
        return graphs
    for _ in range(8):  # nested clips: one level a pass
        clips = {
            node.outputs[0]: pt.maximum(pt.minimum(node.inputs[0], node.inputs[2]), node.inputs[1])
            for node in applys_between([], graphs)
            if isinstance(node.op, Elemwise) and isinstance(node.op.scalar_op, Clip)
        }
        if not clips:
            break
        graphs = clone_replace(graphs, replace=clips)
    return list(graphs)


class DrawFunction:
    """Compiled draws of the free variables (constrained space) from an approximation.

    Parameters
    ----------
    approx : pymc.variational.opvi.Approximation
        A built approximation.
    compile_kwargs : dict
        Passed to :func:`pymc.pytensorf.compile`.
    deterministics : bool or sequence of str
        Also compute every Deterministic of the model (``True``) or those named, from
        the drawn free variables (in the same compiled function, so a frame costs one
        call).
    """

    def __init__(
        self,
        approx: Any,
        compile_kwargs: dict[str, Any],
        *,
        deterministics: bool | Sequence[str] = False,
    ) -> None:
        model = approx.model
        in_groups = {n for g in approx.groups for n in g.ordering}
        free = [rv for rv in model.free_RVs if model.rvs_to_values[rv].name in in_groups]
        if isinstance(deterministics, bool):
            dets = list(model.deterministics) if deterministics else []
        else:
            wanted = set(deterministics)
            dets = [d for d in model.deterministics if d.name in wanted]
        self.deterministics = bool(dets)
        self.names = [v.name for v in free + dets]
        value_vars = [model.rvs_to_values[rv] for rv in free]
        outs = model.replace_rvs_by_values(free + dets)
        batched = {vv: approx.rslice(vv.name) for vv in value_vars}
        draws = pt.iscalar("draws")
        graphs = vectorize_graph(outs, batched)
        graphs = approx.set_size_and_deterministic(graphs, draws, 0)
        graphs = numpy_friendly(list(graphs), compile_kwargs)
        self._rngs = find_rng_nodes(graphs)
        self._fn = pm_compile([draws], graphs, **compile_kwargs)

    def __call__(self, draws: int, seed: int | None = None) -> dict[str, np.ndarray]:
        """``{name: array of shape (draws, *shape)}`` per free variable (and Deterministic)."""
        if seed is not None:
            reseed_rngs(self._rngs, seed)
        values = self._fn(int(draws))
        return {n: np.asarray(v) for n, v in zip(self.names, values, strict=True)}
