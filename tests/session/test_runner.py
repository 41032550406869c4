"""The fitting runner: blocking and background fits, Stop/Resume, compiles, NaN."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.session.conftest import FAST, normal_model
from vibench.session import FitSettings, Progress, Run, Session, SessionBusyError


def _params(s: Session) -> list[np.ndarray]:
    return [p.get_value().copy() for p in s.approximation.params]


def test_fit_records_a_finished_run(session):
    run = session.fit(300, learning_rate=0.05, seed=1)
    assert isinstance(run, Run)
    assert run.status == "finished"
    assert run.iterations == 300
    assert run.elbo.shape == (300,)
    assert np.isfinite(run.elbo).all()
    assert run.seconds > 0
    assert run.plan == session.to_dict()["plan"]
    assert run.settings.learning_rate == 0.05
    assert run.approximation is session.approximation
    assert session.runs == [run]
    # the ELBO improves from the initial point
    assert run.elbo[-50:].mean() > run.elbo[:50].mean()


def test_same_seed_same_trace():
    a = Session(normal_model(), compile_kwargs=FAST).fit(100, seed=7)
    b = Session(normal_model(), compile_kwargs=FAST).fit(100, seed=7)
    np.testing.assert_array_equal(a.elbo, b.elbo)


def test_stop_keeps_parameters_and_resume_does_not_recompile(session):
    session.fit(50, seed=1)
    assert session.compile_count == 1
    run = session.start(10_000_000)
    assert session.running
    time.sleep(0.5)
    t0 = time.perf_counter()
    session.stop()
    assert session.wait(timeout=5) is run
    assert time.perf_counter() - t0 < 0.2  # Stop answers within a chunk
    assert not session.running
    assert run.status == "stopped"
    assert 0 < run.iterations < 10_000_000
    assert run.start_iteration == 50
    after_stop = _params(session)

    # resume: same plan + settings -> same step function, continues from the parameters
    resumed = session.fit(20)
    assert session.compile_count == 1
    assert resumed.start_iteration == 50 + run.iterations
    assert session.iteration == 70 + run.iterations
    assert len(session.elbo) == session.iteration
    moved = _params(session)
    assert any(not np.array_equal(a, b) for a, b in zip(after_stop, moved, strict=True))
    # one small step away from where Stop left it, not a fresh start
    assert max(np.max(np.abs(a - b)) for a, b in zip(after_stop, moved, strict=True)) < 1.0


def test_settings_changes_compile_once_each_and_reset_keeps_functions(session):
    session.fit(20, seed=0)
    initial_elbo = session.elbo[:5]
    session.fit(20, learning_rate=0.1)
    assert session.compile_count == 2
    session.fit(20, learning_rate=0.01)  # back to the first settings: reused
    session.fit(20, obj_n_mc=2)
    session.fit(20, optimizer="sgd")
    assert session.compile_count == 4
    session.fit(20, seed=5, tolerance=None, window=10)  # no compile for these
    assert session.compile_count == 4

    session.reset()
    assert session.iteration == 0
    assert session.elbo.size == 0
    session.fit(20, optimizer="adam", learning_rate=0.01, obj_n_mc=1, seed=0)
    assert session.compile_count == 4
    np.testing.assert_allclose(session.elbo[:5], initial_elbo)  # a fresh start
    assert len(session.runs) == 7


def test_plan_change_builds_a_new_approximation(session):
    session.fit(10)
    first = session.approximation
    session.add_group("fr", ["mu", "tau"])
    run = session.fit(10)
    assert session.compile_count == 2
    assert run.approximation is not first
    assert run.start_iteration == 0


def test_background_fit_rejects_a_second_fit_and_plan_edits(session):
    session.start(10_000_000)
    try:
        with pytest.raises(SessionBusyError):
            session.fit(10)
        with pytest.raises(SessionBusyError):
            session.add_group("fr", ["mu"])
        with pytest.raises(SessionBusyError):
            session.reset()
    finally:
        session.stop()
        session.wait(timeout=30)
    assert not session.running


def test_progress_is_throttled_delivered_from_the_worker_and_ends_with_the_run(session):
    events: list[Progress] = []
    stamps: list[float] = []
    threads: set[str] = set()

    def on_progress(p: Progress) -> None:
        events.append(p)
        stamps.append(time.perf_counter())
        threads.add(threading.current_thread().name)

    unsubscribe = session.subscribe(on_progress)
    session.fit(20)  # compile outside the timed part
    events.clear()
    stamps.clear()
    threads.clear()
    t0 = time.perf_counter()
    run = session.start(10_000_000)
    time.sleep(2.0)
    session.stop()
    session.wait(timeout=5)
    elapsed = time.perf_counter() - t0
    assert threads == {"vibench-fit"}
    running = [e for e in events if e.status == "running"]
    # throttled to one event per 0.25 s at most
    assert 2 <= len(running) <= elapsed / 0.25 + 1, (len(running), elapsed)
    assert (np.diff([e.iteration for e in running]) > 0).all()
    assert np.min(np.diff(stamps[: len(running)])) >= 0.24
    assert all(e.its_per_second > 0 and np.isfinite(e.smoothed_elbo) for e in running)
    assert [e.iteration for e in running] == sorted(e.iteration for e in running)
    final = events[-1]
    assert final.done
    assert final.status == "stopped"
    assert final.iteration == run.iterations
    unsubscribe()
    session.fit(5)
    assert events[-1] is final


def test_a_raising_subscriber_does_not_break_the_fit(session):
    def bad(p):
        raise RuntimeError("boom")

    session.subscribe(bad)
    assert session.fit(30).status == "finished"


def test_convergence_check_ends_a_run():
    s = Session(normal_model(), compile_kwargs=FAST)
    run = s.fit(50_000, learning_rate=0.1, tolerance=0.01, window=100, seed=1)
    assert run.status == "converged"
    assert 200 <= run.iterations < 50_000
    assert "converged" in run.message


def test_nan_loss_ends_the_run_keeps_finite_parameters_and_names_the_variable():
    s = Session(normal_model(), compile_kwargs=FAST)
    run = s.fit(2000, optimizer="sgd", learning_rate=1e9, seed=1)
    assert run.status == "diverged"
    assert run.iterations < 2000
    assert np.isfinite(run.elbo).all()
    assert all(np.isfinite(p).all() for p in _params(s))
    assert "mu" in run.message
    assert "iteration" in run.message
    # the kept parameters are huge here: reset, then fit with saner settings
    s.reset()
    again = s.fit(50, optimizer="adam", learning_rate=0.05)
    assert again.status == "finished"


def test_failed_background_fit_reraises_on_wait(session, monkeypatch):
    import vibench.session._session as session_module

    def broken(*args, **kwargs):
        raise RuntimeError("compile failed")

    monkeypatch.setattr(session_module, "StepFunction", broken)
    run = session.start(10)
    with pytest.raises(RuntimeError, match="compile failed"):
        session.wait(timeout=30)
    assert run.status == "failed"
    assert not session.running


@pytest.mark.parametrize(
    "kwargs",
    [
        {"optimizer": "nope"},
        {"learning_rate": 0},
        {"learning_rate": float("nan")},
        {"obj_n_mc": 0},
        {"seed": -1},
        {"tolerance": -1.0},
    ],
)
def test_bad_settings_are_refused_before_fitting(session, kwargs):
    with pytest.raises(ValueError, match="bad fit setting"):
        session.fit(10, **kwargs)
    assert session.runs == []
    assert session.settings == FitSettings()


def test_all_pymc_optimizers_fit(session):
    for name in ("rmsprop", "adagrad_window"):
        assert session.fit(3, optimizer=name, learning_rate=1e-3).status == "finished"


@pytest.mark.slow
def test_default_compile_mode_fits():
    s = Session(normal_model())
    run = s.fit(200, seed=1)
    assert run.status == "finished"
    assert s.fit(200).compile_seconds == 0.0
    assert s.compile_count == 1


def test_configure_sets_the_next_fit_settings_and_refuses_bad_values(session):
    settings = session.configure(iterations=7, optimizer="sgd", learning_rate=0.001)
    assert settings == session.settings
    with pytest.raises(ValueError, match="iterations"):
        session.configure(iterations=-1)
    assert session.settings == settings
    run = session.fit()
    assert run.iterations == 7
    assert run.settings.optimizer == "sgd"


def test_a_flow_group_fits(session):
    gid = session.add_group("scale-planar-loc", ["mu", "tau"])
    run = session.fit(100, learning_rate=0.01, seed=2)
    assert run.status == "finished"
    assert np.isfinite(run.elbo).all()
    assert session.group(gid).family == "scale-planar-loc"
    tree = session.sample(20, seed=1)
    assert tree["posterior"]["tau"].shape == (1, 20)


def test_prepare_compiles_ahead_and_fit_reuses_it(session):
    session.prepare()
    assert session.compile_count == 1
    assert session.sample_compile_count == 1
    run = session.fit(10)
    assert run.compile_seconds == 0.0
    session.sample(10)
    assert (session.compile_count, session.sample_compile_count) == (1, 1)


def test_elbo_trace_is_readable_while_a_run_goes_on(session):
    session.fit(30)
    run = session.start(10_000_000)
    try:
        deadline = time.time() + 30
        while run.iterations < 100 and time.time() < deadline:
            time.sleep(0.05)
        first = run.elbo
        assert first.size >= 100
        assert np.isfinite(first).all()
        assert session.iteration >= 30 + first.size
        time.sleep(0.3)
        assert run.elbo.size > first.size
    finally:
        session.stop()
        session.wait(timeout=10)
    assert session.iteration == 30 + run.iterations
    assert session.elbo.size == session.iteration
    np.testing.assert_array_equal(session.elbo[30:], run.elbo)


def test_parameter_convergence_check_from_pymc_ends_a_run():
    s = Session(normal_model(), compile_kwargs=FAST)
    run = s.fit(
        50_000, learning_rate=0.05, tolerance=0.05, window=100, convergence="params", seed=1
    )
    assert run.status == "converged"
    assert run.iterations < 50_000
    assert "parameters" in run.message
    with pytest.raises(ValueError, match="convergence"):
        s.fit(10, convergence="loss")
