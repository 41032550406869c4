"""Draws from a fitted approximation: one compiled function per plan.

The function returns, for ``draws`` draws from q, every free variable and
deterministic in the constrained space, plus ``log p(z)`` (the model's joint log
density in the unconstrained space, Jacobian included) and ``log q(z)`` on the *same*
draws, which is what PSIS needs.

A particle (empirical) approximation has no density: its draws are particles picked
uniformly with replacement, and its ``log q`` comes back as NaN (not defined), which
:func:`~vibench.session._diagnostics.psis_khat` reads as "k-hat not available".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt
from pymc.pytensorf import compile as pm_compile
from pymc.pytensorf import find_rng_nodes, reseed_rngs
from pytensor.graph.replace import vectorize_graph

from vibench.session._live_draws import numpy_friendly

__all__ = ["Sampler"]


class Sampler:
    """Compiled draws of constrained variables, ``log p`` and ``log q`` from q.

    Parameters
    ----------
    approx : pymc.variational.opvi.Approximation
        A built approximation.
    compile_kwargs : dict
        Passed to :func:`pymc.pytensorf.compile`.

    Attributes
    ----------
    has_logq : bool
        Whether q has a density; ``False`` for particle (empirical) approximations,
        whose ``log q`` is returned as NaN.
    """

    def __init__(self, approx: Any, compile_kwargs: dict[str, Any]) -> None:
        model = approx.model
        self.model = model
        names_in_groups = {n for g in approx.groups for n in g.ordering}
        free = [rv for rv in model.free_RVs if model.rvs_to_values[rv].name in names_in_groups]
        dets = list(model.deterministics)
        self.names = [v.name for v in free + dets]
        value_vars = [model.rvs_to_values[rv] for rv in free]
        outs = model.replace_rvs_by_values(free + dets)
        logp = model.logp()
        batched = {vv: approx.rslice(vv.name) for vv in value_vars}
        draws = pt.iscalar("draws")
        vectorized = vectorize_graph([*outs, logp], batched)
        self.has_logq = bool(approx.has_logq)
        graphs = [*vectorized, approx.symbolic_logq] if self.has_logq else list(vectorized)
        graphs = approx.set_size_and_deterministic(graphs, draws, 0)
        graphs = numpy_friendly(list(graphs), compile_kwargs)
        self._rngs = find_rng_nodes(graphs)
        self._fn = pm_compile([draws], graphs, **compile_kwargs)

    def __call__(
        self, draws: int, seed: int | None = None
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Draw from q.

        Returns
        -------
        values : dict of str to numpy.ndarray
            Constrained draws, leading axis ``draws``.
        logp, logq : numpy.ndarray
            Shape ``(draws,)``; ``logq`` is all NaN when q has no density
            (:attr:`has_logq` false: a particle approximation).
        """
        if seed is not None:
            reseed_rngs(self._rngs, seed)
        if self.has_logq:
            *values, logp, logq = self._fn(int(draws))
        else:
            *values, logp = self._fn(int(draws))
            logq = np.full(np.shape(logp), np.nan)
        out = {n: np.asarray(v) for n, v in zip(self.names, values, strict=True)}
        return out, np.asarray(logp, dtype=float), np.asarray(logq, dtype=float)
