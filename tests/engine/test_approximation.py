"""vibench.Approximation: multi-group fitting, sampling, logq, errors, pickling."""

from __future__ import annotations

import cloudpickle
import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pymc.variational import opvi
from pymc.variational.opvi import GroupError, ParametrizationError

from tests.engine.conftest import FAST
from vibench import Approximation, Group, NormalizingFlowGroup


def _mixed(model, rest="mf", seed=1):
    with model:
        return Approximation(
            [
                Group([model["a"]], vfam="mf", random_seed=seed),
                Group([model["c"]], vfam="fr", random_seed=seed),
                Group([model["d"]], vfam="scale-hh*2-planar-radial-loc", random_seed=seed),
                Group(None, vfam=rest, random_seed=seed),
            ],
            random_seed=seed,
        )


def test_pymc_multi_group_approximation_cannot_be_fitted(four_var_model):
    """The bug vibench.Approximation fixes (if PyMC fixes it, drop the workaround)."""
    with four_var_model:
        approx = opvi.Approximation(
            [opvi.Group([four_var_model["a"]], vfam="fr"), opvi.Group(None, vfam="mf")]
        )
        with pytest.raises(AttributeError, match="rng"):
            pm.variational.KLqp(approx).fit(2, progressbar=False, compile_kwargs=FAST)


def test_pymc_groups_only_fit_and_sample(four_var_model):
    with four_var_model:
        approx = Approximation(
            [Group([four_var_model["a"]], vfam="fr"), Group(None, vfam="mf")], random_seed=0
        )
        inference = pm.variational.KLqp(approx)
        fitted = inference.fit(
            200,
            progressbar=False,
            obj_optimizer=pm.variational.adam(learning_rate=0.05),
            callbacks=[pm.variational.callbacks.CheckParametersConvergence(every=50)],
            compile_kwargs=FAST,
        )
    assert fitted is approx
    assert inference.hist.shape == (200,)
    assert np.all(np.isfinite(inference.hist))
    assert inference.hist[-50:].mean() < inference.hist[:50].mean()
    idata = approx.sample(30, random_seed=1)
    assert set(idata.posterior.data_vars) == {"a", "b", "c", "d"}


def test_mixed_flow_approximation_fits_and_samples_in_the_constrained_space(four_var_model):
    approx = _mixed(four_var_model)
    assert [type(g).__name__ for g in approx.groups] == [
        "MeanFieldGroup",
        "FullRankGroup",
        "NormalizingFlowGroup",
        "MeanFieldGroup",
    ]
    assert approx.ndim == 1 + 2 + 3 + 2 == four_var_model.initial_point()["c"].size + 6
    assert approx.has_logq
    with four_var_model:
        inference = pm.variational.KLqp(approx)
        inference.fit(
            300,
            progressbar=False,
            obj_optimizer=pm.variational.adam(learning_rate=0.02),
            compile_kwargs=FAST,
        )
    assert np.all(np.isfinite(inference.hist))
    assert inference.hist[-100:].mean() < inference.hist[:100].mean()
    assert all(np.all(np.isfinite(p.get_value())) for p in approx.params)
    posterior = approx.sample(400, random_seed=3).posterior
    assert posterior["a"].shape == (1, 400)
    assert posterior["b"].shape == (1, 400, 2)
    assert posterior["c"].shape == (1, 400, 2)
    assert posterior["d"].shape == (1, 400, 3)
    assert np.all(posterior["b"].values > 0)  # HalfNormal: constrained space


def test_sample_puts_each_variable_where_it_belongs(four_var_model):
    """PyMC's sample mixes variables up when groups are not in the model's order."""
    with four_var_model:
        approx = Approximation(
            [
                Group([four_var_model["d"]], params={0: {"loc": np.array([10.0, 11.0, 12.0])}}),
                Group([four_var_model["a"]], params={0: {"loc": np.array([-5.0])}}),
                Group(None, vfam="mf"),
            ]
        )
    posterior = approx.sample(50, random_seed=0).posterior
    np.testing.assert_allclose(posterior["d"].mean(("chain", "draw")), [10, 11, 12], atol=1.0)
    np.testing.assert_allclose(posterior["a"].mean(), -5.0, atol=1.0)


@pytest.mark.parametrize("s", [1, 2, 3])
def test_logq_is_scalar_and_symbolic_logq_has_one_value_per_draw(four_var_model, s):
    approx = _mixed(four_var_model)
    logq = approx.set_size_and_deterministic(approx.logq, s, 0)
    symbolic = approx.set_size_and_deterministic(approx.symbolic_logq, s, 0)
    assert logq.ndim == 0
    assert np.ndim(logq.eval()) == 0
    assert symbolic.eval().shape == (s,)
    for group in approx.groups:
        assert group.set_size_and_deterministic(group.symbolic_logq, s, 0).eval().shape == (s,)


def test_duplicates_are_refused(four_var_model):
    a, c = four_var_model["a"], four_var_model["c"]
    with four_var_model:
        with pytest.raises(GroupError, match=r"'a'.*groups 0 and 1"):
            Approximation([Group([a], vfam="mf"), Group([a, c], vfam="planar")])
        with pytest.raises(GroupError, match="'c' appears twice"):
            Approximation([Group([c, c], vfam="scale-loc"), Group(None, vfam="mf")])
        with pytest.raises(GroupError, match="More than one group"):
            Approximation([Group(None, vfam="mf"), Group(None, vfam="planar")])


def test_uncovered_variables_are_refused_by_name(four_var_model):
    with four_var_model, pytest.raises(GroupError, match=r"\['b', 'c', 'd'\]"):
        Approximation([Group([four_var_model["a"]], vfam="planar")])


def test_variables_of_another_model_are_refused(four_var_model):
    with pm.Model() as other:
        z = pm.Normal("z")
    with other:
        group = Group([z], vfam="mf")
    with four_var_model, pytest.raises(GroupError, match="not free variables"):
        Approximation([group, Group(None, vfam="mf")], model=four_var_model)


def test_an_empty_group_list_is_refused(four_var_model):
    with four_var_model, pytest.raises(GroupError):
        Approximation([])


@pytest.mark.parametrize("vfam", ["mf", "planar"])
def test_discrete_variables_are_refused_with_pymcs_error(vfam):
    with pm.Model() as model:
        k = pm.Poisson("k", 3.0)
        pm.Normal("x", k, 1.0)
        with pytest.raises(ParametrizationError, match="Discrete variables"):
            Group([k], vfam=vfam)
        with pytest.raises(ParametrizationError, match="Discrete variables"):
            Approximation([Group([model["x"]], vfam="fr"), Group(None, vfam=vfam)])


def test_the_seed_makes_fits_reproducible(four_var_model):
    def run():
        approx = _mixed(four_var_model, seed=5)
        with four_var_model:
            inference = pm.variational.KLqp(approx)
            inference.fit(20, progressbar=False, compile_kwargs=FAST)
        return inference.hist, [p.get_value() for p in approx.params]

    (hist1, params1), (hist2, params2) = run(), run()
    np.testing.assert_array_equal(hist1, hist2)
    for p1, p2 in zip(params1, params2, strict=True):
        np.testing.assert_array_equal(p1, p2)


def test_sample_node_and_state(four_var_model):
    approx = _mixed(four_var_model)
    a = four_var_model["a"]
    draws = approx.sample_node(a + 1.0, size=7).eval()
    assert draws.shape == (7,)
    state = approx.state
    assert set(state.mean.data_vars) == {"a", "b", "c", "d"}
    assert set(state.std.data_vars) == {"a", "b", "c", "d"}
    assert state.mean["b"].shape == (2,)
    assert np.all(state.mean["b"].values > 0)
    mean = pytensor.function([], approx.mean)()
    assert mean.shape == (approx.ndim,)
    cov = pytensor.function([], approx.cov)()
    assert cov.shape == (approx.ndim, approx.ndim)
    np.testing.assert_allclose(cov, cov.T)


def test_pickled_flow_approximations_sample_after_unpickling(four_var_model):
    approx = _mixed(four_var_model)
    with four_var_model:
        pm.variational.KLqp(approx).fit(20, progressbar=False, compile_kwargs=FAST)
    before = [p.get_value() for p in approx.params]
    clone = cloudpickle.loads(cloudpickle.dumps(approx))
    assert isinstance(clone.groups[2], NormalizingFlowGroup)
    assert clone.groups[2].formula == "scale-hh*2-planar-radial-loc"
    for p, value in zip(clone.params, before, strict=True):
        np.testing.assert_array_equal(p.get_value(), value)
    posterior = clone.sample(20, random_seed=1).posterior
    assert posterior["d"].shape == (1, 20, 3)
    with four_var_model:
        inference = pm.variational.KLqp(clone)
        inference.fit(5, progressbar=False, compile_kwargs=FAST)
    assert np.all(np.isfinite(inference.hist))


def test_user_shared_params_are_optimized_and_expressions_are_not(four_var_model):
    loc = pytensor.shared(np.zeros(3), "my_loc")
    log_scale = pytensor.shared(np.zeros(3), "my_log_scale")
    with four_var_model:
        group = Group(
            [four_var_model["d"]], params={0: {"rho": pt.exp(log_scale)}, 1: {"loc": loc}}
        )
        approx = Approximation([group, Group(None, vfam="mf")], random_seed=0)
    assert loc in group.params
    assert log_scale not in group.params
    with four_var_model:
        pm.variational.KLqp(approx).fit(
            30, progressbar=False, more_obj_params=[log_scale], compile_kwargs=FAST
        )
    assert not np.allclose(loc.get_value(), 0.0)
    assert not np.allclose(log_scale.get_value(), 0.0)
