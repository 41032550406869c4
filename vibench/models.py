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
    "REALISTIC_MODELS",
    "banana",
    "correlated_regression",
    "data_regression",
    "demo_name",
    "eight_schools",
    "funnel",
    "get_model",
    "gp_latent",
    "hierarchical_logistic",
    "mixture_lkj",
    "radon",
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


# ---------------------------------------------------------------- realistic models
# Models written the way users write them (transforms such as `ordered`, LKJ priors,
# Gaussian processes, `pm.Data` and Deterministics, many groups with coords). They are
# not teaching demos: the benchmarks (`benchmarks/realistic_models.py`) and the tests
# use them so that vibench stays fast and correct on graphs like these.


def mixture_lkj() -> pm.Model:
    """A three-component Normal mixture beside a correlated trivariate Normal.

    A Dirichlet weight, an ``ordered`` mean vector and an ``LKJCholeskyCov`` prior
    (packed Cholesky factor, with correlations and standard deviations as
    Deterministics): the model a new user wrote when vibench was first tried on
    models it had not seen.

    Returns
    -------
    pymc.Model
        Free variables ``w`` (simplex, 3), ``means`` (ordered, 3), ``sd`` (positive),
        ``chol`` (packed, 6); Deterministics ``chol_corr`` and ``chol_stds``.
    """
    from pymc.distributions.transforms import ordered

    rng = np.random.default_rng(42)
    data1 = np.concatenate(
        [rng.normal(-2, 0.5, 100), rng.normal(0, 0.5, 100), rng.normal(3, 0.5, 100)]
    )
    cov = [[1.0, 0.8, 0.3], [0.8, 1.0, 0.2], [0.3, 0.2, 1.0]]
    data2 = rng.multivariate_normal([0.0, 0.0, 0.0], cov, size=200)
    with pm.Model(coords={"comp": ["low", "mid", "high"]}) as model:
        w = pm.Dirichlet("w", a=np.ones(3), dims="comp")
        means = pm.Normal(
            "means", 0.0, 5.0, dims="comp", transform=ordered, initval=[-1.0, 0.0, 1.0]
        )
        sd = pm.HalfNormal("sd", 1.0)
        pm.NormalMixture("mix", w=w, mu=means, sigma=sd, observed=data1)
        chol, _, _ = pm.LKJCholeskyCov(
            "chol", n=3, eta=2.0, sd_dist=pm.Exponential.dist(1.0), compute_corr=True
        )
        pm.MvNormal("mv", mu=np.zeros(3), chol=chol, observed=data2)
    return _tag(model, "mixture_lkj")


def gp_latent(n: int = 50) -> pm.Model:
    """A latent Gaussian process (``pm.gp.Latent``, ExpQuad kernel) with Normal noise.

    PyMC parametrizes the GP's values ``f`` through a whitened free variable
    ``f_rotated_``; ``f`` itself is a Deterministic.

    Parameters
    ----------
    n : int
        Number of input points.

    Returns
    -------
    pymc.Model
        Free variables ``ell``, ``eta``, ``sigma`` (positive), ``f_rotated_`` (n);
        Deterministic ``f`` (n, dims ``x``).
    """
    rng = np.random.default_rng(3)
    x = np.linspace(0.0, 10.0, n)
    y = np.sin(x) + rng.normal(0.0, 0.3, size=n)
    with pm.Model(coords={"x": np.round(x, 2)}) as model:
        ell = pm.Gamma("ell", alpha=2.0, beta=1.0)
        eta = pm.HalfNormal("eta", 1.0)
        cov = eta**2 * pm.gp.cov.ExpQuad(1, ls=ell)
        gp = pm.gp.Latent(cov_func=cov)
        f = gp.prior("f", X=x[:, None], dims="x")
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("y", mu=f, sigma=sigma, observed=y, dims="x")
    return _tag(model, "gp_latent")


def radon(counties: int = 85, n: int = 919) -> pm.Model:
    """A radon-style varying-intercept, varying-slope model with 85 counties.

    Log radon per house against the floor of measurement, with a non-centred
    intercept and slope per county (Gelman & Hill 2007, ch. 12, on synthetic data of
    the same shape).

    Parameters
    ----------
    counties : int
        Number of counties (groups).
    n : int
        Number of houses (rows).

    Returns
    -------
    pymc.Model
        Free variables ``mu_a``, ``sigma_a``, ``z_a`` (county), ``mu_b``, ``sigma_b``,
        ``z_b`` (county), ``sigma_y``; Deterministics ``a`` and ``b`` (county).
    """
    rng = np.random.default_rng(85)
    county = rng.integers(0, counties, size=n)
    floor = rng.integers(0, 2, size=n).astype(float)
    true_a = rng.normal(1.5, 0.3, size=counties)
    true_b = rng.normal(-0.6, 0.2, size=counties)
    log_radon = true_a[county] + true_b[county] * floor + rng.normal(0.0, 0.7, size=n)
    coords = {"county": [f"county_{i:02d}" for i in range(counties)]}
    with pm.Model(coords=coords) as model:
        floor_data = pm.Data("floor", floor)
        county_idx = pm.Data("county_idx", county)
        mu_a = pm.Normal("mu_a", 0.0, 10.0)
        sigma_a = pm.HalfNormal("sigma_a", 1.0)
        z_a = pm.Normal("z_a", 0.0, 1.0, dims="county")
        a = pm.Deterministic("a", mu_a + sigma_a * z_a, dims="county")
        mu_b = pm.Normal("mu_b", 0.0, 10.0)
        sigma_b = pm.HalfNormal("sigma_b", 1.0)
        z_b = pm.Normal("z_b", 0.0, 1.0, dims="county")
        b = pm.Deterministic("b", mu_b + sigma_b * z_b, dims="county")
        sigma_y = pm.HalfNormal("sigma_y", 1.0)
        mu = a[county_idx] + b[county_idx] * floor_data
        pm.Normal("log_radon", mu=mu, sigma=sigma_y, observed=log_radon)
    return _tag(model, "radon")


def data_regression(n: int = 500) -> pm.Model:
    """A Poisson regression on ``pm.Data`` with Deterministics for what users report.

    Returns
    -------
    pymc.Model
        Free variables ``intercept``, ``slope`` (2, dims ``feature``), ``alpha``
        (positive); Deterministics ``rate_ratio`` (feature) and ``mean_count``;
        data ``x`` (``pm.Data``, changeable with ``pm.set_data``).
    """
    rng = np.random.default_rng(11)
    x = rng.normal(size=(n, 2))
    mu = np.exp(0.3 + x @ np.array([0.5, -0.25]))
    y = rng.negative_binomial(5, 5 / (5 + mu))
    with pm.Model(coords={"feature": ["dose", "age"]}) as model:
        x_data = pm.Data("x", x)
        intercept = pm.Normal("intercept", 0.0, 2.0)
        slope = pm.Normal("slope", 0.0, 1.0, dims="feature")
        alpha = pm.Exponential("alpha", 0.2)
        log_mu = intercept + pm.math.dot(x_data, slope)
        pm.Deterministic("rate_ratio", pm.math.exp(slope), dims="feature")
        pm.Deterministic("mean_count", pm.math.exp(log_mu).mean())
        pm.NegativeBinomial("y", mu=pm.math.exp(log_mu), alpha=alpha, observed=y)
    return _tag(model, "data_regression")


#: Models written as users write them (not teaching demos), for benchmarks and tests.
REALISTIC_MODELS: dict[str, Callable[[], pm.Model]] = {
    "mixture_lkj": mixture_lkj,
    "gp_latent": gp_latent,
    "radon": radon,
    "data_regression": data_regression,
}


def get_model(name: str) -> pm.Model:
    """Build a fresh demo model by its registry name.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS` or of :data:`REALISTIC_MODELS`.

    Returns
    -------
    pymc.Model

    Raises
    ------
    KeyError
        If ``name`` is not a demo model; the message lists the known names.
    """
    try:
        builder = MODELS[name] if name in MODELS else REALISTIC_MODELS[name]
    except (KeyError, TypeError):
        known = sorted(MODELS) + sorted(REALISTIC_MODELS)
        raise KeyError(f"no demo model {name!r}; known models: {known}") from None
    return builder()
