"""Fixtures of the engine tests.

Every test compiles with PyTensor's ``FAST_COMPILE`` mode (no Numba JIT: a cold cache
costs seconds per graph) unless it requests the ``numba_mode`` fixture, which keeps the
default mode so that path stays covered.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytest

FAST = {"mode": "FAST_COMPILE"}


@pytest.fixture
def numba_mode():
    """Request this fixture to run a test in PyTensor's default (Numba) mode."""
    return pytensor.config.mode


@pytest.fixture(autouse=True)
def _fast_compile(request):
    if "numba_mode" in request.fixturenames:
        yield
        return
    with pytensor.config.change_flags(mode="FAST_COMPILE"):
        yield


@pytest.fixture
def four_var_model():
    """Four free variables of different shapes and transforms, and some data."""
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 1.0)
        b = pm.HalfNormal("b", 1.0, shape=2)
        c = pm.Normal("c", a, b, shape=2)
        d = pm.Normal("d", c.sum(), 1.0, shape=3)
        pm.Normal("y", d, 1.0, observed=np.array([0.5, 1.0, 1.5]))
    return model


def normal_normal(mu0=1.0, tau0=2.0, sigma=0.8, n=6, seed=0):
    """x ~ N(mu0, tau0), y_i ~ N(x, sigma): the model and its exact posterior (mean, sd)."""
    y = np.random.default_rng(seed).normal(2.0, sigma, size=n)
    precision = 1 / tau0**2 + n / sigma**2
    mean = (mu0 / tau0**2 + y.sum() / sigma**2) / precision
    with pm.Model() as model:
        x = pm.Normal("x", mu0, tau0)
        pm.Normal("y", x, sigma, observed=y)
    return model, mean, precision**-0.5
