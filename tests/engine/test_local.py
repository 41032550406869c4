"""Amortized (``local=True``, AEVB) groups: PyMC 3's behaviours, on PyMC 6."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest

import vibench
from tests.engine._local_helpers import (
    FAST,
    LATENT,
    N_FEATURES,
    N_ROWS,
    flat_jacobian_logdet,
    linear_encoder,
    shared_data_vae,
    vae_data,
)
from vibench.engine import (
    AmortizedGroupError,
    BatchedFlowGroup,
    BatchedFullRankGroup,
    BatchedGroupError,
    BatchedMeanFieldGroup,
    FlowParamsError,
    NormalizingFlowGroup,
    UnbatchableFamilyError,
    UnsupportedGroupOptionError,
)

FAMILIES = ["mf", "fr", "flow"]
CLASSES = {"mf": BatchedMeanFieldGroup, "fr": BatchedFullRankGroup, "flow": BatchedFlowGroup}


@pytest.mark.parametrize("family", FAMILIES)
def test_params_dispatch_to_the_batched_family(family):
    _, _, group, _ = shared_data_vae(family)
    assert type(group) is CLASSES[family]
    assert isinstance(group, vibench.Group)
    assert group.local
    assert not group.rowwise
    assert group.params == []  # encoder outputs are not collected: more_obj_params
    if family == "flow":
        assert group.formula == "scale-planar-loc"
        assert [f.short_name for f in group.flows] == ["scale", "planar", "loc"]


def test_sample_rows_follow_the_encoder_input_default_mode(numba_mode):
    data = vae_data()
    model, x, group, _ = shared_data_vae("mf", data)
    with model:
        approx = vibench.Approximation([group, vibench.Group(None, vfam="mf")])
    x.set_value(data[:9])
    assert approx.sample(3, random_seed=1).posterior["z"].shape == (1, 3, 9, LATENT)


@pytest.mark.parametrize("family", FAMILIES)
def test_sample_rows_follow_the_encoder_input(family):
    data = vae_data()
    model, x, group, _ = shared_data_vae(family, data)
    with model:
        approx = vibench.Approximation([group, vibench.Group(None, vfam="mf")])
    assert approx.sample(4, random_seed=1).posterior["z"].shape == (1, 4, N_ROWS, LATENT)
    x.set_value(data[:7])
    assert approx.sample(3, random_seed=1).posterior["z"].shape == (1, 3, 7, LATENT)
    draws = approx.set_size_and_deterministic(group.symbolic_random, 5, 0)
    assert pytensor.function([], draws, **FAST)().shape == (5, 7 * LATENT)
    x.set_value(data[:2])
    assert pytensor.function([], draws, **FAST)().shape == (5, 2 * LATENT)


def test_sample_latent_answers_for_new_inputs_without_refitting():
    data = vae_data()
    _model, x, group, _ = shared_data_vae("mf", data)
    new = np.random.default_rng(5).normal(size=(3, N_FEATURES))
    draws = group.sample_latent(50, replacements={x: new}, random_seed=0)
    assert draws.shape == (50, 3, LATENT)
    # the mean-field encoder's mean for those rows, computed by hand
    weights = group.params_dict["mu"].owner.inputs[0].owner.inputs[0]
    assert np.isfinite(draws).all()
    assert weights is not None


@pytest.mark.parametrize("family", FAMILIES)
def test_logq_is_a_scalar_and_symbolic_logq_has_one_value_per_draw(family):
    model, _, group, _ = shared_data_vae(family)
    with model:
        approx = vibench.Approximation([group, vibench.Group(None, vfam="fr")])
    for s in (1, 2, 3):
        symbolic = approx.set_size_and_deterministic(approx.symbolic_logq, s, 0)
        scalar = approx.set_size_and_deterministic(approx.logq, s, 0)
        values = pytensor.function([], [symbolic, scalar], **FAST)()
        assert values[0].shape == (s,)
        assert np.ndim(values[1]) == 0
        assert np.isfinite(values[0]).all()


def test_logq_is_scaled_to_total_size_like_minibatches():
    data = vae_data()
    model, x, group, _ = shared_data_vae("mf", data)
    x.set_value(data[:12])
    pair = group.set_size_and_deterministic(
        [group.symbolic_logq, group.symbolic_logq_not_scaled], 2, 0
    )
    scaled, plain = pytensor.function([], pair, **FAST)()
    np.testing.assert_allclose(scaled, plain * N_ROWS / 12)
    # the latent's prior is scaled by the same factor (PyMC's minibatch rule)
    z_logp = pm.logp(model["z"], np.zeros((12, LATENT))).sum()
    norm = -0.5 * np.log(2 * np.pi) * 12 * LATENT
    np.testing.assert_allclose(pytensor.function([], z_logp, **FAST)(), norm * N_ROWS / 12)


@pytest.mark.parametrize(
    "spec",
    ["scale", "loc", "hh", "planar", "radial", "scale-hh-planar-radial-loc"],
)
def test_batched_flow_log_det_matches_autodiff_jacobian_per_row(spec):
    rng = np.random.default_rng(3)
    n, d = 3, 3
    names = vibench.flows.parse_formula(spec)
    params = {}
    for k, name in enumerate(names):
        cls = vibench.flows.registered_flows()[name]
        params[k] = {
            p: pt.as_tensor_variable(rng.normal(size=(n, *shape)))
            for p, shape in cls.param_shapes(d).items()
        }
    with pm.Model():
        z = pm.Normal("z", 0.0, 1.0, shape=(n, d))
        group = vibench.Group([z], params=params, local=True)
    jac, log_det = flat_jacobian_logdet(group, n)
    blocks = [jac[i * d : (i + 1) * d, i * d : (i + 1) * d] for i in range(n)]
    # rows are independent: the Jacobian is block diagonal
    off = jac.copy()
    for i in range(n):
        off[i * d : (i + 1) * d, i * d : (i + 1) * d] = 0.0
    np.testing.assert_allclose(off, 0.0, atol=1e-10)
    per_row = [np.linalg.slogdet(b)[1] for b in blocks]
    np.testing.assert_allclose(log_det, sum(per_row), atol=1e-4)
    assert np.isfinite(per_row).all()


def test_full_rank_rows_have_their_own_covariance():
    tril = np.array([[0.0, 0.5, 1.0], [2.0, -1.0, -3.0]])
    with pm.Model():
        z = pm.Normal("z", 0.0, 1.0, shape=(2, 2))
        group = vibench.Group(
            [z], params={"mu": pt.as_tensor(np.zeros((2, 2))), "L_tril": tril}, local=True
        )
    cov = pytensor.function([], group.cov, **FAST)()
    soft = np.log1p(np.exp(tril[:, [0, 2]]))
    for i in range(2):
        L = np.array([[soft[i, 0], 0.0], [tril[i, 1], soft[i, 1]]])
        np.testing.assert_allclose(cov[2 * i : 2 * i + 2, 2 * i : 2 * i + 2], L @ L.T)
    np.testing.assert_allclose(cov[:2, 2:], 0.0)


@pytest.mark.parametrize("family", FAMILIES)
def test_vae_fits_with_pm_minibatch(family):
    data = vae_data()
    with pm.Model():
        x = pm.Minibatch(data, batch_size=10)
        z = vibench.minibatch_latent(
            "z", pm.Normal.dist(0.0, 1.0, shape=(x.shape[0], LATENT)), total_size=N_ROWS
        )
        w = pm.Normal("w", 0.0, 1.0, shape=(LATENT, N_FEATURES))
        pm.Normal("x", z @ w, 0.3, observed=x, total_size=N_ROWS)
        params, weights = linear_encoder(x, family)
        group = vibench.Group([z], params=params, local=True)
        approx = vibench.Approximation([group, vibench.Group(None, vfam="mf")], random_seed=2)
        before = weights.get_value().copy()
        approx = pm.variational.KLqp(approx).fit(
            30,
            more_obj_params=[weights],
            obj_optimizer=pm.adam(learning_rate=0.01),
            progressbar=False,
            compile_kwargs=FAST,
        )
    assert np.isfinite(approx.hist).all()
    assert not np.allclose(weights.get_value(), before)
    new = np.random.default_rng(1).normal(size=(4, N_FEATURES))
    assert group.sample_latent(6, replacements={x: new}).shape == (6, 4, LATENT)


def test_vae_fits_with_more_replacements_and_improves():
    data = vae_data()
    model, x, group, weights = shared_data_vae("mf", data)
    with model:
        approx = vibench.Approximation([group, vibench.Group(None, vfam="mf")], random_seed=0)
        approx = pm.variational.KLqp(approx).fit(
            400,
            more_obj_params=[weights],
            more_replacements={x: pm.Minibatch(data, batch_size=20)},
            obj_optimizer=pm.adam(learning_rate=0.02),
            progressbar=False,
            compile_kwargs=FAST,
        )
    hist = approx.hist
    assert np.isfinite(hist).all()
    assert hist[-50:].mean() < hist[:50].mean()
    x.set_value(data[:5])
    assert approx.sample(10, random_seed=0).posterior["z"].shape == (1, 10, 5, LATENT)


# -- misuse ------------------------------------------------------------------------------------
@pytest.fixture
def small():
    with pm.Model() as model:
        pm.Normal("z", 0.0, 1.0, shape=(3, 2))
        pm.Normal("y", 0.0, 1.0, shape=(3, 2))
        pm.Normal("s", 0.0, 1.0)
    return model


def _mf(n=3, k=2):
    return {"mu": pt.as_tensor(np.zeros((n, k))), "rho": pt.as_tensor(np.zeros((n, k)))}


def test_local_and_rowwise_together_are_refused(small):
    with small, pytest.raises(BatchedGroupError, match="cannot be combined"):
        vibench.Group([small["z"]], params=_mf(), local=True, rowwise=True)
    with small, pytest.raises(BatchedGroupError, match="cannot be combined"):
        vibench.Group([small["z"]], params=_mf(), options={"local": True, "rowwise": True})


def test_local_needs_params_not_vfam(small):
    with small, pytest.raises(AmortizedGroupError, match="takes params"):
        vibench.Group([small["z"]], vfam="mf", local=True)


def test_local_takes_exactly_one_variable(small):
    with small, pytest.raises(AmortizedGroupError, match="exactly one variable"):
        vibench.Group([small["z"], small["y"]], params=_mf(), local=True)
    with small, pytest.raises(AmortizedGroupError, match="group=None"):
        vibench.Group(None, params=_mf(), local=True)


def test_empirical_cannot_be_amortized_or_rowwise(small):
    with small, pytest.raises(UnbatchableFamilyError, match="empirical"):
        vibench.Group([small["z"]], params={"histogram": np.zeros((5, 6))}, local=True)
    with small, pytest.raises(UnbatchableFamilyError, match="empirical"):
        vibench.Group([small["z"]], vfam="empirical", rowwise=True)


def test_a_scalar_variable_has_no_rows(small):
    with small, pytest.raises(BatchedGroupError, match="scalar"):
        vibench.Group([small["s"]], params=_mf(1, 1), local=True)


def test_params_need_a_batch_axis_and_the_row_shape(small):
    with small, pytest.raises(FlowParamsError, match="leading axis of rows"):
        vibench.Group([small["z"]], params={"mu": np.zeros(2), "rho": np.zeros(2)}, local=True)
    with small, pytest.raises(FlowParamsError, match="per-row shape"):
        vibench.Group(
            [small["z"]], params={"mu": np.zeros((3, 5)), "rho": np.zeros((3, 5))}, local=True
        )
    with small, pytest.raises(FlowParamsError, match="exactly the parameters"):
        vibench.Group([small["z"]], params={"mu": np.zeros((3, 2))}, local=True)


def test_rows_of_different_params_must_agree(small):
    mu, rho = pt.matrix("mu", shape=(None, 2)), pt.matrix("rho", shape=(None, 2))
    with small:
        group = vibench.Group([small["z"]], params={"mu": mu, "rho": rho}, local=True)
    draws = group.set_size_and_deterministic(group.symbolic_random, 1, 0)
    fn = pytensor.function([mu, rho], draws, **FAST)
    assert fn(np.zeros((4, 2)), np.zeros((4, 2))).shape == (1, 8)
    with pytest.raises(AssertionError, match="same batch size"):
        fn(np.zeros((3, 2)), np.zeros((4, 2)))


def test_minibatched_model_needs_a_total_size_on_the_local_variable():
    data = vae_data()
    with pm.Model():
        x = pm.Minibatch(data, batch_size=10)
        z = pm.Normal("z", 0.0, 1.0, shape=(10, LATENT))
        w = pm.Normal("w", 0.0, 1.0, shape=(LATENT, N_FEATURES))
        pm.Normal("x", z @ w, 0.3, observed=x, total_size=N_ROWS)
        params, _ = linear_encoder(x, "mf")
        with pytest.raises(AmortizedGroupError, match="minibatch_latent"):
            vibench.Group([z], params=params, local=True)


def test_group_classes_called_directly_refuse_the_options(small):
    with small, pytest.raises(UnsupportedGroupOptionError, match=r"vibench\.Group"):
        NormalizingFlowGroup([small["z"]], vfam="scale-loc", local=True)


def test_batched_class_called_directly_needs_a_mode(small):
    with small, pytest.raises(BatchedGroupError, match="local=True or rowwise=True"):
        BatchedMeanFieldGroup([small["z"]], vfam="mf")
