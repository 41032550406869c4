"""Tiered step functions: start at once, switch to a fast backend, keep one trace."""

from __future__ import annotations

import json
import time
import types

import numpy as np
import pymc as pm
import pytest

from vibench.session import Session, StepFunction, _backends, _runner
from vibench.session._backends import BackendMemory, available_backends, fingerprint

from .conftest import FAST, normal_model


def _fit_across_a_switch(session: Session, timeout: float = 240.0):
    """Start a long fit, stop it once it has run on a second backend; return the run."""
    run = session.start(10**7, seed=3)
    deadline = time.monotonic() + timeout
    while len(run.backends) < 2 and time.monotonic() < deadline and session.running:
        time.sleep(0.02)
    time.sleep(0.1)  # a few chunks on the new backend
    session.stop()
    session.wait()
    return run


def _step(session: Session) -> StepFunction:
    (step,) = session._fitted.steps.values()
    return step


def test_the_trace_is_one_continuous_run_across_the_switch():
    tiered = Session("eight_schools", backend="c")
    run = _fit_across_a_switch(tiered)
    assert [b for _, b in run.backends[:2]] == ["fast_compile", "c"], run.backends
    switch_at = run.backends[1][0]
    assert 0 < switch_at < run.iterations
    # the same fit with one function all along: every ELBO value and parameter agree,
    # so no step was lost or repeated and the optimizer state carried over
    plain = Session("eight_schools", compile_kwargs=FAST)
    reference = plain.fit(run.iterations, seed=3)
    # (here they agree to 1e-14; the tolerance leaves room for compilers that round
    # differently, while a lost or repeated step would move them by ~1e-2)
    np.testing.assert_allclose(run.elbo, reference.elbo, rtol=1e-6, atol=1e-6)
    for a, b in zip(tiered._fitted.params(), plain._fitted.params(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    assert tiered.compile_count == 1


def test_stop_resume_and_reset_keep_the_backend_and_compile_nothing():
    s = Session("eight_schools", backend="c")
    _fit_across_a_switch(s)
    step = _step(s)
    assert step.backend == "c"
    again = s.fit(500)
    assert again.backends == [(again.start_iteration, "c")]
    assert again.compile_seconds == 0.0
    s.reset()
    after_reset = s.fit(200, seed=3)
    assert after_reset.backends[0][1] == "c"
    assert s.compile_count == 1


def test_first_point_comes_from_the_fast_tier_at_once():
    s = Session(normal_model(), backend="c")
    run = s.fit(50, seed=1)
    assert run.backends[0] == (0, "fast_compile")
    assert 0 < run.first_step_seconds < 60
    assert run.status == "finished"
    assert run.iterations == 50


def test_auto_measures_every_backend_and_remembers_the_winner(tmp_path, monkeypatch):
    monkeypatch.setenv("VIBENCH_CACHE_DIR", str(tmp_path))
    s = Session("eight_schools")
    s.start(10**7, seed=0)
    step = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if s._fitted is not None and s._fitted.steps:
            step = _step(s)
            if step.settled.is_set():
                break
    s.stop()
    s.wait()
    assert step is not None
    assert step.settled.is_set(), "no backend was chosen in time"
    rates = step.rates
    measured = {k: v for k, v in rates.items() if k != "fast_compile"}
    assert set(measured) == set(available_backends())
    fastest = max(measured, key=measured.get)
    if fastest != _runner.DEFAULT_BACKEND and measured[fastest] < _runner.CLEAR_WIN * measured.get(
        _runner.DEFAULT_BACKEND, 0.0
    ):
        fastest = _runner.DEFAULT_BACKEND  # a near tie keeps PyMC's default
    assert step.backend == fastest
    saved = json.loads((tmp_path / "backends.json").read_text())
    (entry,) = saved.values()
    assert entry["backend"] == step.backend
    # a new session on the same model and plan builds only the winner
    s2 = Session("eight_schools")
    s2.fit(20, seed=0)
    step2 = _step(s2)
    assert step2.built.wait(120)
    assert set(step2.build_seconds) == {step.backend}


def test_a_backend_that_fails_to_build_leaves_the_fit_on_the_fast_tier(monkeypatch):
    monkeypatch.setitem(_runner.BACKEND_MODES, "broken", "NO_SUCH_MODE")
    s = Session(normal_model(), backend="c")
    s.build()
    with s.model:
        step = StepFunction(
            s._fitted.inference.objective, s.settings, {}, backends=["broken"], model=s.model
        )
    assert step.built.wait(30)
    assert "broken" in step.build_errors
    assert step.poll() is None
    assert step.backend == "fast_compile"
    loss = step()
    assert np.isfinite(loss)


def test_editing_the_plan_stops_the_background_builds():
    s = Session("eight_schools", backend="numba")
    s.fit(5, seed=0)
    step = _step(s)
    s.set_family("rest", "full_rank")
    assert step._closed.is_set()


def test_session_refuses_an_unknown_backend():
    with pytest.raises(ValueError, match="backend must be one of"):
        Session(normal_model(), backend="gpu")


def test_backend_memory_survives_a_corrupt_file_and_checks_availability(tmp_path, monkeypatch):
    path = tmp_path / "b.json"
    path.write_text("{not json")
    memory = BackendMemory(path)
    assert memory.lookup("k") is None
    memory.remember("k", "numba", {"numba": 10.0, "c": 5.0})
    assert memory.lookup("k") == "numba"
    assert json.loads(path.read_text())["k"]["rates"] == {"numba": 10.0, "c": 5.0}
    memory.remember("k2", "c", {"c": 9.0})
    no_compiler = types.SimpleNamespace(config=types.SimpleNamespace(cxx=""), __version__="x")
    monkeypatch.setattr(_backends, "pytensor", no_compiler)
    assert available_backends() == ["numba"]
    assert memory.lookup("k2") is None  # remembered C, but no compiler here


def test_fingerprint_follows_the_plan_and_settings():
    s = Session("eight_schools")
    key = s.settings.compile_key()
    a = fingerprint(s.model, s.to_dict()["plan"], key)
    assert a == fingerprint(s.model, s.to_dict()["plan"], key)
    s.set_family("rest", "full_rank")
    assert fingerprint(s.model, s.to_dict()["plan"], key) != a
    s.configure(learning_rate=0.5)
    assert fingerprint(s.model, s.to_dict()["plan"], s.settings.compile_key()) != a


def _normal_with_scale() -> pm.Model:
    y = np.random.default_rng(0).normal(1.0, 0.5, size=50)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Normal("y", mu, sigma, observed=y)
    return model


def test_live_draws_compile_once_per_plan_and_follow_the_fit():
    s = Session(_normal_with_scale(), compile_kwargs=FAST)
    s.fit(10, seed=0, learning_rate=0.05)
    before = s.sample_compile_count
    first = s.draws(200, seed=1)
    assert set(first) == {"mu", "sigma"}
    assert first["mu"].shape == (200,)
    assert (first["sigma"] > 0).all()  # constrained space
    s.fit(1_500, learning_rate=0.05)
    later = s.draws(200, seed=1)
    assert s.sample_compile_count == before + 1  # frames never compile again
    assert s.compile_count == 1
    # the draws follow the fitted parameters (the data have mean 1)
    assert abs(later["mu"].mean() - 1.0) < abs(first["mu"].mean() - 1.0)
    np.testing.assert_allclose(later["mu"], s.draws(200, seed=1)["mu"])  # seeded
    s.set_family("rest", "full_rank")
    s.draws(5)
    assert s.sample_compile_count == before + 2  # a new plan compiles its own
