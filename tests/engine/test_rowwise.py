"""Row-wise groups (``rowwise=True``): an independent approximation per row."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytest

import vibench
from tests.engine._local_helpers import FAST, flat_jacobian_logdet
from vibench.engine import (
    BatchedFlowGroup,
    BatchedFullRankGroup,
    BatchedGroupError,
    BatchedMeanFieldGroup,
    FlowParamsError,
    RowwiseGroupError,
    UnknownFamilyError,
)

ROWS, COLS = 3, 2
# Normal-Normal per row: mu[i, j] ~ N(0, 1), counts[i] observations y ~ N(mu[i, j], SIGMA)
SIGMA = 0.5
COUNTS = np.array([1, 4, 12])


def conjugate_model():
    rng = np.random.default_rng(7)
    truth = rng.normal(size=(ROWS, COLS))
    data = [truth[i] + SIGMA * rng.normal(size=(c, COLS)) for i, c in enumerate(COUNTS)]
    precision = 1.0 + COUNTS / SIGMA**2
    post_mean = np.stack([d.sum(0) / SIGMA**2 for d in data]) / precision[:, None]
    post_sd = np.broadcast_to(1.0 / np.sqrt(precision)[:, None], (ROWS, COLS))
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0, shape=(ROWS, COLS))
        pm.Normal("s", 0.0, 1.0)  # a second, unrelated variable for the rest group
        for i, d in enumerate(data):
            pm.Normal(f"y{i}", mu[i], SIGMA, observed=d)
    return model, post_mean, post_sd


@pytest.mark.parametrize(
    ("vfam", "cls"),
    [
        ("mf", BatchedMeanFieldGroup),
        ("mean_field", BatchedMeanFieldGroup),
        ("FR", BatchedFullRankGroup),
        ("scale-loc", BatchedFlowGroup),
        ("scale-hh-planar-loc", BatchedFlowGroup),
    ],
)
def test_rowwise_dispatch_and_parameter_shapes(vfam, cls):
    model, _, _ = conjugate_model()
    with model:
        group = vibench.Group([model["mu"]], vfam=vfam, rowwise=True)
    assert type(group) is cls
    assert group.rowwise
    assert not group.local
    assert group.ddim == ROWS * COLS
    assert group.row_size == COLS
    for shared in group.params:
        assert shared.get_value().shape[0] == ROWS  # one set of parameters per row
    if cls is BatchedFullRankGroup:
        assert group.params_dict["L_tril"].get_value().shape == (ROWS, 3)


@pytest.mark.parametrize("vfam", ["mf", "fr", "scale-planar-loc"])
def test_logq_scalar_and_symbolic_logq_per_draw_in_a_mixed_approximation(vfam):
    model, _, _ = conjugate_model()
    with model:
        approx = vibench.Approximation(
            [vibench.Group([model["mu"]], vfam=vfam, rowwise=True), vibench.Group(None, "fr")]
        )
    for s in (1, 2, 3):
        symbolic = approx.set_size_and_deterministic(approx.symbolic_logq, s, 0)
        scalar = approx.set_size_and_deterministic(approx.logq, s, 0)
        values = pytensor.function([], [symbolic, scalar], **FAST)()
        assert values[0].shape == (s,)
        assert np.ndim(values[1]) == 0


@pytest.mark.parametrize("vfam", ["mf", "fr", "scale-loc"])
def test_rowwise_recovers_each_rows_conjugate_posterior(vfam):
    model, post_mean, post_sd = conjugate_model()
    with model:
        group = vibench.Group([model["mu"]], vfam=vfam, rowwise=True, random_seed=1)
        approx = vibench.Approximation([group, vibench.Group(None, vfam="mf")], random_seed=1)
        pm.variational.KLqp(approx).fit(
            2500,
            obj_n_mc=4,
            obj_optimizer=pm.adam(learning_rate=0.02),
            progressbar=False,
            compile_kwargs=FAST,
        )
    mean, std = pytensor.function([], [group.mean, group.std], **FAST)()
    np.testing.assert_allclose(mean.reshape(ROWS, COLS), post_mean, atol=0.08)
    np.testing.assert_allclose(std.reshape(ROWS, COLS), post_sd, rtol=0.2)
    draws = approx.sample(400, random_seed=0).posterior["mu"].values[0]
    assert draws.shape == (400, ROWS, COLS)


def test_full_rank_rows_are_independent_of_each_other():
    model, _, _ = conjugate_model()
    with model:
        group = vibench.Group([model["mu"]], vfam="fr", rowwise=True)
    group.params_dict["L_tril"].set_value(np.random.default_rng(0).normal(size=(ROWS, 3)))
    cov = pytensor.function([], group.cov, **FAST)()
    for i in range(ROWS):
        for j in range(ROWS):
            block = cov[i * COLS : (i + 1) * COLS, j * COLS : (j + 1) * COLS]
            if i != j:
                np.testing.assert_allclose(block, 0.0)
            else:
                assert abs(block[0, 1]) > 1e-3  # a full covariance inside each row


def test_rowwise_flow_log_det_matches_autodiff_per_row():
    model, _, _ = conjugate_model()
    with model:
        group = vibench.Group([model["mu"]], vfam="scale-hh-planar-radial-loc", rowwise=True)
    jac, log_det = flat_jacobian_logdet(group, ROWS)
    blocks = [np.linalg.slogdet(jac[i * 2 : i * 2 + 2, i * 2 : i * 2 + 2])[1] for i in range(3)]
    np.testing.assert_allclose(log_det, sum(blocks), atol=1e-4)
    np.testing.assert_allclose(np.linalg.slogdet(jac)[1], log_det, atol=1e-4)


def test_several_variables_share_rows():
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 1.0, shape=(4, 2))
        b = pm.HalfNormal("b", 1.0, shape=4)
        pm.Normal("y", a.sum(1) * b, 1.0, observed=np.ones(4))
        group = vibench.Group([a, b], vfam="fr", rowwise=True)
        approx = vibench.Approximation([group])
        pm.variational.KLqp(approx).fit(
            20, progressbar=False, compile_kwargs=FAST, obj_optimizer=pm.adam()
        )
    assert group.row_size == 3
    assert group.ddim == 12
    posterior = approx.sample(5, random_seed=0).posterior
    assert posterior["a"].shape == (1, 5, 4, 2)
    assert posterior["b"].shape == (1, 5, 4)
    assert (posterior["b"].values > 0).all()
    mean = pytensor.function([], group.mean, **FAST)()
    start = model.initial_point()
    np.testing.assert_allclose(mean[:8].reshape(4, 2), start["a"], atol=1.0)


def test_rowwise_accepts_shared_params_with_a_row_axis():
    model, _, _ = conjugate_model()
    mu = pytensor.shared(np.ones((ROWS, COLS)))
    rho = pytensor.shared(np.zeros((ROWS, COLS)))
    with model:
        group = vibench.Group([model["mu"]], params={"mu": mu, "rho": rho}, rowwise=True)
    assert group.params == [mu, rho]
    with model, pytest.raises(FlowParamsError, match="rows"):
        vibench.Group(
            [model["mu"]],
            params={"mu": np.ones((2, COLS)), "rho": np.ones((2, COLS))},
            rowwise=True,
        )


def test_rowwise_misuse_is_refused():
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 1.0, shape=(4, 2))
        b = pm.Normal("b", 0.0, 1.0, shape=3)
        c = pm.Normal("c", 0.0, 1.0)
    with model, pytest.raises(RowwiseGroupError, match="same number of rows"):
        vibench.Group([a, b], vfam="mf", rowwise=True)
    with model, pytest.raises(RowwiseGroupError, match="group=None"):
        vibench.Group(None, vfam="mf", rowwise=True)
    with model, pytest.raises(BatchedGroupError, match="scalar"):
        vibench.Group([c], vfam="mf", rowwise=True)
    with model, pytest.raises(UnknownFamilyError, match="nope"):
        vibench.Group([a], vfam="scale-nope", rowwise=True)
    with model, pytest.raises(TypeError, match="both"):
        vibench.Group([a], vfam="mf", params={"mu": 0, "rho": 0}, rowwise=True)
