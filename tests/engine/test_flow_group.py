"""NormalizingFlowGroup as a PyMC group: params, seeds, init, density, moments."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytest
from pymc.variational.opvi import GroupError
from pytensor.graph.replace import graph_replace
from scipy import stats

from vibench import Approximation, Group, NormalizingFlowGroup
from vibench.engine import estimate_elbo


def _softplus(x):
    return np.logaddexp(0.0, x)


def _push(group, z0):
    """The group's draws for given base draws z0 (s, d)."""
    out = graph_replace(
        group.symbolic_random, {group.symbolic_initial: np.asarray(z0, dtype=float)}
    )
    return pytensor.function([], out)()


@pytest.fixture
def model():
    with pm.Model() as m:
        pm.Normal("x", 0.0, 1.0, shape=3, initval=np.array([0.5, -1.0, 2.0]))
        pm.HalfNormal("s", 1.0)
    return m


def test_index_zero_is_the_flow_applied_first(model):
    rho, loc = np.array([0.0, 1.0, -1.0]), np.array([1.0, 2.0, 3.0])
    z0 = np.random.default_rng(0).standard_normal((4, 3))
    with model:
        scale_then_loc = Group([model["x"]], params={0: {"rho": rho}, 1: {"loc": loc}})
        loc_then_scale = Group([model["x"]], params={0: {"loc": loc}, 1: {"rho": rho}})
    assert scale_then_loc.formula == "scale-loc"
    assert loc_then_scale.formula == "loc-scale"
    np.testing.assert_allclose(_push(scale_then_loc, z0), z0 * _softplus(rho) + loc)
    np.testing.assert_allclose(_push(loc_then_scale, z0), (z0 + loc) * _softplus(rho))
    assert [f.short_name for f in loc_then_scale.flows] == ["loc", "scale"]
    assert set(loc_then_scale.params_dict[0]) == {"loc"}


def test_logq_is_the_change_of_variables_density(model):
    rho, loc = np.array([0.3, -0.5, 1.0]), np.array([1.0, 2.0, 3.0])
    with model:
        group = Group([model["x"]], params={0: {"rho": rho}, 1: {"loc": loc}})
    z0 = np.random.default_rng(1).standard_normal((5, 3))
    logq = graph_replace(group.symbolic_logq, {group.symbolic_initial: z0})
    expected = stats.norm(loc, _softplus(rho)).logpdf(z0 * _softplus(rho) + loc).sum(-1)
    np.testing.assert_allclose(pytensor.function([], logq)(), expected)


def test_parameters_are_created_for_the_groups_size(model):
    with model:
        group = Group([model["x"], model["s"]], vfam="scale-hh-planar-radial-loc")
    assert group.ddim == 4
    shapes = {
        k: {name: p.get_value().shape for name, p in params.items()}
        for k, params in group.shared_params.items()
    }
    assert shapes == {
        0: {"rho": (4,)},
        1: {"v": (4,)},
        2: {"u": (4,), "w": (4,), "b": ()},
        3: {"a": (), "b": (), "z_ref": (4,)},
        4: {"loc": (4,)},
    }
    assert len(group.params) == 1 + 1 + 3 + 3 + 1
    assert all(isinstance(p, pytensor.compile.SharedVariable) for p in group.params)


def test_random_seed_is_honoured(model):
    def initial(seed):
        with model:
            group = Group([model["x"]], vfam="planar-radial-hh-loc", random_seed=seed)
        return [p.get_value() for p in group.params]

    first, again, other = initial(3), initial(3), initial(4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.allclose(a, b) for a, b in zip(first, other, strict=True))


def test_loc_starts_at_the_initial_point_or_start(model):
    with model:
        default = Group([model["x"]], vfam="scale-hh*2-loc", random_seed=0)
        started = Group([model["x"]], vfam="scale-loc", start={"x": np.array([3.0, 3.0, 3.0])})
    np.testing.assert_allclose(_push(default, np.zeros((1, 3)))[0], [0.5, -1.0, 2.0])
    np.testing.assert_allclose(started.params_dict[1]["loc"].get_value(), [3.0, 3.0, 3.0])


def test_a_fresh_scale_loc_group_is_pymcs_fresh_mean_field(model):
    z0 = np.random.default_rng(2).standard_normal((6, 4))
    with model:
        flow = Group(None, vfam="scale-loc")
        mf = Group(None, vfam="mf")
        Approximation([flow])
        Approximation([mf])
    np.testing.assert_allclose(_push(flow, z0), _push(mf, z0))


@pytest.mark.parametrize("formula", ["scale-hh*2-planar-radial-loc", "scale-planar*4-loc"])
def test_first_elbo_of_a_deep_flow_is_about_mean_fields(four_var_model, formula):
    with four_var_model:
        mf = pm.MeanField(random_seed=0)
        flow = Approximation([Group(None, vfam=formula, random_seed=0)], random_seed=0)
    elbo_mf, err_mf = estimate_elbo(mf, 2000, random_seed=1)
    elbo_flow, err_flow = estimate_elbo(flow, 2000, random_seed=1)
    assert abs(elbo_flow - elbo_mf) < 0.05 * abs(elbo_mf) + 5 * (err_mf + err_flow)


def test_delayed_init(model):
    with model:
        rest = Group(None, vfam="planar*2-loc")
        assert rest.flow_names == ("planar", "planar", "loc")
        assert rest.formula == "planar*2-loc"
        with pytest.raises(GroupError, match="Approximation"):
            rest.flows  # noqa: B018
        approx = Approximation([Group([model["s"]], vfam="fr"), rest])
    assert approx.groups[-1] is rest
    assert rest.ddim == 3
    assert [f.d for f in rest.flows] == [3, 3, 3]
    assert "planar*2-loc; 3" in str(rest)


def test_monte_carlo_moments_and_state(model):
    rho, loc = np.array([0.0, 1.0, -1.0, 0.5]), np.array([1.0, 2.0, 3.0, -1.0])
    with model:
        group = Group(None, params={0: {"rho": rho}, 1: {"loc": loc}})
        Approximation([group])
    mean, std, cov = pytensor.function([], [group.mean, group.std, group.cov])()
    np.testing.assert_allclose(mean, loc, atol=1e-10)  # antithetic draws: exact for affine
    np.testing.assert_allclose(std, _softplus(rho), rtol=0.1)
    assert cov.shape == (4, 4)
    state = group.state  # PyMC's Group.state works for a group covering the model
    np.testing.assert_allclose(state.mean["x"].values, loc[:3], atol=1e-10)
    np.testing.assert_allclose(state.mean["s"].values, np.exp(loc[3]), rtol=1e-10)
    assert group.mean_data["x"].shape == (3,)


def test_flow_group_is_a_pymc_group_with_logq(model):
    with model:
        group = NormalizingFlowGroup([model["x"]], vfam="radial")
    assert group.has_logq
    assert isinstance(group, pm.variational.opvi.Group)
