"""Shared builders for the amortized (local) and row-wise group tests."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pytensor.gradient import jacobian
from pytensor.graph.replace import graph_replace

import vibench

FAST = {"mode": "FAST_COMPILE"}
N_ROWS, N_FEATURES, LATENT = 60, 4, 2


def vae_data(seed: int = 0) -> np.ndarray:
    """Rows of a 2-d latent linear model seen in 4 noisy features."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(N_ROWS, LATENT))
    w = rng.normal(size=(LATENT, N_FEATURES))
    return z @ w + 0.3 * rng.normal(size=(N_ROWS, N_FEATURES))


def linear_encoder(x, family: str, seed: int = 0):
    """Params of ``family`` ("mf", "fr" or "flow") from rows ``x``, and the weights."""
    rng = np.random.default_rng(seed)
    k = LATENT
    sizes = {"mf": 2 * k, "fr": k + k * (k + 1) // 2, "flow": 3 * k + 1}
    weights = pytensor.shared(0.1 * rng.normal(size=(N_FEATURES, sizes[family])), "enc_w")
    h = x @ weights
    if family == "mf":
        params = {"mu": h[:, :k], "rho": h[:, k:]}
    elif family == "fr":
        params = {"mu": h[:, :k], "L_tril": h[:, k:]}
    else:
        params = {
            0: {"rho": h[:, :k]},
            1: {"u": h[:, k : 2 * k], "w": h[:, :k], "b": h[:, 3 * k]},
            2: {"loc": h[:, 2 * k : 3 * k]},
        }
    return params, weights


def shared_data_vae(family: str = "mf", data: np.ndarray | None = None):
    """A VAE-style model on shared data (fit with ``more_replacements``).

    Returns ``(model, x_shared, local_group, encoder_weights)``.
    """
    data = vae_data() if data is None else data
    x = pytensor.shared(data, "x_data")
    with pm.Model() as model:
        z = vibench.minibatch_latent(
            "z", pm.Normal.dist(0.0, 1.0, shape=(x.shape[0], LATENT)), total_size=N_ROWS
        )
        w = pm.Normal("w", 0.0, 1.0, shape=(LATENT, N_FEATURES))
        pm.Normal("x", z @ w, 0.3, observed=x, total_size=N_ROWS)
        params, weights = linear_encoder(x, family)
        group = vibench.Group([z], params=params, local=True)
    return model, x, group, weights


def flat_jacobian_logdet(group, n_rows: int, seed: int = 0):
    """(J, group log-det) at a random base draw of one sample: J is ``(n*D, n*D)``."""
    d = n_rows * group.row_size
    z0 = pt.matrix("z0", shape=(1, d))
    x = graph_replace(group.symbolic_random, {group.symbolic_initial: z0}, strict=False)
    logq = graph_replace(group.symbolic_logq_not_scaled, {group.symbolic_initial: z0})
    base = -0.5 * pt.sum(z0**2) - 0.5 * d * np.log(2 * np.pi)
    jac = jacobian(x[0], z0, vectorize=True)[:, 0, :]
    fn = pytensor.function([z0], [jac, base - logq[0]], mode="FAST_COMPILE")
    value = np.random.default_rng(seed).normal(size=(1, d))
    return fn(value)
