"""The fast first tier changes no process-wide PyTensor setting, and failures never stick.

The first tier used to switch PyTensor's C compiler off for the whole process while it
compiled. A background build or the live-draw sampler compiling at that moment got
Python thunks (a fused Elemwise of more than 32 operands then failed in every later
fit: the board's "failure that sticks"), and a first import of PyTensor's C VM under
it left every later function on the slow Python loop.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
from pytensor import configparser

from vibench.session import Session, StepFunction

DEEP_FLOW = "scale-planar*3-loc-radial-hh"


def test_vibench_never_switches_the_c_compiler_off(monkeypatch):
    # PyTensor itself switches cxx off for a moment while it infers shapes; vibench's
    # own code must never do it (a flag it flips is seen by every thread)
    callers = []
    enter = configparser._ChangeFlagsDecorator.__enter__

    def spy(self):
        if "cxx" in self.new_vals:
            frame = sys._getframe(1)
            callers.append(frame.f_code.co_filename)
        return enter(self)

    monkeypatch.setattr(configparser._ChangeFlagsDecorator, "__enter__", spy)
    s = Session("eight_schools", backend="c")
    s.set_family("rest", DEEP_FLOW)
    run = s.fit(30, seed=0)
    s.draws(50, seed=0)  # the live-draw sampler compiles too
    step = next(iter(s._fitted.steps.values()))
    assert step.built.wait(300)
    assert run.status == "finished"
    assert callers, "the spy saw no flag change at all (PyTensor's own shape inference)"
    assert not [c for c in callers if "vibench" in c], callers


def test_a_backend_that_fails_on_a_call_is_dropped_and_the_fit_goes_on(monkeypatch):
    def broken(self, name):
        def fn():
            raise NotImplementedError("Elemwise.perform does not support 33 operands")

        return fn

    monkeypatch.setattr(StepFunction, "_compile_backend", broken)
    s = Session("eight_schools", backend="c")
    first = s.fit(2_000, seed=0)
    step = next(iter(s._fitted.steps.values()))
    assert step.built.wait(60)
    second = s.fit(300, seed=1)
    assert first.status == second.status == "finished"
    assert np.isfinite(second.elbo).all()
    assert step.backend == "fast_compile"
    assert "failed on a call" in step.build_errors["c"]


def test_stopping_a_flow_fit_on_its_first_tier_and_fitting_again_works():
    s = Session("eight_schools", backend="c")
    s.set_family("rest", DEEP_FLOW)
    for attempt in range(3):
        run = s.start(10**7, seed=attempt)
        deadline = time.monotonic() + 120
        while run.iterations == 0 and time.monotonic() < deadline and s.running:
            time.sleep(0.005)
        draws = s.draws(20, seed=attempt)  # what the board's live frames do meanwhile
        s.stop()
        s.wait()
        assert run.status == "stopped", run.message
        assert np.isfinite(draws["mu"]).all()
    again = s.fit(200, seed=7)
    assert again.status == "finished", again.message
    assert np.isfinite(again.elbo).all()
    step = next(iter(s._fitted.steps.values()))
    assert step.built.wait(300)
    after = s.fit(200, seed=8)
    assert after.status == "finished", after.message
    assert step.build_errors == {}


def test_the_c_vm_loop_survives_a_first_tier_compiled_first():
    # a fresh interpreter where the first thing compiled is vibench's first tier
    code = textwrap.dedent(
        """
        import sys
        assert "pytensor.link.c.cvm" not in sys.modules
        from vibench.session import Session
        s = Session("eight_schools", backend="c")
        s.fit(20, seed=0)
        (step,) = s._fitted.steps.values()
        assert step.built.wait(300), "the C backend did not build"
        s.fit(20, seed=0)
        print(step.backend, type(step.fn.vm).__name__)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["c", "CVM"]


def test_plan_edits_do_not_pile_up_background_builds():
    s = Session("eight_schools")
    families = ["mean_field", "full_rank", "scale-loc", "scale-hh-loc", "planar-loc"]
    for i in range(10):
        s.set_family("rest", families[i % len(families)])
        s.configure(learning_rate=0.01 + 0.001 * i)  # a new compiled function each time
        s.fit(20, seed=i)
        builders = [t for t in threading.enumerate() if t.name == "vibench-compile"]
        assert len(builders) <= 2, len(builders)  # the live plan's, and one ending
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        builders = [t for t in threading.enumerate() if t.name == "vibench-compile"]
        if len(builders) <= 1:
            break
        time.sleep(0.05)
    assert len(builders) <= 1
    s.set_family("rest", "mean_field")  # drops the last plan: nothing is left compiling
    deadline = time.monotonic() + 180  # a compile under way ends first (not interruptible)
    while any(t.name == "vibench-compile" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a dropped plan's build kept running"
        time.sleep(0.05)


def test_a_parameter_leaving_its_support_ends_the_run_as_diverged():
    # in Python mode PyMC's parameter checks raise instead of giving -inf
    s = Session("correlated_regression", compile_kwargs={"mode": "FAST_COMPILE"})
    s.add_group("scale-planar*2-loc", ["alpha", "sigma"])
    s.set_family("rest", "full_rank")
    run = s.fit(20, optimizer="sgd", learning_rate=0.05, seed=5)
    assert run.status == "diverged", run.message
    assert run.iterations < 20
    assert all(np.isfinite(p).all() for p in s._fitted.params())
    again = s.fit(5, optimizer="adam", learning_rate=1e-4, seed=6)
    assert again.status in {"finished", "diverged"}, again.message
