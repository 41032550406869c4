"""The fitting loop: a step function compiled once, called in chunks.

This module is the one place in vibench with threads. :class:`StepFunction` holds one
compiled optimisation step (the seam where tiered compilation can later swap in a
faster function built from the same objective); :func:`run_loop` calls it in chunks,
checks a stop event between chunks, records the loss, detects non-finite losses and
convergence, and reports progress through a callback.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import queue
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytensor
from pymc.logprob.utils import ParameterValueError
from pymc.pytensorf import compile as pm_compile
from pymc.pytensorf import find_rng_nodes, reseed_rngs
from pymc.variational.callbacks import CheckParametersConvergence
from pytensor import scalar as ps
from pytensor.compile.builders import OpFromGraph
from pytensor.compile.mode import Mode
from pytensor.compile.rewriting import inline_ofg_node
from pytensor.graph.replace import clone_replace
from pytensor.graph.rewriting.basic import dfs_rewriter, node_rewriter
from pytensor.graph.rewriting.db import RewriteDatabaseQuery
from pytensor.link.vm import VMLinker
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.random.type import RandomType

from vibench._smoothing import smoothed_at
from vibench.session._child_compile import ChildWarmup
from vibench.session._optimizers import make_optimizer
from vibench.session._run import FitSettings, Progress, Run

__all__ = ["BACKEND_MODES", "FIRST_TIER_MODE", "StepFunction", "run_loop"]

logger = logging.getLogger(__name__)

#: Backends a tiered step can switch to, and the PyTensor mode of each.
BACKEND_MODES = {"c": "CVM", "numba": "NUMBA"}
#: PyMC's default backend, kept unless another is clearly faster.
DEFAULT_BACKEND = "numba"
#: How much faster than the default another backend must measure to be chosen.
CLEAR_WIN = 1.15
#: Chunks measured per backend before the fastest is chosen (the median of them:
#: ten chunks of ~40 ms keep one busy moment of a shared machine from deciding; with
#: three, choices between backends within 25 % of each other flipped with the load).
TRIAL_CHUNKS = 10

#: Seconds of work per chunk; the stop event is checked between chunks.
CHUNK_SECONDS = 0.04
#: Minimum seconds between two progress events.
PROGRESS_INTERVAL = 0.25


class _Cancelled(Exception):
    """A background build stopped because its plan was dropped."""


class StepFunction:
    """One optimisation step of an objective, compiled once, with its state.

    Built from ``objective.updates(...)`` exactly as PyMC's
    ``ObjectiveFunction.step_function(score=True)`` does, keeping the updated shared
    variables so that the parameters and optimizer state can be saved and restored
    (for ``reset()`` and for rolling back a non-finite step).

    With ``backends`` the step is *tiered*: a function that builds in a fraction of a
    second (PyTensor's ``FAST_COMPILE`` mode) steps first, while a background thread
    compiles the same graph (the same shared parameters and optimizer state) with each
    backend in ``backends``. The fitting loop switches to a finished backend between
    two chunks (:meth:`poll`), measures every backend on real steps, and keeps the
    fastest; the loss trace stays one continuous run.

    Parameters
    ----------
    objective : pymc.variational.opvi.ObjectiveFunction
        ``KLqp(approx).objective``.
    settings : FitSettings
        Supplies optimizer, learning rate and ``obj_n_mc``.
    compile_kwargs : dict
        Passed to :func:`pymc.pytensorf.compile` for the first function (e.g.
        ``{"mode": "FAST_COMPILE"}``). Ignored when ``backends`` is given.
    backends : sequence of str, optional
        Names from :data:`BACKEND_MODES` to build in the background, most promising
        first. ``None`` (default): one function, no tiers.
    model : pymc.Model, optional
        Entered while compiling in the background (PyMC reads ``check_bounds`` from it).
    on_choice : callable, optional
        Called as ``on_choice(backend, rates)`` once every backend has been measured
        (``rates``: iterations per second of each), to remember the choice.
    update_kwargs : dict, optional
        More keyword arguments of ``objective.updates`` (e.g. ``more_obj_params`` and
        ``more_replacements`` for an amortized group's encoder and minibatches).
    """

    #: Name of the first tier of a tiered step.
    FIRST_TIER = "fast_compile"

    def __init__(
        self,
        objective: Any,
        settings: FitSettings,
        compile_kwargs: dict[str, Any],
        *,
        backends: Sequence[str] | None = None,
        model: Any = None,
        on_choice: Callable[[str, dict[str, float]], None] | None = None,
        update_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.key = settings.compile_key()
        updates = objective.updates(
            obj_n_mc=settings.obj_n_mc,
            obj_optimizer=make_optimizer(settings.optimizer, settings.learning_rate),
            **(update_kwargs or {}),
        )
        self._loss = updates.loss
        self._updates = dict(updates)
        self._model = model
        self._on_choice = on_choice
        seed = objective.approx.rng.randint(2**30, dtype=np.int64)
        if backends is not None:
            compile_kwargs = {"mode": FIRST_TIER_MODE}
        self.fn = pm_compile(
            [], updates.loss, updates=self._updates, random_seed=seed, **compile_kwargs
        )
        self.fn.trust_input = True
        #: The backend of :attr:`fn` (``"fast_compile"`` first on a tiered step).
        self.backend = self.FIRST_TIER if backends is not None else _mode_name(compile_kwargs)
        shared = list(self.fn.get_shared())
        self.rngs = [v for v in shared if isinstance(v.type, RandomType)]
        self.state = [v for v in updates if v not in self.rngs]
        self.initial = self.snapshot()
        # tiers: functions built in the background wait in _offers until the loop
        # takes them; _rates holds each backend's measured iterations per second
        self._functions: dict[str, Any] = {self.backend: self.fn}
        self._offers: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._rates: dict[str, list[float]] = {}
        self._skip_next_rate = False
        self._closed = threading.Event()
        #: Set when the background builds are over (at once for an untiered step).
        self.built = threading.Event()
        #: Set once the final backend has been chosen (at once for an untiered step).
        self.settled = threading.Event()
        #: Seconds each background backend took to build, by backend name.
        self.build_seconds: dict[str, float] = {}
        #: Errors of backends that failed to build, by backend name.
        self.build_errors: dict[str, str] = {}
        self._final_round: list[str] | None = None
        self._child: ChildWarmup | None = None
        if backends:
            self._thread = threading.Thread(
                target=self._build_backends,
                args=(list(backends),),
                name="vibench-compile",
                daemon=True,
            )
            self._thread.start()
        else:
            self.built.set()
            self.settled.set()

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

    def close(self) -> None:
        """Stop building backends (the plan was dropped); the current function stays.

        A build waiting for its turn never starts, a Numba warm-up running in a child
        process is killed, and a build already compiling in this process ends with
        that backend and offers nothing more.
        """
        self._closed.set()
        child = self._child
        if child is not None:
            child.kill()

    @property
    def rates(self) -> dict[str, float]:
        """Measured iterations per second of each backend used so far (median of chunks)."""
        return {k: float(np.median(v)) for k, v in self._rates.items() if v}

    # -------------------------------------------------------------- the tiers
    def _build_backends(self, backends: list[str]) -> None:
        """Background thread: compile the step with each backend and offer it."""
        try:
            # one build at a time in the process; a plan dropped meanwhile builds nothing
            while not _BUILD_SLOT.acquire(timeout=0.05):
                if self._closed.is_set():
                    return
            # Numba's warm-up runs in a child process from the start, beside the
            # builds here (a second core compiles while this one steps)
            self._child = (
                ChildWarmup(self._loss, self._updates, BACKEND_MODES["numba"])
                if ("numba" in backends)
                else None
            )
            try:
                for name in backends:
                    if self._closed.is_set():
                        break
                    t0 = time.perf_counter()
                    try:
                        fn = self._compile_backend(name)
                    except _Cancelled:
                        break
                    except Exception as err:  # a missing compiler, a backend bug
                        logger.debug("vibench: backend %s failed to build", name, exc_info=True)
                        self.build_errors[name] = f"{type(err).__name__}: {err}"
                        continue
                    self.build_seconds[name] = time.perf_counter() - t0
                    if not self._closed.is_set():
                        self._offers.put((name, fn))
            finally:
                if self._child is not None:
                    self._child.kill()
                _BUILD_SLOT.release()
        finally:
            self.built.set()

    def _compile_backend(self, name: str) -> Any:
        mode = BACKEND_MODES[name]
        ctx = self._model if self._model is not None else contextlib.nullcontext()
        with ctx, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*BLAS", category=UserWarning)
            if name == "numba":
                # Numba compiles on the first call, which also steps, and its JIT holds
                # the GIL for seconds at a time (the fitting thread would crawl). So a
                # child process compiles and calls a copy of the graph, filling the
                # on-disk kernel cache; building the live function here then only
                # loads the kernels. Where the graph cannot travel, a copy with its own
                # shared variables is warmed here instead (no live step taken twice).
                warmed = self._child is not None and self._child.wait(self._closed)
                if self._closed.is_set():
                    raise _Cancelled
                if not warmed:
                    loss, updates = _clone_with_own_state(self._loss, self._updates)
                    warm = pm_compile([], loss, updates=updates, random_seed=False, mode=mode)
                    warm()
            fn = pm_compile([], self._loss, updates=self._updates, random_seed=False, mode=mode)
            for _ in range(2):
                if name != "c" or not _lost_c_thunks(fn):
                    break
                # PyTensor itself switches its C compiler off for a moment while it
                # infers shapes (pytensor.tensor.basic.infer_static_shape, PyMC's
                # resolve_shapes), process-wide: a graph built in another thread at
                # the wrong moment gave this build Python thunks. Build it again.
                logger.debug("vibench: C build lost its C thunks; building again")
                fn = pm_compile(
                    [], self._loss, updates=self._updates, random_seed=False, mode=mode
                )
        fn.trust_input = True
        return fn

    def record_rate(self, rate: float) -> None:
        """The loop reports the iterations per second of the chunk it just ran."""
        if self._skip_next_rate:  # a first call pays set-up costs
            self._skip_next_rate = False
            return
        self._rates.setdefault(self.backend, []).append(rate)
        del self._rates[self.backend][:-TRIAL_CHUNKS]

    def poll(self) -> Any | None:
        """Between chunks: the function to switch to, or ``None`` to keep the current one."""
        if self.settled.is_set():
            return None
        try:
            name, fn = self._offers.get_nowait()
        except queue.Empty:
            pass
        else:
            self._functions[name] = fn
            return self._switch(name)
        if not self.built.is_set() or len(self._rates.get(self.backend, ())) < TRIAL_CHUNKS:
            return None
        # every backend is built: measure each once more, now that nothing compiles
        # beside the loop, and keep the fastest
        contenders = [n for n in self._functions if n != self.FIRST_TIER] or [self.FIRST_TIER]
        if self._final_round is None:
            self._final_round = list(contenders)
            for n in contenders:
                self._rates.pop(n, None)
        pending = [n for n in self._final_round if len(self._rates.get(n, ())) < TRIAL_CHUNKS]
        if pending:
            return self._switch(pending[0]) if pending[0] != self.backend else None
        rates = self.rates
        best = max(self._final_round, key=lambda n: rates.get(n, 0.0))
        default = rates.get(DEFAULT_BACKEND, 0.0)
        if best != DEFAULT_BACKEND and rates.get(best, 0.0) < CLEAR_WIN * default:
            # within the noise of a shared machine: keep PyMC's own default, so a fit
            # is never slower than plain pm.fit for a choice the measurement cannot make
            best = DEFAULT_BACKEND
        self.settled.set()
        for n in list(self._functions):  # free the losers' compiled code
            if n not in (best, self.FIRST_TIER):  # (the first tier stays, as a fallback)
                del self._functions[n]
        if self._on_choice is not None:
            try:
                self._on_choice(best, {n: rates[n] for n in self._final_round if n in rates})
            except Exception:
                logger.exception("vibench: remembering the backend choice failed")
        return self._switch(best) if best != self.backend else None

    def reject(self, err: BaseException) -> Any | None:
        """The current backend failed on a call: drop it and return a function to use.

        The error is recorded in :attr:`build_errors`. The fastest other backend
        measured so far (else the first tier) takes over; ``None`` when the failing
        function was the only one (the error is then the fit's own).
        """
        failed = self.backend
        others = [n for n in self._functions if n != failed]
        if not others:
            return None
        self.build_errors[failed] = f"failed on a call: {type(err).__name__}: {err}"
        logger.debug("vibench: backend %s failed on a call", failed, exc_info=err)
        del self._functions[failed]
        self._rates.pop(failed, None)
        if self._final_round is not None and failed in self._final_round:
            self._final_round.remove(failed)
        rates = self.rates
        real = [n for n in others if n != self.FIRST_TIER]
        return self._switch(max(real, key=lambda n: rates.get(n, 0.0)) if real else others[0])

    def _switch(self, name: str) -> Any:
        self.backend = name
        self.fn = self._functions[name]
        self._skip_next_rate = True
        return self.fn


def _inline_inner_graphs(fgraph: Any, node: Any) -> Any:
    """Replace an ``OpFromGraph`` node by its inner graph (a first-tier rewrite)."""
    if isinstance(node.op, OpFromGraph):
        return inline_ofg_node(node)
    return False


#: Most inputs PyTensor's Python implementation of an elementwise op takes (32
#: operands, the output included).
_PY_MAX_INPUTS = 31


def _split_wide_sums(fgraph: Any, node: Any) -> Any:
    """Split an ``add``/``mul`` of more than 31 terms into a tree of narrower ones.

    A model with hundreds of scalar variables sums hundreds of log-density terms in
    one node; in Python mode (the first tier) such a node cannot run at all.
    """
    op = node.op
    if not isinstance(op, Elemwise) or len(node.inputs) <= _PY_MAX_INPUTS:
        return False
    if not isinstance(op.scalar_op, ps.Add | ps.Mul):
        return False
    terms = list(node.inputs)
    while len(terms) > _PY_MAX_INPUTS:
        terms = [
            op(*terms[i : i + _PY_MAX_INPUTS]) if len(terms[i:]) > 1 else terms[i]
            for i in range(0, len(terms), _PY_MAX_INPUTS)
        ]
    out = op(*terms)
    return [out.astype(node.outputs[0].dtype)] if out.dtype != node.outputs[0].dtype else [out]


#: The mode of the first tier: Python thunks, only the rewrites a graph needs to run
#: (PyTensor's ``minimum_compile`` and ``py_only``), every inner graph inlined, and
#: sums of more than 31 terms split (Python's elementwise ops take 32 operands).
#: It builds in a fraction of a second (3-7x sooner than ``FAST_COMPILE`` on the
#: realistic models) and steps until a fast backend is ready. Inlined, an op with an
#: inner graph (``AllocDiag`` in a full-rank group) runs in Python too, instead of
#: linking C thunks that wait for gcc on an empty cache. It is a mode object of our
#: own: no PyTensor flag is changed, so threads compiling beside the first tier (a
#: background backend, the live-draw sampler) see the config as it is.
FIRST_TIER_MODE = Mode(
    # allow_gc=False: intermediate values stay allocated between calls, and linking
    # skips a pass that grows with nodes x outputs (30 % of linking at 150 variables)
    VMLinker(use_cloop=False, c_thunks=False, allow_gc=False),
    RewriteDatabaseQuery(include=["minimum_compile", "py_only"]),
).register(
    (dfs_rewriter(node_rewriter([OpFromGraph])(_inline_inner_graphs)), -0.005),
    (dfs_rewriter(node_rewriter([Elemwise])(_split_wide_sums)), 100.0),
)

#: One background build at a time in the whole process: a build waits here, and a
#: build whose plan was dropped while it waited never starts.
_BUILD_SLOT = threading.Lock()


def _lost_c_thunks(fn: Any) -> bool:
    """Whether a C-linked function runs an elementwise node in Python.

    Every elementwise op has C code, so a Python thunk there means the build saw
    ``config.cxx`` empty for a moment (a few other ops legitimately lack C code).
    """
    vm = getattr(fn, "vm", None)
    nodes, thunks = getattr(vm, "nodes", None), getattr(vm, "thunks", None)
    if nodes is None or thunks is None:
        return False
    return any(
        isinstance(node.op, Elemwise) and not hasattr(thunk, "cthunk")
        for node, thunk in zip(nodes, thunks, strict=False)
    )


def _mode_name(compile_kwargs: dict[str, Any]) -> str:
    mode = compile_kwargs.get("mode")
    if mode is None:
        return "default"
    return str(mode).lower() if isinstance(mode, str) else type(mode).__name__


def _clone_with_own_state(loss: Any, updates: dict[Any, Any]) -> tuple[Any, dict[Any, Any]]:
    """A copy of a step graph whose updated shared variables are fresh copies."""
    outputs = [loss, *updates.values()]
    targets = list(updates) + [v for v in find_rng_nodes(outputs) if v not in updates]
    replace = {
        v: pytensor.shared(copy.deepcopy(v.get_value(borrow=False)), name=v.name) for v in targets
    }
    new = clone_replace(outputs, replace=replace)
    return new[0], {replace[k]: v for k, v in zip(updates, new[1:], strict=True)}


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
    run.backends = [(run.start_iteration, step.backend)]
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
            except ParameterValueError:
                # a parameter left its support (a check in the log density raised
                # instead of giving -inf): the same as a non-finite loss here
                buf[j : done + k] = np.nan
            except Exception as err:
                # a backend built in the background fails where the others work:
                # undo the chunk, drop that backend and go on with another
                fallback = step.reject(err)
                if fallback is None:
                    raise
                step.restore(saved)
                fn = fallback
                run.backends.append((run.start_iteration + done, step.backend))
                continue
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
            if math.isnan(run.first_step_seconds) and not math.isnan(run._t_begin):
                run.first_step_seconds = time.perf_counter() - run._t_begin
            # next chunk: aim at CHUNK_SECONDS of work
            rate = k / dt if dt > 0 else 1e6
            chunk = int(min(max(rate * CHUNK_SECONDS, 1), 100_000))
            step.record_rate(rate)
            if not step.built.is_set():
                # A background compile needs the GIL too: a loop that never lets go
                # slows it twenty-fold. On the first tier, pause as long as the chunk
                # took (the fast backend is worth more than these steps); after, a
                # quarter of the time (the next backend is only being measured).
                stop.wait(dt if step.backend == step.FIRST_TIER else dt / 3)
            switched = step.poll()
            if switched is not None:
                fn = switched
                run.backends.append((run.start_iteration + done, step.backend))
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
                        smoothed_elbo=-smoothed_at(buf, done, window),
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
