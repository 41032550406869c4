"""Empirical (particle) plans: SVGD through the session, its plan rule, draws and code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest

from tests.session.conftest import FAST, normal_model
from vibench.session import (
    NOT_AVAILABLE,
    FitSettings,
    PlanError,
    Session,
    SessionBusyError,
    trace_label,
)
from vibench.session._diagnostics import psis_khat
from vibench.session._families import TRACE_LABEL, is_particle_plan
from vibench.session._particles import ParticleStep

N_OBS = 20
PRIOR_SD = 10.0


def _particle_session(model=None, *, particles=None, temperature=None, seed=None) -> Session:
    """A session whose rest group is empirical (through a preset: the public way in)."""
    s = Session(model if model is not None else normal_model(), compile_kwargs=FAST)
    s.set_family("rest", "empirical")
    data = s.to_dict()
    if particles is not None:
        data["plan"]["particles"] = particles
    if temperature is not None:
        data["settings"]["temperature"] = temperature
    if seed is not None:
        data["settings"]["seed"] = seed
    return Session.from_dict(s.model, data, compile_kwargs=FAST)


def _particles(s: Session) -> np.ndarray:
    return np.concatenate([g.histogram.get_value() for g in s.approximation.groups], axis=1)


def _closed_form() -> tuple[float, float]:
    y = np.random.default_rng(0).normal(1.0, 1.0, size=N_OBS)  # as normal_model()
    precision = N_OBS + 1 / PRIOR_SD**2
    return float(y.sum() / precision), float(precision**-0.5)


# ---------------------------------------------------------------- fitting
@pytest.fixture(scope="module")
def fitted() -> tuple[Session, object]:
    """SVGD on the conjugate normal mean: 150 particles, 800 steps."""
    s = _particle_session(particles=150, seed=3)
    run = s.fit(800, learning_rate=0.05)
    return s, run


def test_svgd_particles_match_the_closed_form_posterior(fitted):
    s, run = fitted
    assert run.status == "finished"
    assert run.iterations == 800
    assert isinstance(s._fitted.steps[next(iter(s._fitted.steps))], ParticleStep)
    x = _particles(s)[:, 0]
    assert x.shape == (150,)
    mean, sd = _closed_form()
    assert abs(x.mean() - mean) < 0.02
    # SVGD with 150 particles comes within a few percent of the posterior sd
    assert abs(x.std() - sd) / sd < 0.08


def test_trace_is_the_mean_log_density_of_the_particles(fitted):
    s, run = fitted
    assert run.elbo.shape == (800,)
    assert np.isfinite(run.elbo).all()
    # particles start jittered around the initial point and climb into the bulk
    assert run.elbo[-50:].mean() > run.elbo[:50].mean() + 1
    # the last value is mean_i log p(x_i) over the particles before the last move;
    # after 800 steps they hardly move, so it matches log p of the particles now
    logp = s.model.compile_logp()
    value_name = s.model.rvs_to_values[s.model["mu"]].name
    now = np.mean([logp({value_name: x}) for x in _particles(s)[:, 0]])
    assert run.elbo[-1] == pytest.approx(now, abs=1e-3)
    assert is_particle_plan(run.plan)
    assert trace_label(run.plan) == TRACE_LABEL
    assert trace_label(
        {"groups": [{"id": "rest", "family": "mean_field", "variables": ["mu"]}]}
    ) == ("ELBO")


def test_sample_resamples_the_particles(fitted):
    s, _ = fitted
    tree = s.sample(300, seed=1)
    mu = tree.posterior["mu"].values
    assert mu.shape == (1, 300)
    particles = _particles(s)[:, 0]
    assert np.isin(mu[0], particles).all()  # every draw is one of the particles
    assert len(np.unique(mu)) > 50
    vi = tree["vi"]
    assert np.isfinite(vi["log_p"].values).all()
    assert np.isnan(vi["log_q"].values).all()  # particles have no density
    assert np.isnan(vi.attrs["khat"])
    assert vi.attrs["khat_reading"] == NOT_AVAILABLE
    again = s.sample(300, seed=1).posterior["mu"].values
    np.testing.assert_array_equal(mu, again)


def test_khat_is_not_available_for_particles(fitted):
    s, run = fitted
    for khat in (s.khat(), run.khat):
        assert not khat.available
        assert khat.reading == NOT_AVAILABLE
        assert np.isnan(khat.khat)
        assert "not available for particle (empirical) approximations" in str(khat)
    # a density approximation still reads as before
    draws = np.random.default_rng(0).normal(size=100)
    assert psis_khat(-0.5 * draws**2, -0.6 * draws**2).available


def test_same_seed_same_particles():
    a = _particle_session(particles=20, seed=5)
    b = _particle_session(particles=20, seed=5)
    ra, rb = a.fit(30), b.fit(30)
    np.testing.assert_array_equal(ra.elbo, rb.elbo)
    np.testing.assert_array_equal(_particles(a), _particles(b))
    c = _particle_session(particles=20, seed=6)
    c.build()
    assert not np.array_equal(c._fitted.initial_params[0], a._fitted.initial_params[0])


def test_temperature_spreads_the_particles():
    # at temperature T, SVGD targets p^(1/T): a Gaussian's sd grows by sqrt(T)
    cold = _particle_session(particles=60, seed=1)
    hot = _particle_session(particles=60, seed=1, temperature=4.0)
    assert hot.settings.temperature == 4.0
    cold.fit(600, learning_rate=0.05)
    hot.fit(600, learning_rate=0.05)
    ratio = _particles(hot)[:, 0].std() / _particles(cold)[:, 0].std()
    assert 1.6 < ratio < 2.4


# ---------------------------------------------------------------- the plan rule
def test_mixed_plan_is_editable_but_refused_when_fitted(session):
    session.set_family("rest", "empirical")
    gid = session.add_group("mean_field", ["mu"])  # editing is free
    assert session.group("rest").family == "empirical"
    with pytest.raises(PlanError) as err:
        session.fit(5)
    message = str(err.value)
    assert "group 'rest' is empirical" in message
    assert "SVGD" in message
    assert f"group {gid!r} (mean_field)" in message
    assert "set every group to 'empirical'" in message
    assert session.compile_count == 0
    assert session.runs == []
    assert not session.running
    # a flow group next to particles is refused the same way
    session.set_family(gid, "planar")
    with pytest.raises(PlanError, match="cannot be fitted next to group"):
        session.start(5)
    with pytest.raises(PlanError, match="empirical"):
        session.build()
    # and an empirical group next to a mean-field rest
    session.set_family(gid, "empirical")
    session.set_family("rest", "fr")
    with pytest.raises(PlanError, match=f"group {gid!r} is empirical"):
        session.prepare()


def test_an_empty_rest_group_does_not_count():
    with pm.Model() as model:
        pm.Normal("a", 0.0, 1.0)
    s = Session(model, compile_kwargs=FAST)
    s.add_group("empirical", ["a"])  # rest is empty, its family mean-field
    s._plan.check_fittable()
    assert s._plan.is_particle_plan()


def test_several_empirical_groups_are_one_particle_cloud(session):
    session.set_family("rest", "empirical")
    gid = session.add_group("empirical", ["mu"])
    run = session.fit(60, learning_rate=0.05, seed=2)
    assert run.status == "finished"
    approx = session.approximation
    assert approx.all_histograms
    assert [type(g).__name__ for g in approx.groups] == ["EmpiricalGroup", "EmpiricalGroup"]
    assert [g.histogram.get_value().shape for g in approx.groups] == [(100, 1), (100, 9)]
    assert run.plan["particles"] == 100
    assert [g["id"] for g in run.plan["groups"]] == [gid, "rest"]
    tree = session.sample(40, seed=0)
    assert tree.posterior["theta"].shape == (1, 40, 8)
    assert tree.posterior["tau"].values.min() > 0


@pytest.mark.parametrize("bad", [1, 0, -3, 5001, 2.5, True, "100", None])
def test_bad_particle_counts_are_refused(bad):
    s = Session(normal_model(), compile_kwargs=FAST)
    s.set_family("rest", "empirical")
    data = s.to_dict()
    data["plan"]["particles"] = bad
    with pytest.raises(PlanError, match="particles must be an int from 2"):
        Session.from_dict(s.model, data)


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan"), "1", True])
def test_bad_temperatures_are_refused(bad):
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        FitSettings(temperature=bad)


def test_particle_count_is_part_of_the_plan():
    s = Session(normal_model(), compile_kwargs=FAST)
    plain = s._plan.key()
    assert "particles" not in s.to_dict()["plan"]  # no empirical group: nothing to say
    s.set_family("rest", "empirical")
    key = s._plan.key()
    assert s.particles == 100
    s.set_particles(40)
    assert s.particles == 40
    assert s._plan.key() != key  # a new count rebuilds the approximation
    assert plain != key
    assert s.to_dict()["plan"]["particles"] == 40
    with pytest.raises(PlanError, match="particles must be an int from 2"):
        s.set_particles(1)
    assert s.particles == 40


def test_set_particles_is_a_plan_edit():
    s = Session(normal_model(), compile_kwargs=FAST)
    s.set_family("rest", "empirical")
    changes = []
    s.on_change(lambda _s: changes.append(s.particles))
    s.set_particles(12)
    assert changes == [12]  # listeners (the board) hear of it
    s.fit(3, learning_rate=0.05)
    assert s.build().groups[0].histogram.get_value().shape == (12, 1)
    s.set_particles(15)  # a new count: a new cloud
    assert s.approximation is None
    run = s.start(10_000_000)
    try:
        with pytest.raises(SessionBusyError):
            s.set_particles(20)
    finally:
        s.stop()
        s.wait(timeout=30)
    assert s.particles == 15
    assert run.plan["particles"] == 15


def test_temperature_through_configure_fit_and_start():
    s = _particle_session(particles=10, seed=1)
    assert s.configure(temperature=2.0).temperature == 2.0
    s.fit(2)
    assert s.runs[-1].settings.temperature == 2.0
    s.fit(2, temperature=3.0)
    assert s.settings.temperature == 3.0
    run = s.start(2, temperature=0.5)
    s.wait(timeout=60)
    assert run.settings.temperature == 0.5
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        s.configure(temperature=0)
    assert s.settings.temperature == 0.5


# ---------------------------------------------------------------- the loop
def test_stop_resume_reset_without_recompiling():
    s = _particle_session(particles=30, seed=1)
    s.fit(20, learning_rate=0.05)
    assert s.compile_count == 1
    initial = [v.copy() for v in s._fitted.initial_params]
    run = s.start(10_000_000)
    time.sleep(0.5)
    s.stop()
    assert s.wait(timeout=5) is run
    assert run.status == "stopped"
    assert 0 < run.iterations < 10_000_000
    assert run.start_iteration == 20
    resumed = s.fit(15)
    assert resumed.status == "finished"
    assert resumed.start_iteration == 20 + run.iterations
    assert s.iteration == 35 + run.iterations
    assert s.compile_count == 1
    s.reset()
    assert s.iteration == 0
    assert s.elbo.size == 0
    np.testing.assert_array_equal(_particles(s), initial[0])
    again = s.fit(10)
    assert again.start_iteration == 0
    assert s.compile_count == 1
    # a new temperature compiles one new step on the same particles
    s.fit(5, temperature=2.0)
    assert s.compile_count == 2


def test_non_finite_log_density_ends_the_run_with_finite_particles():
    # the log density is NaN beyond |x| = 4; a hot cloud (temperature 100: sd 10)
    # spreads the particles past it
    with pm.Model() as model:
        x = pm.Normal("x", 0.0, 1.0)
        pm.Potential("wall", pt.switch(abs(x) > 4.0, np.nan, 0.0))
    s = _particle_session(model, particles=20, seed=1, temperature=100.0)
    run = s.fit(2000, learning_rate=0.05)
    assert run.status == "diverged"
    assert 10 < run.iterations < 2000
    assert np.isfinite(run.elbo).all()
    assert np.isfinite(_particles(s)).all()  # the last particles of finite values
    assert f"iteration {run.iterations + 1}" in run.message
    assert "a particle moved where the model's log density is not finite" in run.message
    # as for other families: reset, then fit with saner settings
    s.reset()
    again = s.fit(200, temperature=1.0)  # sd 1, far from the wall
    assert again.status == "finished"


# ---------------------------------------------------------------- export
def test_to_dict_round_trip_keeps_particles_and_temperature():
    s = _particle_session(particles=25, temperature=1.5, seed=4)
    data = json.loads(json.dumps(s.to_dict()))
    again = Session.from_dict(s.model, data, compile_kwargs=FAST)
    assert again.to_dict() == data
    assert again._plan.particles == 25
    assert again.settings.temperature == 1.5
    assert again.build().groups[0].histogram.get_value().shape == (25, 1)
    # presets saved before temperature existed still load
    del data["settings"]["temperature"]
    assert Session.from_dict(s.model, data).settings.temperature == 1.0


def test_to_code_is_plain_pymc_svgd_that_runs(session):
    session.set_family("rest", "empirical")
    session.add_group("empirical", ["mu"])
    data = session.to_dict()
    data["plan"]["particles"] = 12
    data["settings"].update(iterations=25, learning_rate=0.03, seed=9, temperature=1.5)
    s = Session.from_dict(session.model, data)
    code = s.to_code()
    assert "pm.SVGD(" in code
    assert "vibench.Group" not in code
    assert "n_particles=12" in code
    assert "temperature=1.5" in code
    probe = code + textwrap.dedent(
        """
        import json
        print(json.dumps({
            "approx": type(approx).__name__,
            "histogram": list(approx.histogram.get_value().shape),
            "draws": list(approx.sample(7).posterior["theta"].shape),
        }))
        """
    )
    env = dict(os.environ, PYTENSOR_FLAGS="mode=FAST_COMPILE")
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"approx": "Empirical", "histogram": [12, 10], "draws": [1, 7, 8]}
