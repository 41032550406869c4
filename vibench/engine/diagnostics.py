"""Numbers about a fitted approximation: a Monte Carlo ELBO estimate."""

from __future__ import annotations

import numpy as np
from pymc.pytensorf import compile as compile_pymc
from pymc.variational import opvi

__all__ = ["estimate_elbo"]


def estimate_elbo(
    approx: opvi.Approximation,
    draws: int = 2000,
    *,
    random_seed: int | None = None,
    compile_kwargs: dict | None = None,
) -> tuple[float, float]:
    """Monte Carlo estimate of the ELBO, ``E_q[log p(z, y) - log q(z)]``, and its error.

    Works for any PyMC approximation with an explicit density (PyMC's ``MeanField`` and
    ``FullRank``, :class:`vibench.Approximation` with any groups). The ELBO is a lower
    bound of ``log p(y)``; for a normalized target the gap is ``KL(q || p)``.

    Parameters
    ----------
    approx : pymc.variational.opvi.Approximation
        The approximation (fitted or not).
    draws : int, default 2000
        Number of draws from ``q``.
    random_seed : int, optional
        Seed of the draws.
    compile_kwargs : dict, optional
        Passed to PyTensor's compiler; default ``{"mode": "FAST_COMPILE"}`` (one call
        does not repay a Numba JIT).

    Returns
    -------
    elbo : float
        The estimate.
    stderr : float
        Its Monte Carlo standard error.

    Raises
    ------
    TypeError
        ``approx`` has no explicit density (``Empirical``).

    Examples
    --------
    >>> import pymc as pm
    >>> import vibench
    >>> from vibench.engine import estimate_elbo
    >>> with pm.Model():
    ...     x = pm.Normal("x", 0, 1)
    ...     approx = vibench.Approximation([vibench.Group(None, vfam="scale-loc")])
    >>> elbo, err = estimate_elbo(approx, 1000, random_seed=0)
    >>> elbo < 0  # KL(q || p) > 0 for the fresh, too narrow q
    True
    """
    if not approx.has_logq:
        raise TypeError(f"{approx} has no explicit density: its ELBO is not defined")
    if compile_kwargs is None:
        compile_kwargs = {"mode": "FAST_COMPILE"}
    per_draw = approx.sized_symbolic_logp - approx.symbolic_logq
    per_draw = approx.set_size_and_deterministic(per_draw, int(draws), 0)
    fn = compile_pymc([], per_draw, random_seed=random_seed, **compile_kwargs)
    values = np.asarray(fn(), dtype=float)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))
