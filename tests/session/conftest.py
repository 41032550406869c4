"""Fixtures for the session tests: small models and sessions on FAST_COMPILE."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from vibench.session import Session

FAST = {"mode": "FAST_COMPILE"}


def normal_model() -> pm.Model:
    """A conjugate normal mean: the posterior is Gaussian, mean-field is exact."""
    y = np.random.default_rng(0).normal(1.0, 1.0, size=20)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        pm.Normal("y", mu, 1.0, observed=y)
    return model


def correlated_model(rho: float = 0.99) -> pm.Model:
    """A strongly correlated 2-d Gaussian: mean-field is known to be poor here."""
    cov = np.array([[1.0, rho], [rho, 1.0]])
    with pm.Model() as model:
        pm.MvNormal("z", mu=np.zeros(2), cov=cov)
    return model


def discrete_model() -> pm.Model:
    """A model with a discrete free variable next to continuous ones."""
    with pm.Model() as model:
        pm.Poisson("n", 3.0)
        pm.Normal("a", 0.0, 1.0)
        pm.HalfNormal("b", 1.0)
    return model


@pytest.fixture
def session() -> Session:
    """The default session (eight schools) compiling with FAST_COMPILE."""
    return Session(compile_kwargs=FAST)
