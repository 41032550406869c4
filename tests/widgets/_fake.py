"""A fake session for widget tests: the session API in plain Python, no PyTensor compiles.

It keeps a plan, "fits" by writing a synthetic ELBO curve from a worker thread (with
progress events like the real session), and records the calls it received.

Like the real session it accepts the "empirical" family while a plan is edited and
refuses, at fit time, a plan that mixes empirical groups with other families. A
particle plan's run records a rising "mean log p of the particles" curve (the real
session's trace for SVGD, see ``vibench.session.trace_label``) and its k-hat is not
available.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

# The real progress record, k-hat and smoothing: plain code, so the fake needs no copies.
from vibench._smoothing import smoothed_at
from vibench.session._diagnostics import NOT_AVAILABLE, Khat
from vibench.session._reference import ReferenceProgress
from vibench.session._run import Progress


class FakePlanError(ValueError):
    """An edit the fake session refuses."""


class FakeBusyError(RuntimeError):
    """An edit while a fit runs."""


@dataclass(frozen=True)
class Variable:
    name: str
    shape: tuple[int, ...]
    size: int
    discrete: bool = False


@dataclass(frozen=True)
class Group:
    id: str
    variables: list[str]
    family: str
    rowwise: bool = False
    custom: bool = False
    label: str = ""


@dataclass(frozen=True)
class Settings:
    iterations: int = 1000
    optimizer: str = "adam"
    learning_rate: float = 0.01
    obj_n_mc: int = 1
    seed: int | None = None
    tolerance: float | None = None
    window: int = 100
    temperature: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(eq=False)
class Run:
    plan: dict[str, Any]
    settings: Settings
    start_iteration: int = 0
    status: str = "running"
    message: str = ""
    seconds: float = 0.0
    chunks: list[np.ndarray] = field(default_factory=list)
    khat: Any = None

    @property
    def elbo(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.empty(0)

    @property
    def iterations(self) -> int:
        return int(sum(len(c) for c in self.chunks))


FLOWS = ("planar", "radial", "hh", "scale", "loc")
FAMILIES = ("mean_field", "full_rank", "empirical")


def _canonical(family: Any) -> str:
    if not isinstance(family, str):
        raise FakePlanError("a family must be a string")
    key = family.strip().lower()
    if key in FAMILIES:
        return key
    tokens = key.replace(" ", "").split("-")
    for t in tokens:
        name = t.split("*")[0]
        if name not in FLOWS:
            raise FakePlanError(f"unknown flow {name!r} in flow formula {family!r}")
    return "-".join(tokens)


class FakeReferenceJob(Future):
    """A NUTS reference the test drives by hand: ``advance``, ``finish``, ``fail``.

    Like ``vibench.session.ReferenceJob``: a Future of a DataTree with ``progress``,
    ``subscribe`` and a ``cancel`` that works while it "samples".
    """

    def __init__(self, result: Any, total: int = 2000) -> None:
        super().__init__()
        self._tree = result
        self._subs: list[Callable] = []
        self._progress = ReferenceProgress(state="starting", total=total, chains=2)

    @property
    def progress(self) -> ReferenceProgress:
        return self._progress

    def subscribe(self, callback: Callable) -> Callable[[], None]:
        self._subs.append(callback)
        callback(self._progress)
        return lambda: self._subs.remove(callback) if callback in self._subs else None

    def _emit(self, **changes: Any) -> None:
        self._progress = dataclasses.replace(self._progress, **changes)
        for cb in list(self._subs):
            cb(self._progress)

    def advance(self, done: int, divergences: int = 0, seconds_left: float = 30.0) -> None:
        self._emit(
            state="sampling",
            done=done,
            divergences=divergences,
            tuning=done < self._progress.total // 4,
            chain=0 if done < self._progress.total // 2 else 1,
            seconds_left=seconds_left,
        )

    def finish(self) -> None:
        self._emit(state="finished", done=self._progress.total, seconds_left=None)
        self.set_result(self._tree)

    def fail(self, err: BaseException) -> None:
        self._emit(state="failed", message=str(err), seconds_left=None)
        self.set_exception(err)

    def cancel(self) -> bool:
        if not super().cancel():
            return False
        self._emit(state="cancelled", seconds_left=None)
        return True


class FakeSession:
    """Three variables like eight schools plus a discrete one, and a fake fit."""

    flow_names = FLOWS
    #: The fake fits its discrete ``k`` (it ignores it); ``vibench.Session`` cannot, and
    #: the workbench disables Fit for it (set False to see that).
    fits_discrete = True

    def __init__(self, *, step_seconds: float = 0.0005, discrete: bool = True) -> None:
        self._vars = [
            Variable("mu", (), 1),
            Variable("tau", (), 1),
            Variable("theta_tilde", (8,), 8),
        ]
        if discrete:
            self._vars.append(Variable("k", (), 1, discrete=True))
        self._groups: dict[str, tuple[list[str], str]] = {}
        self._rest_family = "mean_field"
        self._next = 1
        self._particles = 100
        self.settings = Settings()
        self._runs: list[Run] = []
        self._subscribers: list[Callable] = []
        self._listeners: list[Callable] = []
        self._busy = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.step_seconds = step_seconds
        self.iteration = 0
        self.calls: list[tuple] = []
        self.model = None

    # reading
    @property
    def variables(self) -> list[Variable]:
        return list(self._vars)

    @property
    def groups(self) -> list[Group]:
        taken = {v for vs, _ in self._groups.values() for v in vs}
        out = [Group(g, list(vs), f) for g, (vs, f) in self._groups.items()]
        rest = [v.name for v in self._vars if v.name not in taken and not v.discrete]
        return [*out, Group("rest", rest, self._rest_family)]

    @property
    def runs(self) -> list[Run]:
        return list(self._runs)

    @property
    def particles(self) -> int:
        return self._particles

    def _held(self) -> list[Group]:
        return [g for g in self.groups if g.variables]

    def _is_particle_plan(self) -> bool:
        held = self._held()
        return bool(held) and all(g.family == "empirical" for g in held)

    @property
    def running(self) -> bool:
        return self._busy

    # edits
    def _edit(self, fn: Callable[[], Any]) -> Any:
        if self._busy:
            raise FakeBusyError("a fit is running: stop it (or wait) before editing the plan")
        out = fn()
        for cb in list(self._listeners):
            cb(self)
        return out

    def _check_var(self, name: str) -> Variable:
        for v in self._vars:
            if v.name == name:
                if v.discrete:
                    raise FakePlanError(f"variable {name!r} is discrete")
                return v
        raise FakePlanError(f"unknown variable {name!r}")

    def add_group(self, family: str = "full_rank", variables=()) -> str:
        def go() -> str:
            fam = _canonical(family)
            names = list(variables)
            for n in names:
                self._check_var(n)
            gid = f"g{self._next}"
            self._next += 1
            for vs, _ in self._groups.values():
                vs[:] = [v for v in vs if v not in names]
            self._groups[gid] = (names, fam)
            self.calls.append(("add_group", family, tuple(names)))
            return gid

        return self._edit(go)

    def move(self, variable: str, group_id: str) -> None:
        def go() -> None:
            self._check_var(variable)
            if group_id != "rest" and group_id not in self._groups:
                raise FakePlanError(f"unknown group {group_id!r}")
            for vs, _ in self._groups.values():
                if variable in vs:
                    vs.remove(variable)
            if group_id != "rest":
                self._groups[group_id][0].append(variable)
            self.calls.append(("move", variable, group_id))

        self._edit(go)

    def set_family(self, group_id: str, family: str) -> None:
        def go() -> None:
            fam = _canonical(family)
            if group_id == "rest":
                self._rest_family = fam
            elif group_id in self._groups:
                self._groups[group_id] = (self._groups[group_id][0], fam)
            else:
                raise FakePlanError(f"unknown group {group_id!r}")
            self.calls.append(("set_family", group_id, fam))

        self._edit(go)

    def set_particles(self, n: int) -> None:
        def go() -> None:
            if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 5000:
                raise FakePlanError(f"particles must be an int from 2 to 5000, got {n!r}")
            self._particles = n
            self.calls.append(("set_particles", n))

        self._edit(go)

    def remove_group(self, group_id: str) -> None:
        def go() -> None:
            if group_id == "rest" or group_id not in self._groups:
                raise FakePlanError(f"cannot remove group {group_id!r}")
            del self._groups[group_id]
            self.calls.append(("remove_group", group_id))

        self._edit(go)

    def configure(self, **changes: Any) -> Settings:
        self.settings = dataclasses.replace(self.settings, **changes)
        for cb in list(self._listeners):
            cb(self)
        return self.settings

    def on_change(self, callback: Callable) -> Callable[[], None]:
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def subscribe(self, callback: Callable) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    # fitting
    def _plan(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "groups": [
                {"id": g.id, "family": g.family, "variables": g.variables} for g in self.groups
            ]
        }
        if any(g.family == "empirical" for g in self.groups):
            out["particles"] = self._particles
        return out

    def _check_particles_alone(self) -> None:
        """The real session's rule: empirical groups only next to other empirical groups."""
        held = self._held()
        empirical = [g.id for g in held if g.family == "empirical"]
        if not empirical or len(empirical) == len(held):
            return
        others = ", ".join(f"group {g.id!r} ({g.family})" for g in held if g.family != "empirical")
        raise FakePlanError(
            f"group {empirical[0]!r} is empirical: a particle cloud fitted by SVGD, which "
            f"moves the particles of the whole posterior at once, so it cannot be fitted "
            f"next to {others} (fitted by the ELBO, which particles cannot be). Either set "
            "every group to 'empirical', or give it another family."
        )

    def start(self, n: int | None = None, **settings: Any) -> Run:
        if self._busy:
            raise FakeBusyError("a fit is already running")
        for gid, (vs, _) in self._groups.items():
            if not vs:
                raise FakePlanError(
                    f"group {gid!r} is empty; move a variable into it or remove it"
                )
        self._check_particles_alone()
        self.settings = dataclasses.replace(
            self.settings, iterations=n or self.settings.iterations, **settings
        )
        self.calls.append(("start", n, settings))
        run = Run(plan=self._plan(), settings=self.settings, start_iteration=self.iteration)
        self._stop.clear()
        self._busy = True
        for cb in list(self._listeners):
            cb(self)
        self._thread = threading.Thread(target=self._work, args=(run,), daemon=True)
        self._thread.start()
        return run

    def _emit(self, p: Progress) -> None:
        for cb in list(self._subscribers):
            cb(p)

    def _work(self, run: Run) -> None:
        n = run.settings.iterations
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        last = t0
        done = 0
        status = "finished"
        particles = "particles" in run.plan and all(
            g["family"] == "empirical" for g in run.plan["groups"] if g["variables"]
        )
        while done < n:
            if self._stop.is_set():
                status = "stopped"
                break
            k = min(50, n - done)
            it = self.iteration + done + np.arange(k)
            if particles:  # the mean log p of the particles: rises, levels off
                run.chunks.append(-(5 + 40 * np.exp(-it / 200)) + rng.normal(0, 0.1, k))
            else:
                run.chunks.append(-(30 + 100 * np.exp(-it / 300)) + rng.normal(0, 1, k))
            done += k
            time.sleep(self.step_seconds * k)
            now = time.perf_counter()
            if now - last >= 0.05:
                e = run.elbo
                self._emit(
                    Progress(
                        done,
                        n,
                        float(e[-1]),
                        smoothed_at(e, e.size, run.settings.window),
                        done / (now - t0),
                        "running",
                    )
                )
                last = now
        run.seconds = time.perf_counter() - t0
        run.status = status
        run.khat = Khat(float("nan"), NOT_AVAILABLE, 1000) if particles else 0.42
        self.iteration += done
        self._runs.append(run)
        self._busy = False
        e = run.elbo
        self._emit(
            Progress(
                done,
                n,
                float(e[-1]) if e.size else float("nan"),
                smoothed_at(e, e.size, run.settings.window),
                done / max(run.seconds, 1e-9),
                status,
                f"{status} after {done} iterations",
            )
        )

    def remove_run(self, run: Run) -> None:
        if not any(r is run for r in self._runs):
            raise ValueError("not a run of this session")
        self._runs = [r for r in self._runs if r is not run]
        self.calls.append(("remove_run", run))

    def stop(self) -> None:
        self.calls.append(("stop",))
        self._stop.set()

    def wait(self, timeout: float | None = None) -> Run | None:
        if self._thread is not None:
            self._thread.join(timeout)
        return self._runs[-1] if self._runs else None

    def reset(self) -> None:
        if self._busy:
            raise FakeBusyError("a fit is running")
        self.calls.append(("reset",))
        self.iteration = 0

    def affordable_draws(self, draws: int) -> int:
        return draws

    def sample(self, draws: int = 1000, seed: int | None = None) -> xr.DataTree:
        rng = np.random.default_rng(seed)
        data = {}
        for v in self._vars:
            if not v.discrete:
                data[v.name] = (
                    ("chain", "draw", *[f"{v.name}_dim_{i}" for i in range(len(v.shape))]),
                    rng.normal(1.0, 2.0, (1, draws, *v.shape)),
                )
        return xr.DataTree.from_dict({"posterior": xr.Dataset(data)})

    # the NUTS reference: a job the test drives (``reference_jobs[-1].advance(...)``)
    reference_jobs: list[FakeReferenceJob]
    _given_reference: Any = None

    def reference(self, draws: int = 500, *, background: bool = False, **kwargs: Any) -> Any:
        self.calls.append(("reference", draws, background))
        if self._given_reference is not None:
            if background:
                done: Future = Future()
                done.set_result(self._given_reference)
                return done
            return self._given_reference
        jobs = self.__dict__.setdefault("reference_jobs", [])
        if not jobs or jobs[-1].cancelled() or (jobs[-1].done() and jobs[-1].exception()):
            jobs.append(FakeReferenceJob(self.sample(400, seed=7)))
        job = jobs[-1]
        if background:
            return job
        job.finish()
        return job.result()

    def set_reference(self, posterior: Any) -> None:
        if posterior is not None and "posterior" not in posterior.children:
            raise FakePlanError("the reference has no 'posterior' group")
        self.calls.append(("set_reference", posterior is not None))
        self._given_reference = posterior
        for cb in list(self._listeners):
            cb(self)

    @property
    def reference_given(self) -> bool:
        return self._given_reference is not None

    @property
    def given_reference(self) -> Any:
        return self._given_reference

    def to_code(self) -> str:
        return "# code for " + json.dumps(self._plan())

    def to_dict(self) -> dict[str, Any]:
        return {"vibench": 1, "plan": self._plan(), "settings": self.settings.to_dict()}

    @classmethod
    def from_dict(cls, model: Any, data: Any) -> FakeSession:
        if isinstance(data, str):  # the real one takes JSON text too (size-checked first)
            try:
                data = json.loads(data)
            except ValueError as err:
                raise FakePlanError(f"not JSON: {err}") from None
        if not isinstance(data, dict) or "plan" not in data:
            raise FakePlanError("a preset needs a 'plan'")
        s = cls()
        for g in data["plan"]["groups"]:
            if g["id"] == "rest":
                s.set_family("rest", g["family"])
            else:
                s.add_group(g["family"], g["variables"])
        if "particles" in data["plan"]:
            s.set_particles(data["plan"]["particles"])
        if "settings" in data:
            s.settings = Settings(**data["settings"])
        return s


class WordsFakeSession(FakeSession):
    """A fake whose model speaks in its own words: coords, Deterministics, a hidden variable.

    Free variables ``mu``, ``sigma``, ``z`` (12 counties, coords), ``w`` (3, coords
    ``low``/``mid``/``high``) and ``f_raw_`` (10; hidden: the Deterministic ``f`` stands
    for it); Deterministics ``f`` (10), and on request ``z_mean`` and ``a`` (12
    counties). It has ``shown_variables`` and ``draws(..., deterministics=)`` like
    ``vibench.Session`` and records each ``draws`` call's ``deterministics``.
    """

    COUNTIES = tuple(f"county_{i:02d}" for i in range(12))

    def __init__(self, **kw: Any) -> None:
        super().__init__(discrete=False, **kw)
        self._vars = [
            Variable("mu", (), 1),
            Variable("sigma", (), 1),
            Variable("z", (12,), 12),
            Variable("w", (3,), 3),
            Variable("f_raw_", (10,), 10),
        ]
        self.draw_calls: list[bool] = []

    def shown_variables(self, deterministics: bool = False) -> list[Any]:
        from vibench.session._views import VariableView

        def elements(n: int) -> tuple:
            return tuple((i,) for i in range(n))

        out = [
            VariableView("mu", ()),
            VariableView("sigma", ()),
            VariableView("z", (12,), "free", (self.COUNTIES,), elements(12)),
            VariableView("w", (3,), "free", (("low", "mid", "high"),), elements(3)),
            VariableView("f", (10,), "deterministic", (None,), elements(10), "f_raw_"),
        ]
        if deterministics:
            out += [
                VariableView("z_mean", (), "deterministic"),
                VariableView("a", (12,), "deterministic", (self.COUNTIES,), elements(12)),
            ]
        return out

    def _values(self, draws: int, seed: int | None, deterministics: bool) -> dict:
        rng = np.random.default_rng(seed)
        out = {
            v.name: rng.normal(1.0, 2.0, (draws, *v.shape)) + np.arange(v.size).reshape(v.shape)
            for v in self._vars
        }
        if deterministics:
            out["f"] = np.cumsum(out["f_raw_"], axis=1)
            out["z_mean"] = out["z"].mean(axis=1)
            out["a"] = out["mu"][:, None] + out["z"]
        return out

    def draws(self, draws: int = 300, seed: int | None = None, *, deterministics: bool = False):
        self.draw_calls.append(bool(deterministics))
        return self._values(draws, seed, deterministics)

    def sample(self, draws: int = 1000, seed: int | None = None) -> xr.DataTree:
        data = {
            k: (("chain", "draw", *[f"{k}_dim_{i}" for i in range(v.ndim - 1)]), v[None])
            for k, v in self._values(draws, seed, True).items()
        }
        return xr.DataTree.from_dict({"posterior": xr.Dataset(data)})
