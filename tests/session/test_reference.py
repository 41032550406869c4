"""The NUTS reference: progress, a Cancel that ends the sampler, and a given posterior."""

from __future__ import annotations

import os
import sys
import threading
import time
import types
from concurrent.futures import CancelledError

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from tests.session.conftest import FAST, normal_model
from vibench import models
from vibench.session import ReferenceJob, ReferenceProgress, Session
from vibench.session._reference import DrawRate


def _reference_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vibench-reference" and t.is_alive()]


def _wait_for(job: ReferenceJob, draws: int = 1, timeout: float = 180.0) -> None:
    """Block until the job has sampled ``draws`` draws (or has ended)."""
    reached = threading.Event()
    unsubscribe = job.subscribe(lambda p: reached.set() if p.done >= draws or p.finished else None)
    try:
        assert reached.wait(timeout), f"the reference never reached {draws} draws: {job}"
    finally:
        unsubscribe()


def _assert_ended(job: ReferenceJob) -> None:
    assert job.join(timeout=15), "the reference thread is still alive after cancel"
    assert not job.alive
    if job.pid is not None:  # the sampling process has exited and was reaped
        assert not os.path.exists(f"/proc/{job.pid}")
    assert job.cancelled()
    assert job.progress.state == "cancelled"
    with pytest.raises(CancelledError):
        job.result(timeout=1)


@pytest.mark.slow
def test_a_reference_reports_progress_and_divergences_from_its_process():
    s = Session(models.eight_schools(), compile_kwargs=FAST)
    events: list[ReferenceProgress] = []
    job = s.reference(60, tune=40, chains=2, seed=11, background=True, on_progress=events.append)
    assert isinstance(job, ReferenceJob)
    assert job.mode == "process"
    tree = job.result(timeout=180)
    assert job.join(timeout=15)
    assert not os.path.exists(f"/proc/{job.pid}")
    assert tree["posterior"]["mu"].shape == (2, 60)
    final = job.progress
    assert final.state == "finished"
    assert (final.done, final.total) == (200, 200)
    # the divergences counted live are the ones kept in sample_stats (after tuning)
    assert final.divergences == int(tree["sample_stats"]["diverging"].sum())
    sampling = [p for p in events if p.state == "sampling"]
    assert sampling, "no progress while sampling"
    assert [p.done for p in sampling] == sorted(p.done for p in sampling)
    assert {p.chain for p in sampling} == {0, 1}
    assert events[0].state == "starting"
    assert events[-1].state == "finished"
    assert "200/200 draws" in final.text
    assert job.cancel() is False  # finished: nothing to stop
    assert not job.cancelled()
    # the blocking call returns the cached result
    assert s.reference(60, tune=40, chains=2, seed=11) is tree


@pytest.mark.slow
def test_cancelling_a_slow_reference_ends_its_process_and_a_later_one_works():
    model = models.gp_latent()
    s = Session(model, compile_kwargs=FAST)
    job = s.reference(2000, tune=2000, chains=2, seed=1, background=True)
    assert job.mode == "process"
    _wait_for(job, draws=5)
    assert job.progress.state == "sampling"
    assert 0 < job.progress.done < job.progress.total
    assert job.progress.seconds_left is not None
    assert job.cancel() is True
    _assert_ended(job)
    assert not _reference_threads()
    assert job.cancel() is True  # like a Future: cancelled stays cancelled
    # the cancelled job is not cached: the same settings sample anew, and finish
    again = s.reference(2000, tune=2000, chains=2, seed=1, background=True)
    assert again is not job
    again.cancel()
    _assert_ended(again)
    small = s.reference(15, tune=15, chains=1, seed=2)
    assert small["posterior"]["f_rotated_"].shape == (1, 15, 50)


@pytest.mark.slow
def test_cancel_while_the_process_is_still_starting():
    s = Session(models.gp_latent(), compile_kwargs=FAST)
    job = s.reference(3000, tune=3000, chains=1, seed=5, background=True)
    for _ in range(600):  # until the process runs (it then imports PyMC and compiles)
        if job.pid is not None:
            break
        time.sleep(0.05)
    assert job.pid is not None
    assert os.path.exists(f"/proc/{job.pid}")
    assert job.progress.state == "starting"
    assert s.cancel_reference() == 1
    _assert_ended(job)
    assert not _reference_threads()


@pytest.mark.slow
def test_a_thread_reference_stops_at_the_next_draw():
    s = Session(models.gp_latent(), compile_kwargs=FAST)
    job = s.reference(2000, tune=2000, chains=2, seed=3, background=True, process=False)
    assert job.mode == "thread"
    _wait_for(job)
    assert job.cancel()
    _assert_ended(job)
    assert not _reference_threads()


@pytest.mark.slow
def test_a_model_that_cannot_be_pickled_samples_in_a_thread():
    model = normal_model()
    model.lock = threading.Lock()  # cloudpickle refuses locks
    job = Session(model, compile_kwargs=FAST).reference(30, tune=30, chains=1, background=True)
    assert job.mode == "thread"
    assert job.result(timeout=120)["posterior"]["mu"].shape == (1, 30)


@pytest.mark.slow
def test_a_model_that_does_not_load_in_the_process_samples_in_a_thread(monkeypatch):
    # a class from a module only this interpreter has: cloudpickle pickles it by
    # reference, and the sampling process cannot import it
    only_here = types.ModuleType("vibench_only_here")

    class Marker:
        pass

    Marker.__module__ = "vibench_only_here"
    Marker.__qualname__ = "Marker"
    only_here.Marker = Marker
    monkeypatch.setitem(sys.modules, "vibench_only_here", only_here)
    model = normal_model()
    model.marker = Marker()
    job = Session(model, compile_kwargs=FAST).reference(30, tune=30, chains=1, background=True)
    tree = job.result(timeout=180)
    assert job.mode == "thread"
    assert "sampled in a thread" in job.progress.message
    assert tree["posterior"]["mu"].shape == (1, 30)


@pytest.mark.slow
def test_an_error_in_the_sampling_process_comes_back_with_its_message():
    with pm.Model() as model:
        pm.Normal("x", 0.0, 1.0)
        pm.Potential("impossible", pm.math.constant(-np.inf))
    job = Session(model, compile_kwargs=FAST).reference(10, tune=10, chains=1, background=True)
    err = job.exception(timeout=120)
    assert err is not None
    assert "x" in str(err) or "starting point" in str(err).lower()
    assert job.progress.state == "failed"
    assert job.join(timeout=15)


# ---------------------------------------------------------------- a posterior you have
def _posterior(chains: int = 2, draws: int = 50, **shapes: tuple[int, ...]) -> xr.Dataset:
    rng = np.random.default_rng(0)
    return xr.Dataset(
        {
            name: (
                ("chain", "draw", *[f"{name}_dim_{i}" for i in range(len(shape))]),
                rng.normal(size=(chains, draws, *shape)),
            )
            for name, shape in shapes.items()
        }
    )


def test_set_reference_is_used_as_the_reference(session):
    changes = []
    session.on_change(changes.append)
    post = _posterior(mu=(), tau=(), theta_tilde=(8,))
    tree = xr.DataTree.from_dict({"posterior": post})
    session.set_reference(tree)
    assert session.reference_given
    assert changes  # the workbench hears of it
    assert session.reference() is tree
    assert session.reference(10, tune=10) is tree  # whatever the NUTS settings
    future = session.reference(background=True)
    assert future.done()
    assert future.result() is tree
    session.set_reference(None)
    assert not session.reference_given


def test_set_reference_takes_a_dataset_as_the_posterior(session):
    post = _posterior(mu=(), tau=(), theta_tilde=(8,))
    session.set_reference(post)
    got = session.reference()
    xr.testing.assert_equal(got["posterior"].to_dataset(), post)


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: {"mu": 1}, TypeError, "DataTree"),
        (
            lambda: xr.DataTree.from_dict({"prior": _posterior(mu=(), tau=(), theta_tilde=(8,))}),
            ValueError,
            "no 'posterior' group",
        ),
        (lambda: _posterior(mu=(), tau=()), ValueError, "'theta_tilde' is missing"),
        (
            lambda: _posterior(mu=(), tau=(), theta_tilde=(7,)),
            ValueError,
            "'theta_tilde' has shape (7,), the model's is (8,)",
        ),
        (
            lambda: xr.Dataset({"mu": (("draw",), np.zeros(5))}),
            ValueError,
            "no 'chain' dimension",
        ),
    ],
)
def test_set_reference_refuses_what_does_not_match_the_model(session, make, error, words):
    with pytest.raises(error, match=None) as info:
        session.set_reference(make())
    assert words in str(info.value)
    assert not session.reference_given


def test_progress_text_says_how_far_and_how_long():
    p = ReferenceProgress(
        state="sampling", done=640, total=4000, chain=0, chains=2, tuning=True, seconds_left=400
    )
    assert p.text == "640/4000 draws, 0 divergences, chain 1/2 (tuning), about 7 min left"
    assert p.slow
    assert not ReferenceProgress(state="sampling", done=10, total=20, seconds_left=5).slow
    assert "cancelled" in ReferenceProgress(state="cancelled", done=5, total=20).text
    assert ReferenceProgress(state="finished").finished


def test_the_time_left_follows_the_recent_draw_rate_not_the_slow_start():
    rate = DrawRate(window=30.0)
    assert rate.add(0.0, 1) is None  # one draw: no rate yet
    assert rate.add(60.0, 60) == pytest.approx(1.0, rel=0.05)  # slow early tuning: 1 draw/s
    # then 10 draws/s for a minute: the rate since the start would say ~5.5 draws/s
    for second in range(61, 121):
        latest = rate.add(float(second), 60 + 10 * (second - 60))
    assert latest == pytest.approx(10.0, rel=0.05)


@pytest.mark.slow
def test_an_interrupt_while_waiting_cancels_the_reference(monkeypatch):
    s = Session(models.gp_latent(), compile_kwargs=FAST)
    started: list[ReferenceJob] = []

    def interrupted(self, timeout=None):
        started.append(self)
        raise KeyboardInterrupt  # what Ctrl-C / the kernel's interrupt does to the wait

    monkeypatch.setattr(ReferenceJob, "result", interrupted)
    with pytest.raises(KeyboardInterrupt):
        s.reference(3000, tune=3000, chains=1, seed=8)
    monkeypatch.undo()
    (job,) = started
    _assert_ended(job)
