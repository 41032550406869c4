"""Small built-in demo models for the workbench, the notebooks and the tests.

Every function returns a *fresh* :class:`pymc.Model` (data are generated with fixed
seeds, so two calls give identical models). :data:`MODELS` maps a short name to its
builder and :func:`get_model` builds one by name. The default model of a
:class:`vibench.Session` is :func:`eight_schools`.

Examples
--------
>>> from vibench import models
>>> model = models.get_model("funnel")
>>> sorted(models.MODELS)
['banana', 'correlated_regression', 'eight_schools', 'funnel', 'hierarchical_logistic']
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
import pymc as pm

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "banana",
    "correlated_regression",
    "demo_name",
    "eight_schools",
    "funnel",
    "get_model",
    "hierarchical_logistic",
]

DEFAULT_MODEL = "eight_schools"

# Which demo builder made a model (so `Session.to_code` can rebuild it by name).
_DEMO_NAMES: weakref.WeakKeyDictionary[pm.Model, str] = weakref.WeakKeyDictionary()


def _tag(model: pm.Model, name: str) -> pm.Model:
    _DEMO_NAMES[model] = name
    return model


def demo_name(model: pm.Model) -> str | None:
    """Return the registry name of a model built by this module, else ``None``.

    Parameters
    ----------
    model : pymc.Model
        Any model.

    Returns
    -------
    str or None
        The key in :data:`MODELS` whose builder created ``model``.
    """
    return _DEMO_NAMES.get(model)


def eight_schools() -> pm.Model:
    """Eight schools, non-centred (Rubin 1981; Gelman et al., BDA3 section 5.5).

    Teaches: a hierarchical model whose group-level scale ``tau`` is weakly identified.
    Mean-field ADVI fits the school effects well but under-states the uncertainty of
    ``tau``; putting ``mu``, ``tau`` and ``theta_tilde`` in one full-rank group shows what
    correlations buy. This is the workbench's default model.

    Returns
    -------
    pymc.Model
        Free variables ``mu``, ``tau`` (positive), ``theta_tilde`` (8); deterministic
        ``theta``.
    """
    y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
    sigma = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
    coords = {"school": [f"school_{i}" for i in range(8)]}
    with pm.Model(coords=coords) as model:
        mu = pm.Normal("mu", mu=0.0, sigma=5.0)
        tau = pm.HalfCauchy("tau", beta=5.0)
        theta_tilde = pm.Normal("theta_tilde", mu=0.0, sigma=1.0, dims="school")
        theta = pm.Deterministic("theta", mu + tau * theta_tilde, dims="school")
        pm.Normal("y", mu=theta, sigma=sigma, observed=y, dims="school")
    return _tag(model, "eight_schools")


def correlated_regression(n: int = 100, k: int = 5, rho: float = 0.9) -> pm.Model:
    """Linear regression on strongly correlated predictors.

    Teaches: when predictors are correlated the posterior of the coefficients is a
    narrow, tilted ellipse. Mean-field VI can only draw axis-aligned ellipses, so it
    matches the narrow width and badly under-covers each coefficient's marginal;
    a full-rank group over ``beta`` recovers the correlation.

    Parameters
    ----------
    n : int
        Number of rows.
    k : int
        Number of predictors.
    rho : float
        Correlation between every pair of predictors.

    Returns
    -------
    pymc.Model
        Free variables ``alpha``, ``beta`` (k), ``sigma`` (positive).
    """
    rng = np.random.default_rng(20261124)
    cov = np.full((k, k), rho) + (1.0 - rho) * np.eye(k)
    x = rng.multivariate_normal(np.zeros(k), cov, size=n)
    true_beta = np.linspace(-1.0, 1.0, k)
    y = 0.5 + x @ true_beta + rng.normal(0.0, 1.0, size=n)
    coords = {"predictor": [f"x{i}" for i in range(k)]}
    with pm.Model(coords=coords) as model:
        alpha = pm.Normal("alpha", 0.0, 5.0)
        beta = pm.Normal("beta", 0.0, 2.0, dims="predictor")
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Normal("y", alpha + pm.math.dot(x, beta), sigma, observed=y)
    return _tag(model, "correlated_regression")


def funnel(k: int = 9) -> pm.Model:
    """Neal's funnel (Neal 2003): ``v ~ N(0, 3)``, ``x_i ~ N(0, exp(v / 2))``.

    Teaches: a scale that depends on another variable. The density is a funnel whose
    neck no Gaussian approximation can follow: mean-field and full-rank both collapse
    onto the mouth and miss the neck (PSIS k-hat > 0.7 tells you so), while a flow with
    ``scale`` and ``planar`` layers can bend towards it.

    Parameters
    ----------
    k : int
        Number of ``x`` components.

    Returns
    -------
    pymc.Model
        Free variables ``v`` and ``x`` (k); no data.
    """
    with pm.Model() as model:
        v = pm.Normal("v", 0.0, 3.0)
        pm.Normal("x", 0.0, pm.math.exp(v / 2.0), shape=k)
    return _tag(model, "funnel")


def banana(n: int = 100) -> pm.Model:
    """A banana-shaped posterior: ``y_i ~ N(theta1 + theta2**2, 2)``, ``theta ~ N(0, 1)``.

    Teaches: only ``theta1 + theta2**2`` is identified, so the posterior is a curved
    ridge. Every Gaussian family (mean-field or full-rank) fits an ellipse that cuts the
    ridge; a flow such as ``"planar*4-loc"`` can curve along it.

    Parameters
    ----------
    n : int
        Number of observations.

    Returns
    -------
    pymc.Model
        Free variables ``theta1`` and ``theta2``.
    """
    rng = np.random.default_rng(42)
    y = rng.normal(1.0, 2.0, size=n)
    with pm.Model() as model:
        theta1 = pm.Normal("theta1", 0.0, 1.0)
        theta2 = pm.Normal("theta2", 0.0, 1.0)
        pm.Normal("y", theta1 + theta2**2, 2.0, observed=y)
    return _tag(model, "banana")


def hierarchical_logistic(n: int = 3000, groups: int = 20, k: int = 3) -> pm.Model:
    """Hierarchical logistic regression: ``n`` rows in ``groups`` groups, ``k`` predictors.

    Teaches: a realistic model where the data term dominates the cost of each step
    (a few thousand rows). Group intercepts share a scale ``sigma_group``; mean-field
    is usually fine here, which makes it the good-approximation counterpart to the
    funnel.

    Parameters
    ----------
    n : int
        Number of rows.
    groups : int
        Number of groups.
    k : int
        Number of predictors.

    Returns
    -------
    pymc.Model
        Free variables ``mu_a``, ``sigma_group`` (positive), ``a`` (groups), ``beta`` (k).
    """
    rng = np.random.default_rng(7)
    g = rng.integers(0, groups, size=n)
    x = rng.normal(size=(n, k))
    true_a = rng.normal(-0.5, 0.8, size=groups)
    true_beta = rng.normal(0.0, 1.0, size=k)
    p = 1.0 / (1.0 + np.exp(-(true_a[g] + x @ true_beta)))
    y = rng.binomial(1, p)
    coords = {"group": [f"g{i}" for i in range(groups)], "predictor": [f"x{i}" for i in range(k)]}
    with pm.Model(coords=coords) as model:
        mu_a = pm.Normal("mu_a", 0.0, 2.0)
        sigma_group = pm.HalfNormal("sigma_group", 1.0)
        a = pm.Normal("a", mu_a, sigma_group, dims="group")
        beta = pm.Normal("beta", 0.0, 1.0, dims="predictor")
        pm.Bernoulli("y", logit_p=a[g] + pm.math.dot(x, beta), observed=y)
    return _tag(model, "hierarchical_logistic")


MODELS: dict[str, Callable[[], pm.Model]] = {
    "eight_schools": eight_schools,
    "correlated_regression": correlated_regression,
    "funnel": funnel,
    "banana": banana,
    "hierarchical_logistic": hierarchical_logistic,
}


def get_model(name: str) -> pm.Model:
    """Build a fresh demo model by its registry name.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.

    Returns
    -------
    pymc.Model

    Raises
    ------
    KeyError
        If ``name`` is not a demo model; the message lists the known names.
    """
    try:
        builder = MODELS[name]
    except (KeyError, TypeError):
        raise KeyError(f"no demo model {name!r}; known models: {sorted(MODELS)}") from None
    return builder()
