"""The fitting loop: a step function compiled once, called in chunks.

This module is the one place in vibench with threads. :class:`StepFunction` holds one
compiled optimisation step (the seam where tiered compilation can later swap in a
faster function built from the same objective); :func:`run_loop` calls it in chunks,
checks a stop event between chunks, records the loss, detects non-finite losses and
convergence, and reports progress through a callback.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from pymc.pytensorf import compile as pm_compile
from pymc.pytensorf import reseed_rngs
from pymc.variational.callbacks import CheckParametersConvergence
from pytensor.tensor.random.type import RandomType

from vibench.session._optimizers import make_optimizer
from vibench.session._run import FitSettings, Progress, Run

__all__ = ["StepFunction", "run_loop"]

#: Seconds of work per chunk; the stop event is checked between chunks.
CHUNK_SECONDS = 0.04
#: Minimum seconds between two progress events.
PROGRESS_INTERVAL = 0.25


class StepFunction:
    """One compiled optimisation step of an objective, with its state.

    Built from ``objective.updates(...)`` exactly as PyMC's
    ``ObjectiveFunction.step_function(score=True)`` does, keeping the updated shared
    variables so that the parameters and optimizer state can be saved and restored
    (for ``reset()`` and for rolling back a non-finite step).

    Parameters
    ----------
    objective : pymc.variational.opvi.ObjectiveFunction
        ``KLqp(approx).objective``.
    settings : FitSettings
        Supplies optimizer, learning rate and ``obj_n_mc``.
    compile_kwargs : dict
        Passed to :func:`pymc.pytensorf.compile` (e.g. ``{"mode": "FAST_COMPILE"}``).
    """

    def __init__(
        self, objective: Any, settings: FitSettings, compile_kwargs: dict[str, Any]
    ) -> None:
        self.key = settings.compile_key()
        updates = objective.updates(
            obj_n_mc=settings.obj_n_mc,
            obj_optimizer=make_optimizer(settings.optimizer, settings.learning_rate),
        )
        seed = objective.approx.rng.randint(2**30, dtype=np.int64)
        self.fn = pm_compile([], updates.loss, updates=updates, random_seed=seed, **compile_kwargs)
        self.fn.trust_input = True
        shared = list(self.fn.get_shared())
        self.rngs = [v for v in shared if isinstance(v.type, RandomType)]
        self.state = [v for v in updates if v not in self.rngs]
        self.initial = self.snapshot()

    def __call__(self) -> Any:
        """Take one optimisation step and return the loss (the negative ELBO)."""
        return self.fn()

    def snapshot(self) -> list[Any]:
        """Copies of the parameters, optimizer state and random streams."""
        return [v.get_value(borrow=False) for v in self.state + self.rngs]

    def restore(self, values: list[Any]) -> None:
        """Put back a :meth:`snapshot`."""
        for v, value in zip(self.state + self.rngs, values, strict=True):
            v.set_value(value, borrow=False)

    def restore_initial(self) -> None:
        """Put back the state this function had when it was compiled (parameters aside)."""
        self.restore(self.initial)

    def reseed(self, seed: int) -> None:
        """Reseed the random streams of the step (no recompile)."""
        reseed_rngs(self.rngs, seed)


def _smoothed(buf: np.ndarray, end: int, window: int) -> float:
    if end == 0:
        return math.nan
    return float(np.mean(buf[max(0, end - window) : end]))


def run_loop(
    step: StepFunction,
    run: Run,
    n: int,
    stop: threading.Event,
    emit: Callable[[Progress], None],
    describe_bad: Callable[[], str],
) -> None:
    """Fit ``n`` iterations of ``step`` into ``run`` (modified in place).

    The loss of each iteration is written to a buffer in a plain Python loop; between
    chunks of about :data:`CHUNK_SECONDS` the loop checks ``stop``, checks the losses
    for NaN/inf, tests convergence and, at most every :data:`PROGRESS_INTERVAL`
    seconds, calls ``emit`` with a :class:`Progress`.

    On a non-finite loss the parameters are rolled back to the last step whose loss
    was finite (by restoring the chunk's starting state and replaying the finite
    steps, random streams included), and the run ends as ``"diverged"`` with
    ``describe_bad()``'s explanation.
    """
    settings = run.settings
    window = settings.window
    tol = settings.tolerance
    param_check = None
    if tol is not None and settings.convergence == "params" and run.approximation is not None:
        param_check = CheckParametersConvergence(every=window, tolerance=tol, diff="relative")
        param_check(run.approximation, None, 0)  # remembers the starting parameters
        checks = 0
    fn = step.fn
    buf = np.empty(n, dtype=np.float64)
    done = 0
    chunk = 8
    t_start = time.perf_counter()
    last_emit = t_start
    last_emit_done = 0
    status = "finished"
    message = ""
    run._live, run._live_done = buf, 0
    try:
        while done < n:
            if stop.is_set():
                status = "stopped"
                break
            k = min(chunk, n - done)
            saved = step.snapshot()
            t0 = time.perf_counter()
            j = done
            try:
                for j in range(done, done + k):
                    buf[j] = fn()
            except KeyboardInterrupt:
                done = j
                status = "stopped"
                break
            dt = time.perf_counter() - t0
            losses = buf[done : done + k]
            if not np.isfinite(losses).all():
                bad = int(np.flatnonzero(~np.isfinite(losses))[0])
                value = losses[bad]
                why = describe_bad()
                # roll back: replay the finite steps from the chunk's start
                step.restore(saved)
                for _ in range(bad):
                    fn()
                if not all(np.isfinite(p.get_value()).all() for p in step.state):
                    step.restore(saved)
                    for _ in range(max(bad - 1, 0)):
                        fn()
                done += bad
                status = "diverged"
                message = (
                    f"the loss became {value} at iteration {run.start_iteration + done + 1}; "
                    f"{why} Parameters were kept from the last finite step."
                )
                break
            done += k
            run._live_done = done
            # next chunk: aim at CHUNK_SECONDS of work
            rate = k / dt if dt > 0 else 1e6
            chunk = int(min(max(rate * CHUNK_SECONDS, 1), 100_000))
            if param_check is not None and done // window > checks:
                checks = done // window
                try:
                    param_check(run.approximation, None, checks * window)
                except StopIteration:
                    status = "converged"
                    message = f"converged: the parameters changed by less than {tol:g} (relative)"
                    break
            elif param_check is None and tol is not None and done >= 2 * window:
                prev = float(np.mean(buf[done - 2 * window : done - window]))
                last = float(np.mean(buf[done - window : done]))
                if abs(last - prev) < tol * max(1.0, abs(prev)):
                    status = "converged"
                    message = f"converged: the smoothed ELBO changed by less than {tol:g}"
                    break
            now = time.perf_counter()
            if now - last_emit >= PROGRESS_INTERVAL:
                its = (done - last_emit_done) / (now - last_emit)
                emit(
                    Progress(
                        iteration=done,
                        total=n,
                        elbo=-float(buf[done - 1]),
                        smoothed_elbo=-_smoothed(buf, done, window),
                        its_per_second=its,
                        status="running",
                        message=f"iteration {done}/{n}",
                    )
                )
                last_emit, last_emit_done = now, done
    finally:
        run.seconds = time.perf_counter() - t_start
        run._elbo.append(-buf[:done].copy())
        run._live = None
        run.status = status if status != "running" else "finished"
        run.message = message or {
            "finished": f"finished {done} iterations",
            "stopped": f"stopped after {done} iterations",
        }.get(status, "")
