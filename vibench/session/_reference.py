"""NUTS reference draws that can be watched and stopped, and posteriors given by the user.

A reference is a :class:`ReferenceJob`: a :class:`concurrent.futures.Future` of the
``pm.sample`` DataTree with live :class:`ReferenceProgress` (draws done out of
``chains * (tune + draws)``, divergences, the chain, an estimate of the time left) and a
:meth:`ReferenceJob.cancel` that really ends the work.

By default ``pm.sample`` runs in a separate process (a fresh ``python -c``, the model
sent with :mod:`cloudpickle`; not a ``multiprocessing`` spawn, which would re-run a
user's script without a ``__main__`` guard): Cancel terminates that process at once,
even while it compiles, and the sampler never holds the kernel's GIL. A model that
cannot be pickled, or does not load in the new process, is sampled in a thread instead;
there Cancel raises out of PyMC's per-draw ``callback`` (a stop flag; not a
``KeyboardInterrupt``, which PyMC's sequential sampler catches per chain and then starts
the next chain), which ends the thread at the next draw but not during PyMC's compile.

Measured on this machine (2 shared cores, PyMC 6.4, warm PyTensor cache, other work
running): the process takes 2-6 s to start sampling (importing PyMC; up to 16 s under
heavy load) where a thread takes ~0.6 s; eight schools' default reference (2 chains x
(500 + 500)) takes ~6-9 s in all (min ESS 530, for ``tau``), a 50-point ``pm.gp.Latent``
model 8-13 min (2.6-4.3 draws/s; min ESS 123, for ``ell``), which its time-left estimate
says. Terminating the process takes ~0.05-0.2 s; a thread's stop flag ended it within
one draw (~0.3 s on the GP) once sampling, but only after ~9 s of a cold compile. While
the GP reference ran, a ``Session.fit`` of eight schools kept 3,500-7,200 steps/s with
the process and 2,000-2,700 with the thread.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import dataclasses
import logging
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_CHAINS",
    "DEFAULT_DRAWS",
    "DEFAULT_TUNE",
    "SLOW_SECONDS",
    "ReferenceJob",
    "ReferenceProgress",
    "check_reference",
]

#: Default ``pm.sample`` settings of a reference (2 x (500 + 500) draws: enough for the
#: dashed densities of the marginals; eight schools takes ~6 s, see the module notes).
DEFAULT_DRAWS = 500
DEFAULT_TUNE = 500
DEFAULT_CHAINS = 2
#: A reference whose estimated time left is longer than this (seconds) says it is slow.
SLOW_SECONDS = 60.0
#: The time left is estimated from the draw rate over this many recent seconds.
RATE_WINDOW = 30.0
#: Progress messages from the sampler at most this often (seconds).
_PROGRESS_INTERVAL = 0.25
#: How long a cancelled or finished sampling process may take to exit before it is killed.
_EXIT_GRACE = 2.0

_THREAD_NAME = "vibench-reference"
logger = logging.getLogger(__name__)


class _Cancelled(Exception):
    """Raised from PyMC's per-draw callback to end a cancelled sampler.

    Not a ``KeyboardInterrupt``: PyMC's sequential sampler catches that per chain and
    goes on with the next chain; any other exception leaves ``pm.sample`` at once.
    """


@dataclasses.dataclass(frozen=True)
class ReferenceProgress:
    """Where a NUTS reference is: one snapshot, delivered to subscribers.

    Attributes
    ----------
    state : str
        ``"starting"`` (process start, compiling, NUTS initialisation), ``"sampling"``,
        ``"finished"``, ``"cancelled"`` or ``"failed"``.
    done : int
        Draws done over all chains, tuning draws included.
    total : int
        ``chains * (tune + draws)``.
    chain, chains : int
        The chain being sampled (0-based; chains run one after another) and how many.
    tuning : bool
        Whether the current chain is still tuning.
    divergences : int
        Divergent transitions after tuning, so far (the ones PyMC warns about).
    tuning_divergences : int
        Divergent transitions while tuning (common, and discarded).
    elapsed : float
        Seconds since the job started.
    seconds_left : float or None
        Estimated from the draw rate so far (``None`` before the first draws).
    mode : str
        ``"process"`` or ``"thread"``: where ``pm.sample`` runs.
    message : str
        Why it failed, or a note (empty otherwise).
    """

    state: str = "starting"
    done: int = 0
    total: int = 0
    chain: int = 0
    chains: int = 1
    tuning: bool = True
    divergences: int = 0
    tuning_divergences: int = 0
    elapsed: float = 0.0
    seconds_left: float | None = None
    mode: str = "process"
    message: str = ""

    @property
    def finished(self) -> bool:
        """Whether the job has ended (finished, cancelled or failed)."""
        return self.state in ("finished", "cancelled", "failed")

    @property
    def fraction(self) -> float:
        """Draws done as a fraction of the total (0 to 1)."""
        return self.done / self.total if self.total else 0.0

    @property
    def slow(self) -> bool:
        """Whether the estimated time left exceeds :data:`SLOW_SECONDS`."""
        return self.seconds_left is not None and self.seconds_left > SLOW_SECONDS

    @property
    def text(self) -> str:
        """One line for people: ``"640/4000 draws, 0 divergences, chain 1/2, ~1 min left"``."""
        if self.state == "starting":
            return f"starting (compiling, {self.elapsed:.0f} s)…"
        div = "1 divergence" if self.divergences == 1 else f"{self.divergences} divergences"
        line = f"{self.done}/{self.total} draws, {div}"
        if self.state == "sampling":
            line += f", chain {self.chain + 1}/{self.chains}"
            if self.tuning:
                line += " (tuning)"
            if self.seconds_left is not None:
                line += f", about {_duration(self.seconds_left)} left"
        elif self.state == "cancelled":
            line += ": cancelled"
        elif self.state == "failed":
            line += f": failed ({self.message})" if self.message else ": failed"
        else:
            line += f" in {_duration(self.elapsed)}"
        return line


def _duration(seconds: float) -> str:
    seconds = max(float(seconds), 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _Counter:
    """Turns PyMC's per-draw callbacks into throttled progress tuples (both modes)."""

    def __init__(self, tune: int, draws: int, emit: Callable[[tuple], None]) -> None:
        self.per_chain = tune + draws
        self.tune = tune
        self.emit = emit
        self.done = 0
        self.divergences = 0
        self.tuning_divergences = 0
        self.started: float | None = None
        self.last = 0.0

    def __call__(self, draw: Any) -> None:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        self.done += 1
        tuning = bool(draw.tuning)
        for stats in draw.stats or ():
            if stats.get("diverging"):
                if tuning:
                    self.tuning_divergences += 1
                else:
                    self.divergences += 1
        end_of_chain = int(draw.draw_idx) + 1 >= self.per_chain
        if end_of_chain or now - self.last >= _PROGRESS_INTERVAL:
            self.last = now
            self.emit(self.snapshot(int(draw.chain), tuning, now))

    def snapshot(self, chain: int, tuning: bool, now: float) -> tuple:
        sampling = now - self.started if self.started is not None else 0.0
        return (chain, self.done, tuning, self.divergences, self.tuning_divergences, sampling)


class DrawRate:
    """Draws per second over the last :data:`RATE_WINDOW` seconds of sampling.

    Early tuning draws (small steps, deep trees) are far slower than later ones, so a
    rate since the start would keep overstating the time left.
    """

    def __init__(self, window: float = RATE_WINDOW) -> None:
        self.window = window
        self.marks: collections.deque[tuple[float, int]] = collections.deque([(0.0, 0)])

    def add(self, seconds: float, done: int) -> float | None:
        """Record ``done`` draws after ``seconds`` of sampling; return the recent rate."""
        marks = self.marks
        marks.append((float(seconds), int(done)))
        while len(marks) > 2 and seconds - marks[1][0] >= self.window:
            marks.popleft()
        t0, d0 = marks[0]
        if done > d0 and seconds > t0:
            return (done - d0) / (seconds - t0)
        return None


def _sample_kwargs(draws: int, tune: int, chains: int, seed: int) -> dict[str, Any]:
    return {
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "cores": 1,
        "random_seed": seed,
        "progressbar": False,
        "quiet": True,
        "compute_convergence_checks": False,
    }


def _child_main() -> None:
    """The sampling process (``python -c``): the model on stdin, messages on stdout.

    Run as a fresh interpreter rather than a ``multiprocessing`` spawn: spawn re-runs
    the parent's ``__main__`` (a user's script without a ``__main__`` guard would start
    again in the child). Messages are ``multiprocessing.connection`` frames; PyMC's own
    output is sent to stderr so that it cannot mix with them.
    """
    import os
    import signal
    from multiprocessing.connection import Connection

    # an interrupt of the kernel (sent to its whole process group) is not a Cancel:
    # PyMC would end the current chain early and go on, returning a truncated chain
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(os.dup(1), readable=False)
    inbox = Connection(os.dup(0), writable=False)
    os.dup2(2, 1)  # print() and friends go to stderr from now on
    try:
        import cloudpickle
        import pymc as pm

        try:
            model, kwargs = cloudpickle.loads(inbox.recv_bytes())
        except Exception as err:  # the parent samples in a thread instead
            conn.send(("unpickle", f"{type(err).__name__}: {err}"))
            return
        counter = _Counter(kwargs["tune"], kwargs["draws"], lambda t: conn.send(("progress", t)))
        result = pm.sample(model=model, callback=lambda trace, draw: counter(draw), **kwargs)
        conn.send(("progress", counter.snapshot(kwargs["chains"] - 1, False, time.monotonic())))
        conn.send_bytes(b"R" + cloudpickle.dumps(result))
    except BaseException as err:  # everything goes back to the parent
        try:
            import cloudpickle

            blob = cloudpickle.dumps(err)
        except Exception:
            blob = None
        with contextlib.suppress(Exception):
            conn.send(("error", blob, f"{type(err).__name__}: {err}", traceback.format_exc()))
    finally:
        with contextlib.suppress(Exception):
            conn.close()


_CHILD_CODE = "from vibench.session._reference import _child_main; _child_main()"


class ReferenceJob(Future):
    """A NUTS reference being sampled: a Future of the DataTree, with progress and Cancel.

    Made by :meth:`vibench.Session.reference`; everything a
    :class:`concurrent.futures.Future` does works (``result``, ``done``,
    ``add_done_callback``...), and :meth:`cancel` works while it runs.

    Parameters
    ----------
    model : pymc.Model
        The model to sample.
    draws, tune, chains, seed : int
        Passed to :func:`pymc.sample` (chains one after another, one core).
    process : bool
        Sample in a separate process (default); a model that cannot be pickled falls
        back to a thread. ``False`` samples in a thread of this process.

    Attributes
    ----------
    draws, tune, chains, seed : int
        The settings.
    mode : str
        ``"process"`` or ``"thread"``.
    """

    def __init__(
        self,
        model: Any,
        *,
        draws: int = DEFAULT_DRAWS,
        tune: int = DEFAULT_TUNE,
        chains: int = DEFAULT_CHAINS,
        seed: int = 0,
        process: bool = True,
    ) -> None:
        super().__init__()
        self.draws, self.tune, self.chains, self.seed = (
            int(draws),
            int(tune),
            int(chains),
            int(seed),
        )
        self._model_ref = weakref.ref(model)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._subscribers: list[Callable[[ReferenceProgress], None]] = []
        self._started = time.monotonic()
        self._process: Any = None
        self._payload: bytes | None = None
        self._rate = DrawRate()
        self.mode = "thread"
        if process:
            import cloudpickle

            try:
                self._payload = cloudpickle.dumps(
                    (model, _sample_kwargs(self.draws, self.tune, self.chains, self.seed))
                )
                self.mode = "process"
            except Exception:  # an unpicklable model: sample in a thread instead
                self._payload = None
        self._progress = ReferenceProgress(
            total=self.chains * (self.tune + self.draws), chains=self.chains, mode=self.mode
        )
        self._thread = threading.Thread(target=self._work, name=_THREAD_NAME, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public
    @property
    def progress(self) -> ReferenceProgress:
        """The latest :class:`ReferenceProgress` (its ``elapsed`` is brought up to now)."""
        p = self._progress
        if not p.finished:
            p = dataclasses.replace(p, elapsed=time.monotonic() - self._started)
        return p

    @property
    def settings(self) -> dict[str, int]:
        """``draws``, ``tune``, ``chains`` and ``seed`` as a dict."""
        return {"draws": self.draws, "tune": self.tune, "chains": self.chains, "seed": self.seed}

    def running(self) -> bool:
        """Whether the job is still sampling (or starting)."""
        return not self.done()

    def subscribe(self, callback: Callable[[ReferenceProgress], None]) -> Callable[[], None]:
        """Call ``callback(progress)`` on each progress event (from a worker thread).

        It is called once at once with the current progress, then a few times a second
        while sampling, and a last time when the job ends (``progress.finished``).

        Returns
        -------
        callable
            Call it to unsubscribe.
        """
        with self._lock:
            self._subscribers.append(callback)
        _call(callback, self.progress)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def cancel(self) -> bool:
        """Stop the sampler: terminate its process, or stop its thread at the next draw.

        Returns
        -------
        bool
            True if the job is cancelled (now or before), False if it had finished.
        """
        if self.done():
            return self.cancelled()
        self._stop.set()
        # the Future stays PENDING while it runs (see _work), so this succeeds unless
        # the result arrived just now; done-callbacks run here and see ``cancelled()``
        if not super().cancel():
            return False
        self._update(state="cancelled", seconds_left=None)
        self._terminate()
        return True

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the worker thread (and process) have ended; return whether they have."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def pid(self) -> int | None:
        """The sampling process's id (``None`` in thread mode or before it starts)."""
        proc = self._process
        return None if proc is None else proc.pid

    @property
    def alive(self) -> bool:
        """Whether the worker thread or the sampling process is still alive."""
        proc = self._process
        return self._thread.is_alive() or (proc is not None and proc.poll() is None)

    # ------------------------------------------------------------------ worker
    # The Future is never marked RUNNING: ``Future.cancel`` then succeeds while the
    # sampler works, and the worker only sets a result if nobody cancelled.
    def _work(self) -> None:
        try:
            run = self._run_process if self._payload is not None else self._run_thread
            result = run()
        except _Cancelled:
            return
        except BaseException as err:
            if self.cancelled():
                return
            self._update(state="failed", message=_short(err), seconds_left=None)
            with contextlib.suppress(Exception):
                self.set_exception(err)
            return
        if self.cancelled():
            return
        self._update(state="finished", done=self._progress.total, seconds_left=None)
        with contextlib.suppress(Exception):
            self.set_result(result)

    def _run_process(self) -> Any:
        import os
        import pickle
        import subprocess
        import sys
        import tempfile
        from multiprocessing.connection import Connection

        import cloudpickle

        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p])
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
        with self._lock:
            if self._stop.is_set():
                stderr.close()
                raise _Cancelled
            proc = subprocess.Popen(
                [sys.executable, "-c", _CHILD_CODE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                close_fds=True,
            )
            self._process = proc
        receive = Connection(os.dup(proc.stdout.fileno()), writable=False)
        proc.stdout.close()
        try:
            outbox = Connection(os.dup(proc.stdin.fileno()), readable=False)
            proc.stdin.close()
            with contextlib.suppress(OSError), outbox:
                outbox.send_bytes(self._payload)
            self._payload = None
            while True:
                if self._stop.is_set():
                    raise _Cancelled
                if not receive.poll(0.2):
                    self._update()
                    continue
                try:
                    data = receive.recv_bytes()
                except (EOFError, OSError):
                    if self._stop.is_set():
                        raise _Cancelled from None
                    proc.wait(_EXIT_GRACE)
                    raise RuntimeError(
                        "the NUTS sampling process ended without a result (exit code "
                        f"{proc.returncode}){_tail(stderr)}"
                    ) from None
                if data[:1] == b"R":
                    return cloudpickle.loads(data[1:])
                kind, *rest = pickle.loads(data)
                if kind == "progress":
                    self._on_counts(*rest[0])
                elif kind == "unpickle":  # the model pickles but does not load there
                    logger.info("vibench: NUTS reference in a thread (%s)", rest[0])
                    self.mode = "thread"
                    self._update(mode="thread", message=f"sampled in a thread: {rest[0]}")
                    return self._run_thread()
                elif kind == "error":
                    blob, text, tb = rest
                    err: BaseException
                    try:
                        err = cloudpickle.loads(blob) if blob is not None else RuntimeError(text)
                    except Exception:
                        err = RuntimeError(text)
                    err.__cause__ = RuntimeError(f"in the NUTS sampling process:\n{tb}")
                    raise err
        finally:
            receive.close()
            self._terminate(grace=_EXIT_GRACE)
            stderr.close()

    def _run_thread(self) -> Any:
        import pymc as pm

        model = self._model_ref()
        if model is None:
            raise RuntimeError("the model is gone")
        kwargs = _sample_kwargs(self.draws, self.tune, self.chains, self.seed)
        counter = _Counter(self.tune, self.draws, lambda t: self._on_counts(*t))

        def callback(trace: Any, draw: Any) -> None:
            if self._stop.is_set():
                raise _Cancelled
            counter(draw)

        try:
            return pm.sample(model=model, callback=callback, **kwargs)
        finally:
            del model

    def _terminate(self, grace: float = 0.0) -> None:
        """End the sampling process: wait ``grace`` seconds, then terminate, then kill."""
        import subprocess

        with self._lock:
            proc = self._process
        if proc is None:
            return
        for step in ("wait", "terminate", "kill"):
            if step != "wait":
                with contextlib.suppress(OSError):
                    getattr(proc, step)()
            elif not grace:
                continue
            try:
                proc.wait(grace if step == "wait" else 2.0)
                return
            except subprocess.TimeoutExpired:
                pass

    # ------------------------------------------------------------------ progress
    def _on_counts(
        self,
        chain: int,
        done: int,
        tuning: bool,
        divergences: int,
        tuning_divergences: int,
        sampling_seconds: float,
    ) -> None:
        total = self._progress.total
        rate = self._rate.add(sampling_seconds, done)
        left = (total - done) / rate if rate else None
        self._update(
            state="sampling",
            chain=int(chain),
            done=min(int(done), total),
            tuning=bool(tuning),
            divergences=int(divergences),
            tuning_divergences=int(tuning_divergences),
            seconds_left=left,
        )

    def _update(self, **changes: Any) -> None:
        with self._lock:
            if self._progress.finished:
                return  # a late message after cancel or the end
            if changes.get("state") == "sampling" and self._stop.is_set():
                return
            changes["elapsed"] = time.monotonic() - self._started
            self._progress = p = dataclasses.replace(self._progress, **changes)
            subscribers = list(self._subscribers)
        for cb in subscribers:
            _call(cb, p)

    def __repr__(self) -> str:
        return f"<ReferenceJob {self.mode}: {self.progress.text}>"


def _call(callback: Callable, progress: ReferenceProgress) -> None:
    try:
        callback(progress)
    except Exception:
        logger.exception("vibench: a reference progress callback raised")


def _tail(file: Any, limit: int = 600) -> str:
    """The end of the sampling process's stderr, for an error message."""
    with contextlib.suppress(Exception):
        file.seek(0, 2)
        size = file.tell()
        file.seek(max(size - limit, 0))
        text = file.read().decode("utf-8", "replace").strip()
        if text:
            return f":\n{text}"
    return ""


def _short(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}"
    return text if len(text) <= 200 else text[:197] + "…"


def done_job(result: Any) -> Future:
    """A finished :class:`~concurrent.futures.Future` holding ``result``."""
    future: Future = Future()
    future.set_result(result)
    return future


# ---------------------------------------------------------------------- user posterior
def check_reference(posterior: Any, variables: Any) -> Any:
    """Check a posterior given as a reference and return it as a DataTree.

    Parameters
    ----------
    posterior : xarray.DataTree or arviz.InferenceData or xarray.Dataset
        Draws with a ``posterior`` group (a Dataset is taken as the posterior itself),
        dimensions ``(chain, draw, *shape)``.
    variables : sequence of VariableInfo
        The model's free variables (``name``, ``shape``, ``discrete``).

    Returns
    -------
    xarray.DataTree
        With at least a ``posterior`` group.

    Raises
    ------
    TypeError
        Not a DataTree, InferenceData or Dataset.
    ValueError
        No posterior group, a continuous free variable missing, or a shape that does
        not match the model's.
    """
    import xarray as xr

    if isinstance(posterior, xr.Dataset):
        tree = xr.DataTree.from_dict({"posterior": posterior})
    elif isinstance(posterior, xr.DataTree):
        tree = posterior
    elif hasattr(posterior, "posterior") and hasattr(posterior, "groups"):  # InferenceData
        import arviz_base

        tree = arviz_base.convert_to_datatree(posterior)
    else:
        raise TypeError(
            "a reference posterior must be an xarray.DataTree, an arviz.InferenceData or "
            f"an xarray.Dataset of draws, got {type(posterior).__name__}"
        )
    if "posterior" not in tree.children:
        groups = ", ".join(sorted(tree.children)) or "none"
        raise ValueError(f"the reference has no 'posterior' group (its groups: {groups})")
    post = tree["posterior"].to_dataset()
    for dim in ("chain", "draw"):
        if dim not in post.dims:
            raise ValueError(f"the reference posterior has no {dim!r} dimension")
    problems = []
    for var in variables:
        if var.discrete:
            continue
        if var.name not in post.data_vars:
            problems.append(f"{var.name!r} is missing")
            continue
        da = post[var.name]
        if da.dims[:2] != ("chain", "draw"):
            problems.append(f"{var.name!r} has dims {da.dims}, not (chain, draw, ...)")
            continue
        shape = tuple(int(s) for s in da.shape[2:])
        if shape != tuple(var.shape):
            problems.append(f"{var.name!r} has shape {shape}, the model's is {tuple(var.shape)}")
        elif not np.issubdtype(da.dtype, np.number):
            problems.append(f"{var.name!r} is not numeric")
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ValueError(f"the reference does not match the model: {shown}{more}")
    if post.sizes["chain"] * post.sizes["draw"] < 2:
        raise ValueError("the reference posterior needs at least 2 draws")
    return tree


# ---------------------------------------------------------------------- the cache
# NUTS reference jobs, cached per model object and per sampling settings: two sessions
# (or a session and its workbench) on one model share one job. A failed or cancelled
# job is replaced by the next call.
_JOBS: weakref.WeakKeyDictionary[Any, dict[tuple, ReferenceJob]] = weakref.WeakKeyDictionary()
_JOBS_LOCK = threading.Lock()


def _cancel_all_at_exit() -> None:
    """Leave no sampling process behind when the interpreter exits."""
    with _JOBS_LOCK:
        jobs = [job for per_model in _JOBS.values() for job in per_model.values()]
    for job in jobs:
        with contextlib.suppress(Exception):
            job.cancel()


atexit.register(_cancel_all_at_exit)


def reference_job(
    model: Any, draws: int, tune: int, chains: int, seed: int, *, process: bool = True
) -> ReferenceJob:
    """The cached :class:`ReferenceJob` for these settings, started if there is none."""
    key = (int(draws), int(tune), int(chains), int(seed), bool(process))
    with _JOBS_LOCK:
        jobs = _JOBS.setdefault(model, {})
        job = jobs.get(key)
        if job is None or job.cancelled() or (job.done() and job.exception() is not None):
            job = ReferenceJob(
                model, draws=draws, tune=tune, chains=chains, seed=seed, process=process
            )
            jobs[key] = job
    return job


def running_jobs(model: Any) -> list[ReferenceJob]:
    """The model's reference jobs that are still sampling."""
    with _JOBS_LOCK:
        return [job for job in _JOBS.get(model, {}).values() if not job.done()]
