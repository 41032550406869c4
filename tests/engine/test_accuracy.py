"""Flow groups against closed forms and against mean-field (fixed seeds, few steps)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from tests.engine.conftest import FAST, normal_normal
from vibench import Approximation, Group
from vibench.engine import estimate_elbo


def _softplus(x):
    return np.logaddexp(0.0, x)


def _fit(approx, n, learning_rate, obj_n_mc=1, **kwargs):
    inference = pm.variational.KLqp(approx)
    inference.fit(
        n,
        progressbar=False,
        obj_optimizer=pm.variational.adam(learning_rate=learning_rate),
        obj_n_mc=obj_n_mc,
        **kwargs,
    )
    return inference


def test_scale_loc_recovers_the_normal_normal_posterior(numba_mode):
    """Runs in PyTensor's default (Numba) mode, so that path stays covered."""
    model, mean, sd = normal_normal()
    with model:
        approx = Approximation([Group(None, vfam="scale-loc", random_seed=0)], random_seed=0)
        _fit(approx, 3000, 0.02)
    params = approx.groups[0].params_dict
    np.testing.assert_allclose(params[1]["loc"].get_value()[0], mean, rtol=0.05)
    np.testing.assert_allclose(_softplus(params[0]["rho"].get_value()[0]), sd, rtol=0.2)


def _gauss_kl(m0, s0, m1, s1):
    """KL(N(m0, s0) || N(m1, s1))."""
    s1_inv = np.linalg.inv(s1)
    diff = m1 - m0
    return 0.5 * (
        np.trace(s1_inv @ s0)
        + diff @ s1_inv @ diff
        - len(m0)
        + np.log(np.linalg.det(s1) / np.linalg.det(s0))
    )


def test_scale_hh_loc_fits_a_correlated_gaussian_where_mean_field_cannot():
    rho = 0.95
    sd = np.array([1.0, 2.0])
    cov = np.array([[1.0, rho], [rho, 1.0]]) * np.outer(sd, sd)
    mu = np.array([1.0, -1.0])
    with pm.Model():
        pm.MvNormal("x", mu, cov)
        flow = Approximation([Group(None, vfam="scale-hh-loc", random_seed=1)], random_seed=2)
        mf = Approximation([Group(None, vfam="mf", random_seed=1)], random_seed=2)
        for approx in (flow, mf):
            _fit(approx, 2000, 0.01, obj_n_mc=4, compile_kwargs=FAST)
    p = {
        k: {n: v.get_value() for n, v in d.items()} for k, d in flow.groups[0].params_dict.items()
    }
    v = p[1]["v"]
    reflection = np.eye(2) - 2 * np.outer(v, v) / (v @ v + 1e-8)
    flow_cov = reflection @ np.diag(_softplus(p[0]["rho"]) ** 2) @ reflection.T
    flow_kl = _gauss_kl(p[2]["loc"], flow_cov, mu, cov)
    g = mf.groups[0]
    mf_cov = np.diag(_softplus(g.params_dict["rho"].get_value()) ** 2)
    mf_kl = _gauss_kl(g.params_dict["mu"].get_value(), mf_cov, mu, cov)
    best_mf_kl = -0.5 * np.log(1 - rho**2)  # 1.16: the closest any diagonal Gaussian gets
    assert flow_kl < 0.05
    assert mf_kl > 0.9 * best_mf_kl
    # the ELBO of a normalized target is -KL: the Monte Carlo estimate agrees
    elbo, err = estimate_elbo(flow, 4000, random_seed=0)
    assert abs(elbo + flow_kl) < 5 * err + 0.01


def _banana():
    with pm.Model() as model:
        x1 = pm.Normal("x1", 0.0, 1.0)
        pm.Normal("x2", x1**2 - 1.0, 0.3)
    return model  # normalized: log Z = 0, the ELBO is -KL(q || p)


@pytest.mark.slow
def test_a_planar_stack_beats_mean_field_on_a_banana():
    elbos = {}
    for family in ("mf", "scale-planar*4-loc"):
        with _banana():
            approx = Approximation([Group(None, vfam=family, random_seed=1)], random_seed=2)
            _fit(approx, 1000, 0.03, obj_n_mc=8, compile_kwargs=FAST)
        elbos[family] = estimate_elbo(approx, 2000, random_seed=0)
    (mf, mf_err), (flow, flow_err) = elbos["mf"], elbos["scale-planar*4-loc"]
    assert flow > mf + 0.2
    assert flow - mf > 5 * (mf_err + flow_err)
    assert flow < 5 * flow_err  # a lower bound of log Z = 0


@pytest.mark.parametrize("family", ["scale-loc", "scale-hh*2-planar-radial-loc"])
def test_training_improves_the_elbo_from_its_start(family):
    model, _, _ = normal_normal()
    with model:
        approx = Approximation([Group(None, vfam=family, random_seed=3)], random_seed=3)
        before = estimate_elbo(approx, 2000, random_seed=0)
        _fit(approx, 500, 0.02, compile_kwargs=FAST)
        after = estimate_elbo(approx, 2000, random_seed=0)
    assert after[0] > before[0] + 5 * (before[1] + after[1])
