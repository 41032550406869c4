"""The model's own words: Deterministics in draws, hidden helper variables, coord labels."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from vibench import models
from vibench.session import Session
from vibench.session._views import derive_lkj

FAST = {"mode": "FAST_COMPILE"}


def _session(model: pm.Model) -> Session:
    return Session(model, compile_kwargs=FAST, sample_compile_kwargs=FAST)


def _by_pymc(model: pm.Model, values: dict[str, np.ndarray], names: list[str]) -> xr.Dataset:
    """The Deterministics ``names`` computed by PyMC from the free variables in ``values``."""
    free = {rv.name for rv in model.free_RVs}
    ds = xr.Dataset(
        {
            k: (("chain", "draw", *[f"{k}_dim_{i}" for i in range(v.ndim - 1)]), v[None])
            for k, v in values.items()
            if k in free
        }
    )
    return pm.compute_deterministics(ds, var_names=names, model=model, progressbar=False)


def test_gp_shows_f_in_place_of_f_rotated():
    s = _session(models.gp_latent(n=12))
    views = s.shown_variables()
    assert [v.name for v in views] == ["ell", "eta", "f", "sigma"]
    f = views[2]
    assert (f.kind, f.replaces, f.shape) == ("deterministic", "f_rotated_", (12,))
    x = np.round(np.linspace(0.0, 10.0, 12), 2)
    assert f.labels == [f"f[{v:g}]" for v in x]  # the coords of dim "x"
    # the board still fits the free variable PyMC made
    assert "f_rotated_" in [v.name for v in s.variables]


def test_gp_draws_of_f_equal_pymcs_deterministic():
    model = models.gp_latent(n=12)
    s = _session(model)
    values = s.draws(40, seed=3, deterministics=True)
    assert values["f"].shape == (40, 12)
    expected = _by_pymc(model, values, ["f"])["f"].values[0]
    np.testing.assert_allclose(values["f"], expected, rtol=1e-6, atol=1e-8)
    assert "f" not in s.draws(5, seed=3)  # free variables only unless asked


def test_lkj_shown_as_stds_and_correlations():
    s = _session(models.mixture_lkj())
    views = s.shown_variables()
    assert [v.name for v in views] == ["w", "means", "sd", "chol_corr", "chol_stds"]
    corr = views[3]
    assert corr.replaces == "chol"
    assert corr.elements == ((0, 1), (0, 2), (1, 2))  # the strict upper triangle
    assert corr.labels == ["chol_corr[0, 1]", "chol_corr[0, 2]", "chol_corr[1, 2]"]
    assert views[0].labels == ["w[low]", "w[mid]", "w[high]"]
    values = s.draws(30, seed=1, deterministics=True)
    by_pymc = _by_pymc(s.model, values, ["chol_corr", "chol_stds"])
    np.testing.assert_allclose(values["chol_corr"], by_pymc["chol_corr"].values[0], atol=1e-8)
    np.testing.assert_allclose(values["chol_stds"], by_pymc["chol_stds"].values[0], atol=1e-8)


def test_lkj_without_deterministics_is_derived_from_the_packed_factor():
    with pm.Model() as model:
        packed = pm.LKJCholeskyCov(
            "chol", n=3, eta=2.0, sd_dist=pm.Exponential.dist(1.0), compute_corr=False
        )
        chol = pm.math.expand_packed_triangular(3, packed)
        pm.Deterministic("cov", chol @ chol.T)
    s = _session(model)
    # a Deterministic computed from it stands for it
    assert [v.name for v in s.shown_variables()] == ["cov"]
    with pm.Model() as bare:
        pm.LKJCholeskyCov(
            "chol", n=3, eta=2.0, sd_dist=pm.Exponential.dist(1.0), compute_corr=False
        )
    s = _session(bare)
    views = s.shown_variables()
    assert [(v.name, v.kind, v.source) for v in views] == [
        ("chol_stds", "derived", "chol"),
        ("chol_corr", "derived", "chol"),
    ]
    values = s.draws(25, seed=2, deterministics=True)
    # PyMC's own unpacking of the same draws
    packed = values["chol"]
    chol_mats = np.stack([pm.math.expand_packed_triangular(3, p).eval() for p in packed])
    cov = chol_mats @ np.swapaxes(chol_mats, 1, 2)
    stds = np.sqrt(np.einsum("kii->ki", cov))
    np.testing.assert_allclose(values["chol_stds"], stds)
    np.testing.assert_allclose(values["chol_corr"], cov / stds[:, :, None] / stds[:, None, :])
    np.testing.assert_allclose(np.einsum("kii->ki", values["chol_corr"]), 1.0)
    stds2, corr2 = derive_lkj(packed, 3)
    np.testing.assert_allclose(stds2, stds)
    np.testing.assert_allclose(corr2, values["chol_corr"])
    # in sample() too, with the free variables
    post = s.sample(20, seed=0)["posterior"]
    assert {"chol", "chol_stds", "chol_corr"} <= set(post.data_vars)


def test_radon_deterministics_on_request_with_coords():
    model = models.radon(counties=10, n=60)
    s = _session(model)
    assert [v.name for v in s.shown_variables()] == [
        "mu_a",
        "sigma_a",
        "z_a",
        "mu_b",
        "sigma_b",
        "z_b",
        "sigma_y",
    ]
    views = s.shown_variables(deterministics=True)
    assert [v.name for v in views][-2:] == ["a", "b"]
    assert views[2].labels[7] == "z_a[county_07]"
    values = s.draws(50, seed=0, deterministics=True)
    np.testing.assert_allclose(
        values["a"], values["mu_a"][:, None] + values["sigma_a"][:, None] * values["z_a"]
    )
    by_pymc = _by_pymc(model, values, ["a", "b"])
    np.testing.assert_allclose(values["b"], by_pymc["b"].values[0])


def test_deterministic_draws_compile_once_per_plan():
    s = _session(models.data_regression(n=50))
    s.draws(5, seed=0, deterministics=True)
    count = s.sample_compile_count
    first = s.draws(30, seed=4, deterministics=True)
    again = s.draws(30, seed=4, deterministics=True)
    assert s.sample_compile_count == count  # reused, not rebuilt
    np.testing.assert_allclose(first["mean_count"], again["mean_count"])
    by_pymc = _by_pymc(s.model, first, ["rate_ratio", "mean_count"])
    np.testing.assert_allclose(first["rate_ratio"], by_pymc["rate_ratio"].values[0])
    np.testing.assert_allclose(first["mean_count"], by_pymc["mean_count"].values[0], rtol=1e-6)
    assert [v.labels for v in s.shown_variables(True) if v.name == "rate_ratio"] == [
        ["rate_ratio[dose]", "rate_ratio[age]"]
    ]


@pytest.mark.parametrize("deterministics", [True, False])
def test_sample_deterministics_switch(deterministics):
    s = _session(models.data_regression(n=50))
    post = s.sample(20, seed=0, deterministics=deterministics)["posterior"]
    names = set(post.data_vars)
    assert {"intercept", "slope", "alpha"} <= names
    assert ({"rate_ratio", "mean_count"} <= names) is deterministics
    if deterministics:
        assert post["rate_ratio"].dims == ("chain", "draw", "feature")
        np.testing.assert_allclose(post["rate_ratio"].values, np.exp(post["slope"].values))


def test_python_mode_graphs_have_no_per_element_clip():
    """FAST_COMPILE runs a ufunc-less Elemwise once per element: clip is rewritten."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.graph.traversal import applys_between
    from pytensor.scalar.basic import Clip

    from vibench.session._live_draws import numpy_friendly

    x = pt.dvector("x")
    out = pt.exp(pt.clip(pt.clip(x, -1.0, 2.0) * 3.0, 0.0, 4.0))
    (got,) = numpy_friendly([out], FAST)
    assert not [
        n for n in applys_between([x], [got]) if isinstance(getattr(n.op, "scalar_op", None), Clip)
    ]
    values = np.array([-5.0, -0.5, 0.1, 1.0, 7.0, np.nan])
    f = pytensor.function([x], [out, got], mode="FAST_COMPILE")
    np.testing.assert_array_equal(*f(values))
    assert numpy_friendly([out], {"mode": "NUMBA"})[0] is out  # compiled modes: unchanged
    # the session's GP draw function carries none
    s = _session(models.gp_latent(n=12))
    s.draws(2, seed=0, deterministics=True)
    fn = s._fitted.det_draw_fn._fn
    assert not [
        n
        for n in fn.maker.fgraph.apply_nodes
        if isinstance(getattr(n.op, "scalar_op", None), Clip)
    ]


def test_a_deterministic_per_data_row_is_not_shown_nor_drawn_live():
    x = np.linspace(0.0, 1.0, 20_000)
    with pm.Model() as model:
        b = pm.Normal("b")
        pm.Deterministic("b2", 2 * b)
        pm.Deterministic("mu", b * x)  # one per row: not a marginal to look at
    s = _session(model)
    assert [v.name for v in s.shown_variables(True)] == ["b", "b2"]
    values = s.draws(10, seed=0, deterministics=True)
    assert set(values) == {"b", "b2"}
    np.testing.assert_allclose(values["b2"], 2 * values["b"])
