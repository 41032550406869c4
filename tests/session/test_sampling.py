"""Draws into a DataTree, k-hat, and NUTS reference draws."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from tests.session.conftest import FAST, correlated_model, normal_model
from vibench.session import Khat, Session, khat_reading


def test_sample_returns_a_datatree_arviz_reads(session):
    session.add_group("fr", ["mu", "tau"])
    session.fit(300, learning_rate=0.05, seed=1)
    tree = session.sample(200, seed=3)
    assert isinstance(tree, xr.DataTree)
    post = tree["posterior"].to_dataset()
    assert set(post.data_vars) == {"mu", "tau", "theta_tilde", "theta"}
    assert post["mu"].dims == ("chain", "draw")
    assert post["theta_tilde"].dims == ("chain", "draw", "school")
    assert post.sizes["chain"] == 1
    assert post.sizes["draw"] == 200
    assert (post["tau"] > 0).all()  # constrained space
    np.testing.assert_allclose(
        post["theta"], post["mu"] + post["tau"] * post["theta_tilde"], rtol=1e-10
    )
    vi = tree["vi"].to_dataset()
    np.testing.assert_array_equal(vi["elbo"].values, session.elbo)
    assert json.loads(vi.attrs["plan"]) == session.to_dict()["plan"]
    assert json.loads(vi.attrs["settings"])["learning_rate"] == 0.05
    assert vi["log_p"].shape == (1, 200)
    assert vi["log_q"].shape == (1, 200)

    import arviz_stats

    summary = arviz_stats.summary(tree, kind="stats")
    assert "mu" in summary.index


def test_sample_is_seeded_and_compiled_once_per_plan(session):
    a = session.sample(50, seed=1)
    b = session.sample(50, seed=1)
    c = session.sample(50, seed=2)
    assert session.sample_compile_count == 1
    np.testing.assert_array_equal(a["posterior"]["mu"], b["posterior"]["mu"])
    assert not np.array_equal(a["posterior"]["mu"], c["posterior"]["mu"])
    session.fit(10)
    session.sample(10)
    assert session.sample_compile_count == 1
    session.add_group("fr", ["mu"])
    session.sample(10)
    assert session.sample_compile_count == 2


def test_khat_reading_thresholds():
    assert khat_reading(0.2) == "good"
    assert khat_reading(0.5) == "usable"
    assert khat_reading(0.7) == "usable"
    assert khat_reading(0.71) == "do not trust"
    assert khat_reading(float("inf")) == "do not trust"


def test_khat_good_when_mean_field_is_exact():
    s = Session(normal_model(), compile_kwargs=FAST)
    run = s.fit(3000, learning_rate=0.05, seed=1)
    result = s.khat(2000, seed=1)
    assert isinstance(result, Khat)
    assert result.khat < 0.5
    assert result.reading == "good"
    assert run.khat < 0.5
    assert run.khat.reading == "good"


def test_khat_poor_for_mean_field_on_correlated_posterior_and_good_for_full_rank():
    mf = Session(correlated_model(), compile_kwargs=FAST)
    mf.fit(3000, learning_rate=0.05, seed=1)
    poor = mf.khat(2000, seed=1)
    assert poor.khat > 0.7
    assert poor.reading == "do not trust"

    fr = Session(correlated_model(), compile_kwargs=FAST)
    fr.set_family("rest", "full_rank")
    fr.fit(3000, learning_rate=0.05, seed=1)
    good = fr.khat(2000, seed=1)
    assert good.khat < 0.7
    assert good.khat < poor.khat


def test_run_khat_uses_the_parameters_the_run_left():
    s = Session(correlated_model(), compile_kwargs=FAST)
    s.set_family("rest", "full_rank")
    early = s.fit(5, learning_rate=0.05, seed=1)
    late = s.fit(3000)
    before = [p.get_value().copy() for p in s.approximation.params]
    assert late.khat < 0.7
    assert early.khat > late.khat
    after = [p.get_value() for p in s.approximation.params]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)  # the live parameters are untouched


@pytest.mark.slow
def test_reference_draws_are_cached_per_model():
    model = normal_model()
    s = Session(model, compile_kwargs=FAST)
    future = s.reference(200, tune=200, chains=1, background=True)
    tree = future.result(timeout=120)
    assert "posterior" in tree.children
    assert tree["posterior"]["mu"].shape == (1, 200)
    again = Session(model, compile_kwargs=FAST).reference(200, tune=200, chains=1)
    assert again is tree


def test_khat_result_is_a_float_with_a_reading():
    k = Khat(0.62, draws=1000)
    assert isinstance(k, float)
    assert k == 0.62
    assert k.khat == 0.62
    assert k.reading == "usable"
    assert k.draws == 1000
    assert "usable" in str(k)
    import pickle

    again = pickle.loads(pickle.dumps(k))
    assert (float(again), again.reading, again.draws) == (0.62, "usable", 1000)
