"""``Session``: the workbench's state and actions in plain Python (no widgets)."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import arviz_base
import numpy as np
import pymc as pm
import xarray as xr
from pymc.variational import KLqp, opvi

from vibench import models
from vibench._smoothing import smoothed_at
from vibench.engine import Approximation, BatchedGroup, Group, NormalizingFlowGroup
from vibench.session._backends import (
    AUTO,
    BACKENDS,
    BackendMemory,
    available_backends,
    fingerprint,
    point_shapes,
)
from vibench.session._codegen import plan_to_code
from vibench.session._diagnostics import Khat, psis_khat
from vibench.session._errors import PlanError, SessionBusyError
from vibench.session._initial_point import cached_initial_point
from vibench.session._live_draws import DrawFunction
from vibench.session._plan import (
    LISTING_SLACK,
    MAX_PRESET_BYTES,
    REST,
    GroupSpec,
    Plan,
    VariableInfo,
    listing,
    model_variables,
    short_repr,
)
from vibench.session._reference import (
    DEFAULT_CHAINS,
    DEFAULT_DRAWS,
    DEFAULT_TUNE,
    ReferenceProgress,
    check_reference,
    done_job,
    reference_job,
    running_jobs,
)
from vibench.session._run import FitSettings, Progress, Run
from vibench.session._runner import StepFunction, run_loop
from vibench.session._sampling import Sampler
from vibench.session._views import VariableView, model_views

__all__ = ["Session", "SessionBusyError"]

logger = logging.getLogger(__name__)

_FORMAT_VERSION = 1
_MISSING: Any = object()


#: Most ``draws x elements`` one draw array may hold (32 MB of float64): see
#: :meth:`Session.affordable_draws`.
DRAW_ELEMENTS = 4_000_000
_MIN_DRAWS = 100


class _Fitted:
    """What one plan has built: the approximation, its inference and compiled functions."""

    def __init__(self, approx: Any, inference: Any, plan_key: tuple) -> None:
        self.approx = approx
        self.inference = inference
        self.plan_key = plan_key
        #: Builds the step function from ``inference.objective`` (particle plans use
        #: their own class with the same interface).
        self.step_class: type = StepFunction
        self.steps: dict[tuple, StepFunction] = {}
        self.sampler: Sampler | None = None
        self.draw_fn: DrawFunction | None = None
        #: The same with the model's Deterministics (``draws(deterministics=True)``).
        self.det_draw_fn: DrawFunction | None = None
        #: More keyword arguments of ``objective.updates`` for this plan's step
        #: (``more_obj_params`` / ``more_replacements`` of groups built in Python).
        self.update_kwargs: dict[str, Any] = {}
        self.initial_params = [p.get_value(borrow=False) for p in approx.params]
        self.elbo: list[np.ndarray] = []
        self.iteration = 0

    def params(self) -> list[np.ndarray]:
        return [p.get_value(borrow=False) for p in self.approx.params]

    def set_params(self, values: list[np.ndarray]) -> None:
        for p, v in zip(self.approx.params, values, strict=True):
            p.set_value(v, borrow=False)


class Session:
    """The workbench's brain: a plan of groups, fitting, runs, draws and diagnostics.

    Parameters
    ----------
    model : pymc.Model or str, optional
        The model to fit, or the name of a demo model (see :mod:`vibench.models`).
        ``None`` uses the default demo model (eight schools, non-centred).
    compile_kwargs : dict, optional
        Passed to PyTensor when compiling the step function, e.g.
        ``{"mode": "FAST_COMPILE"}`` for instant builds of slower steps. Given, it
        turns tiers off: one function is compiled exactly so (``backend`` is ignored).
    backend : {"auto", "c", "numba"}
        How the step function is compiled when ``compile_kwargs`` is not given. The
        fit always starts stepping at once with a function that builds in a fraction
        of a second (PyTensor's ``FAST_COMPILE``), while the fast backend(s) compile
        in the background; the loop switches between two chunks with no lost step.
        ``"auto"`` (default) builds PyTensor's C backend and Numba, measures both on
        real steps, keeps the faster and remembers the choice per model, plan and
        settings (on disk, see :mod:`vibench.session._backends`), so later fits
        build only the winner. ``"c"`` or ``"numba"`` builds just that one.
    sample_compile_kwargs : dict, optional
        Same for the sampling function (default ``{"mode": "FAST_COMPILE"}``: it runs a
        few times per fit, on many draws at once, so its build time matters more).

    Notes
    -----
    Every plan edit is validated before it is applied; a bad edit raises
    :class:`~vibench.session.PlanError` and leaves the plan as it was. Editing the plan
    discards what the previous plan built (its approximation and compiled functions);
    the next fit builds and compiles afresh. Fitting again with the same plan continues
    from the current parameters with no new compile.

    Threads: :meth:`start` fits in a worker thread; progress callbacks registered with
    :meth:`subscribe` run on that thread (for :meth:`fit`, on the calling thread).

    Examples
    --------
    >>> from vibench.session import Session
    >>> s = Session(compile_kwargs={"mode": "FAST_COMPILE"})
    >>> gid = s.add_group("full_rank", ["mu", "tau"])
    >>> run = s.fit(500, learning_rate=0.05, seed=1)
    >>> run.status, run.iterations
    ('finished', 500)
    """

    def __init__(
        self,
        model: pm.Model | str | None = None,
        *,
        compile_kwargs: dict[str, Any] | None = None,
        sample_compile_kwargs: dict[str, Any] | None = None,
        backend: str = AUTO,
    ) -> None:
        if model is None:
            model = models.get_model(models.DEFAULT_MODEL)
        elif isinstance(model, str):
            model = models.get_model(model)
        elif not isinstance(model, pm.Model):
            raise TypeError(
                f"model must be a pymc.Model, a demo model name or None, got {type(model).__name__}"
            )
        if not model.free_RVs:
            raise ValueError("the model has no free variables to fit")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
        self.model = model
        self.backend = backend
        self._backend_memory = BackendMemory()
        self._plan = Plan(model_variables(model))
        # compile the model's initial point now, once per model (it is cached), and not
        # after the first click: building every plan reads it (0.3-1 s on a mixture)
        point_shapes(model)
        self._settings = FitSettings()
        self._compile_kwargs = dict(compile_kwargs or {})
        self._sample_compile_kwargs = (
            {"mode": "FAST_COMPILE"}
            if sample_compile_kwargs is None
            else dict(sample_compile_kwargs)
        )
        self._lock = threading.RLock()
        self._sampler_lock = threading.Lock()
        #: ``shown_variables`` per value of ``deterministics`` (the model does not change).
        self._shown_cache: dict[bool, list[VariableView]] = {}
        self._fitted: _Fitted | None = None
        self._runs: list[Run] = []
        self._subscribers: list[Callable[[Progress], None]] = []
        #: Groups built in Python (add_custom_group), by plan group id.
        self._custom_groups: dict[str, _CustomGroup] = {}
        self._change_listeners: list[Callable[[Session], None]] = []
        #: A posterior given with set_reference (a DataTree), used instead of NUTS.
        self._given_reference: xr.DataTree | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = False
        self._current: Run | None = None
        #: Step functions compiled by this session (a test hook: Stop/Resume adds none).
        self.compile_count = 0
        #: Sampling functions compiled by this session.
        self.sample_compile_count = 0

    # ------------------------------------------------------------------ reading
    @property
    def variables(self) -> list[VariableInfo]:
        """The model's free variables (``.name``, ``.shape``, ``.size``, ``.discrete``)."""
        return self._plan.variables

    @property
    def groups(self) -> list[GroupSpec]:
        """The groups (``.id``, ``.variables``, ``.family``), the rest group (``"rest"``) last."""
        return self._plan.groups

    def group(self, group_id: str) -> GroupSpec:
        """The group with id ``group_id``."""
        return self._plan.group(group_id)

    @property
    def settings(self) -> FitSettings:
        """Current fit settings: the defaults of the next fit (each fit updates them)."""
        return self._settings

    @property
    def runs(self) -> list[Run]:
        """Every run of this session, oldest first (a copy of the list)."""
        return list(self._runs)

    @property
    def running(self) -> bool:
        """Whether a fit is going on."""
        return self._busy

    @property
    def approximation(self) -> Any:
        """The approximation built for the current plan (``None`` before the first fit)."""
        fitted = self._fitted
        return None if fitted is None else fitted.approx

    def _live_run(self, fitted: _Fitted | None) -> Run | None:
        run = self._current
        if fitted is None or run is None or run.approximation is not fitted.approx:
            return None
        return run

    @property
    def elbo(self) -> np.ndarray:
        """ELBO per iteration since the plan was built or last reset, over all runs.

        Includes the iterations of a run still going on.
        """
        with self._lock:
            fitted = self._fitted
            if fitted is None:
                return np.empty(0)
            parts = list(fitted.elbo)
            live = self._live_run(fitted)
            if live is not None:
                parts.append(live.elbo)
        return np.concatenate(parts) if parts else np.empty(0)

    @property
    def iteration(self) -> int:
        """Iterations fitted with the current plan since it was built or last reset."""
        with self._lock:
            fitted = self._fitted
            if fitted is None:
                return 0
            live = self._live_run(fitted)
            return fitted.iteration + (live.iterations if live is not None else 0)

    # ------------------------------------------------------------------ plan edits
    def _edit(self, action: Callable[[], Any]) -> Any:
        with self._lock:
            if self._busy:
                raise SessionBusyError(
                    "a fit is running: stop it (or wait) before editing the plan"
                )
            before = self._plan.key()
            result = action()
            if self._plan.key() != before:
                self._drop_fitted()
        self._changed()
        return result

    def add_group(self, family: str = "full_rank", variables: Sequence[str] = ()) -> str:
        """Add a group of family ``family`` holding ``variables``; return its id.

        The variables leave the groups they were in, and a group left with none is
        removed (the rest group stays; groups that were empty already are kept). A group
        may be created empty and filled with :meth:`move`, but a plan with an empty group
        cannot be fitted.
        """
        return self._edit(lambda: self._plan.add_group(family, list(variables)))

    def move(self, variable: str, group_id: str) -> None:
        """Move ``variable`` into group ``group_id`` (``"rest"`` sends it back to rest).

        The group it leaves is removed if ``variable`` was its last one (never the rest
        group); the board, redrawn by :meth:`on_change`, drops that column.
        """
        self._edit(lambda: self._plan.move(variable, group_id))

    def set_family(self, group_id: str, family: str) -> None:
        """Set group ``group_id``'s family: a PyMC name or a flow formula."""
        self._edit(lambda: self._plan.set_family(group_id, family))

    def remove_group(self, group_id: str) -> None:
        """Remove a group; its variables go back to the rest group.

        A group built in Python (:meth:`add_custom_group`) can be removed here too (the
        board offers no way to: it shows such a group read-only); the session then
        forgets the group object and its fit arguments.
        """

        def action() -> None:
            self._plan.remove_group(group_id)
            self._custom_groups.pop(group_id, None)

        self._edit(action)

    def set_rowwise(self, group_id: str, rowwise: bool = True) -> None:
        """Make a group row-wise: one independent approximation per row of its variables.

        A row-wise group is ``vibench.Group(variables, vfam=family, rowwise=True)``: each
        row of the variables' first axis (the batch dimension) gets its own member of
        the family (its own mean and scale, covariance or flow parameters), independent
        of the other rows. Several variables may share a row-wise group if their first
        axes have the same length; row ``i`` of the group is row ``i`` of each.

        Parameters
        ----------
        group_id : str
            A group other than the rest group (and not one built in Python).
        rowwise : bool
            ``False`` makes the group an ordinary one again.

        Raises
        ------
        PlanError
            The rest group, a group built in Python, an empirical group, or variables
            without a common first axis (a scalar, or different numbers of rows). Moving
            a variable that does not fit into a row-wise group, or setting the empirical
            family on one, is refused too.
        SessionBusyError
            A fit is running.
        """
        self._edit(lambda: self._plan.set_rowwise(group_id, rowwise))

    def add_custom_group(
        self,
        group: Any,
        *,
        more_obj_params: Sequence[Any] = (),
        more_replacements: dict[Any, Any] | None = None,
        label: str | None = None,
    ) -> str:
        """Put a group built in Python (e.g. an amortized one) into the plan; return its id.

        The plan gets a pinned group holding the group's variables (they leave the
        groups they were in); the approximation uses ``group`` as it is, and every fit
        passes ``more_obj_params`` and ``more_replacements`` to the objective's updates
        (as ``KLqp(approx).fit(more_obj_params=..., more_replacements=...)`` would). The
        board shows the group read-only: its variables cannot be moved and its family
        cannot be changed, there or with :meth:`move` / :meth:`set_family`; only
        :meth:`remove_group` removes it.

        Parameters
        ----------
        group : pymc.variational.opvi.Group
            Built on this session's model, over some of its free variables, e.g.
            ``vibench.Group([z], params=encoder_outputs, local=True)``.
        more_obj_params : sequence of shared variables
            More parameters to optimise, e.g. the encoder's weights.
        more_replacements : dict, optional
            Graph replacements for the fit, e.g. ``{data: pm.Minibatch(values, batch_size=20)}``.
        label : str, optional
            How the board describes the group; default from the group, e.g.
            ``"amortized mean-field"``.

        Returns
        -------
        str
            The group's id in the plan.

        Raises
        ------
        TypeError
            ``group`` is not a PyMC/vibench group, or a bad argument type.
        PlanError
            A rest group (``Group(None, ...)``), a group of another model, an empirical
            group, a variable already in another group built in Python.
        SessionBusyError
            A fit is running.

        Notes
        -----
        :meth:`to_dict` marks the group (``"custom": true``) and :meth:`from_dict`
        refuses such a preset (it cannot hold the group's Python objects);
        :meth:`to_code` writes code that expects the group in a variable. With an
        amortized group, :meth:`sample` and :meth:`draws` give the rows the encoder
        sees now (e.g. the current value of a shared data variable).

        Examples
        --------
        >>> gid = session.add_custom_group(  # doctest: +SKIP
        ...     vibench.Group([z], params={"mu": h[:, :2], "rho": h[:, 2:]}, local=True),
        ...     more_obj_params=[enc_w],
        ...     more_replacements={x_data: pm.Minibatch(data, batch_size=20)},
        ... )
        """
        custom = _check_custom_group(group, self.model, more_obj_params, more_replacements)
        if label is None:
            label = _custom_label(group)
        if (
            not isinstance(label, str)
            or not label.strip()
            or len(label) > 100
            or not label.isprintable()
        ):
            raise TypeError(
                "label must be a non-empty, printable string of at most 100 characters "
                f"(one line), got {label!r}"
            )
        names = [rv.name for rv in group.group]

        def action() -> str:
            gid = self._plan.add_custom(names, _custom_family(group), label.strip())
            self._custom_groups[gid] = custom
            return gid

        return self._edit(action)

    @property
    def particles(self) -> int:
        """Number of particles of the empirical (SVGD) groups (default 100).

        All empirical groups share one particle cloud of this size. Other families
        ignore it.
        """
        return self._plan.particles

    def set_particles(self, n: int) -> None:
        """Set the number of particles of the empirical groups (an int from 2 to 5000).

        Part of the plan: a new count rebuilds the approximation on the next fit (the
        particles start afresh).

        Raises
        ------
        PlanError
            ``n`` is not an int from 2 to 5000.
        SessionBusyError
            A fit is running.
        """
        self._edit(lambda: self._plan.set_particles(n))

    def on_change(self, callback: Callable[[Session], None]) -> Callable[[], None]:
        """Call ``callback(session)`` after each plan or settings change.

        Returns
        -------
        callable
            Call it to unsubscribe.
        """
        self._change_listeners.append(callback)
        return lambda: self._remove(self._change_listeners, callback)

    def _changed(self) -> None:
        for cb in list(self._change_listeners):
            try:
                cb(self)
            except Exception:
                logger.exception("vibench: a change listener raised")

    @staticmethod
    def _remove(listeners: list, callback: Any) -> None:
        if callback in listeners:
            listeners.remove(callback)

    def configure(
        self,
        *,
        iterations: int = _MISSING,
        optimizer: str = _MISSING,
        learning_rate: float = _MISSING,
        obj_n_mc: int = _MISSING,
        seed: int | None = _MISSING,
        tolerance: float | None = _MISSING,
        window: int = _MISSING,
        convergence: str = _MISSING,
        temperature: float = _MISSING,
    ) -> FitSettings:
        """Change the fit settings without fitting; return the new settings.

        See :class:`~vibench.session.FitSettings` for their meaning. A bad value raises
        ``ValueError`` and leaves the settings unchanged.
        """
        given = {
            "iterations": iterations,
            "optimizer": optimizer,
            "learning_rate": learning_rate,
            "obj_n_mc": obj_n_mc,
            "seed": seed,
            "tolerance": tolerance,
            "window": window,
            "convergence": convergence,
            "temperature": temperature,
        }
        with self._lock:
            changes = {k: v for k, v in given.items() if v is not _MISSING}
            self._settings = dataclasses.replace(self._settings, **changes)
        self._changed()
        return self._settings

    # ------------------------------------------------------------------ building
    def _build(self, seed: int | None) -> _Fitted:
        """Build the approximation for the current plan (no compile)."""
        with cached_initial_point(self.model):
            return self._build_approximation(seed)

    def _build_approximation(self, seed: int | None) -> _Fitted:
        self._plan.check_fittable()
        model = self.model
        if self._plan.is_particle_plan():
            # empirical groups only: a particle cloud moved by SVGD (see _particles.py)
            from vibench.session._particles import ParticleStep, build_particles

            approx, inference = build_particles(
                model, self._plan.groups, self._plan.particles, seed
            )
            fitted = _Fitted(approx, inference, self._plan.key())
            fitted.step_class = ParticleStep
            return fitted
        with model:
            groups = []
            for g in self._plan.groups:
                if g.id == REST:
                    if g.variables:
                        groups.append(Group(None, vfam=g.family, model=model, random_seed=seed))
                elif g.custom:
                    groups.append(self._custom_groups[g.id].group)
                else:
                    rvs = [model[v] for v in g.variables]
                    rowwise = {"rowwise": True} if g.rowwise else {}
                    groups.append(
                        Group(rvs, vfam=g.family, model=model, random_seed=seed, **rowwise)
                    )
            approx = Approximation(groups, model=model, random_seed=seed)
            inference = KLqp(approx)
        fitted = _Fitted(approx, inference, self._plan.key())
        fitted.update_kwargs = _custom_update_kwargs(
            [self._custom_groups[g.id] for g in self._plan.groups if g.custom]
        )
        return fitted

    def build(self) -> Any:
        """Build (or return) the approximation of the current plan without fitting."""
        with self._lock:
            if self._fitted is None:
                self._fitted = self._build(self._settings.seed)
            return self._fitted.approx

    def prepare(self, *, sampler: bool = True) -> None:
        """Build the approximation and compile what a fit (and draws) will need, now.

        Compiles the step function for the current :attr:`settings` and, if ``sampler``,
        the sampling function, so that the next :meth:`fit` / :meth:`start` starts
        stepping at once and a first :meth:`sample` during a background fit does not
        compile while competing with the fitting thread. Does nothing already done.
        """
        with self._lock:
            if self._busy:
                raise SessionBusyError("a fit is running")
            self.build()
            fitted = self._fitted
            self._step_for(fitted, self._settings, None)
            if sampler:
                self._sampler_for(fitted)

    def _drop_fitted(self) -> None:
        """Forget what the plan built (after an edit); stop its background compiles."""
        fitted = self._fitted
        self._fitted = None
        if fitted is not None:
            for step in fitted.steps.values():
                close = getattr(step, "close", None)
                if close is not None:
                    close()

    def _tiers(self, settings: FitSettings) -> dict[str, Any]:
        """Keyword arguments of a tiered :class:`StepFunction` (empty: no tiers)."""
        if self._compile_kwargs:
            return {}
        if self.backend != AUTO:
            return {"backends": [self.backend], "model": self.model}
        key = fingerprint(self.model, self._plan.to_dict(), settings.compile_key())
        known = self._backend_memory.lookup(key)
        memory = self._backend_memory

        def remember(backend: str, rates: dict[str, float]) -> None:
            if len(rates) > 1:  # a real comparison, not a lone remembered winner
                memory.remember(key, backend, rates)

        return {
            "backends": [known] if known else available_backends(),
            "model": self.model,
            "on_choice": remember,
        }

    def _step_for(self, fitted: _Fitted, settings: FitSettings, run: Run | None) -> StepFunction:
        key = (*settings.compile_key(), repr(sorted(self._compile_kwargs.items())))
        step = fitted.steps.get(key)
        if step is None:
            t0 = time.perf_counter()
            cls = fitted.step_class
            tiers = (
                self._tiers(settings)
                if isinstance(cls, type) and issubclass(cls, StepFunction)
                else {}
            )
            if fitted.update_kwargs:
                tiers["update_kwargs"] = fitted.update_kwargs
            with self.model:
                step = fitted.step_class(
                    fitted.inference.objective, settings, self._compile_kwargs, **tiers
                )
            if run is not None:
                run.compile_seconds = time.perf_counter() - t0
            fitted.steps[key] = step
            self.compile_count += 1
        return step

    # ------------------------------------------------------------------ fitting
    def _begin(self, n: int | None, overrides: dict[str, Any]) -> Run:
        with self._lock:
            if self._busy:
                raise SessionBusyError("a fit is already running")
            changes = {k: v for k, v in overrides.items() if v is not _MISSING}
            if n is not None:
                changes["iterations"] = n
            settings = dataclasses.replace(self._settings, **changes)
            self._plan.check_fittable()
            self._settings = settings
            run = Run(plan=self._plan.to_dict(), settings=settings)
            run._t_begin = time.perf_counter()
            self._stop.clear()
            self._busy = True
            self._current = run
        self._changed()
        return run

    def _execute(self, run: Run) -> None:
        settings = run.settings
        try:
            with self._lock:
                if self._fitted is None:
                    self._fitted = self._build(settings.seed)
                fitted = self._fitted
            step = self._step_for(fitted, settings, run)
            if settings.seed is not None:
                step.reseed(settings.seed)
            run.approximation = fitted.approx
            run.start_iteration = fitted.iteration
            run._khat_fn = self._khat_for_run
            run_loop(
                step,
                run,
                settings.iterations,
                self._stop,
                self._emit,
                lambda: _describe_bad_params(
                    fitted.approx,
                    self.model,
                    fitted.update_kwargs.get("more_obj_params", ()),
                ),
            )
            with self._lock:
                fitted.elbo.append(run.elbo)
                fitted.iteration += run.iterations
                self._current = None
            run._params = fitted.params()
        except BaseException as err:
            run.status = "failed"
            run.message = f"{type(err).__name__}: {err}"
            run.error = err
            raise
        finally:
            with self._lock:
                self._runs.append(run)
                self._busy = False
                self._current = None
            elbo = run.elbo
            self._emit(
                Progress(
                    iteration=run.iterations,
                    total=settings.iterations,
                    elbo=float(elbo[-1]) if elbo.size else float("nan"),
                    smoothed_elbo=smoothed_at(elbo, elbo.size, settings.window),
                    its_per_second=run.iterations / run.seconds if run.seconds > 0 else 0.0,
                    status=run.status,
                    message=run.message,
                )
            )

    def fit(
        self,
        n: int | None = None,
        *,
        optimizer: str = _MISSING,
        learning_rate: float = _MISSING,
        obj_n_mc: int = _MISSING,
        seed: int | None = _MISSING,
        tolerance: float | None = _MISSING,
        window: int = _MISSING,
        convergence: str = _MISSING,
        temperature: float = _MISSING,
    ) -> Run:
        """Fit ``n`` iterations on the calling thread and return the :class:`Run`.

        Arguments left out keep the session's current :attr:`settings` (and those given
        become the new settings). See :class:`~vibench.session.FitSettings`.

        Parameters
        ----------
        n : int, optional
            Iterations (default: ``settings.iterations``).
        optimizer : str
            A PyMC optimizer name: ``"adam"`` (default), ``"adagrad_window"``, ``"sgd"``,
            ``"rmsprop"``, ``"adagrad"``, ``"adadelta"``, ``"adamax"``, ``"momentum"``,
            ``"nesterov_momentum"``.
        learning_rate : float
            Default 0.01.
        obj_n_mc : int
            Monte Carlo draws per gradient step (default 1).
        seed : int or None
            Seeds the initialisation (when the plan is first built) and the step's
            random stream. ``None`` continues the stream.
        tolerance : float or None
            Relative tolerance of the convergence check on the smoothed ELBO; ``None``
            (default) runs all ``n`` iterations.
        window : int
            Iterations averaged by the smoothed ELBO and the convergence check.
        convergence : {"elbo", "params"}
            What the convergence check watches: the smoothed ELBO, or the parameters
            (PyMC's ``CheckParametersConvergence``).
        temperature : float
            Temperature of the Stein gradient of an empirical (particle) plan, fitted
            by SVGD (default 1: the posterior itself; above 1 spreads the particles,
            below 1 draws them together). Other plans ignore it. For a particle plan
            the run's trace (``Run.elbo``) is the mean log density of the particles,
            not an ELBO (see ``vibench.session.trace_label``).

        Returns
        -------
        Run
            With ``status`` ``"finished"``, ``"stopped"``, ``"converged"`` or
            ``"diverged"``.

        Raises
        ------
        PlanError
            The plan cannot be fitted (empty group, discrete variables, empirical
            groups next to other families).
        SessionBusyError
            A fit is already running.
        ValueError
            A bad setting.
        """
        run = self._begin(
            n,
            {
                "optimizer": optimizer,
                "learning_rate": learning_rate,
                "obj_n_mc": obj_n_mc,
                "seed": seed,
                "tolerance": tolerance,
                "window": window,
                "convergence": convergence,
                "temperature": temperature,
            },
        )
        self._execute(run)
        return run

    def start(
        self,
        n: int | None = None,
        *,
        optimizer: str = _MISSING,
        learning_rate: float = _MISSING,
        obj_n_mc: int = _MISSING,
        seed: int | None = _MISSING,
        tolerance: float | None = _MISSING,
        window: int = _MISSING,
        convergence: str = _MISSING,
        temperature: float = _MISSING,
    ) -> Run:
        """Like :meth:`fit`, in a worker thread; returns the :class:`Run` at once.

        The run fills in as it goes; :meth:`stop` ends it early, :meth:`wait` waits for
        it. Compilation (if needed) also happens on the worker.
        """
        run = self._begin(
            n,
            {
                "optimizer": optimizer,
                "learning_rate": learning_rate,
                "obj_n_mc": obj_n_mc,
                "seed": seed,
                "tolerance": tolerance,
                "window": window,
                "convergence": convergence,
                "temperature": temperature,
            },
        )

        def work() -> None:
            try:
                self._execute(run)
            except BaseException:
                logger.debug("vibench: background fit failed", exc_info=True)

        thread = threading.Thread(target=work, name="vibench-fit", daemon=True)
        self._thread = thread
        thread.start()
        return run

    def remove_run(self, run: Run) -> None:
        """Forget ``run``: it leaves :attr:`runs` (the Workbench's Runs table *remove*).

        Only the record goes: the fitted parameters, the plan's ELBO trace since the
        last reset (``sample()``'s ``vi`` group) and later runs are unchanged.

        Raises
        ------
        ValueError
            ``run`` is not in :attr:`runs` (a running fit joins them when it ends).
        """
        with self._lock:
            for i, r in enumerate(self._runs):
                if r is run:
                    del self._runs[i]
                    return
        raise ValueError("not a run of this session (a running fit joins runs when it ends)")

    def stop(self) -> None:
        """Ask the running fit to stop after its current chunk (within ~0.05 s).

        The fitted parameters are kept; fitting again continues from them. A fit still
        compiling its step function (or JIT-compiling it on the first call, in the
        default Numba mode) stops once that is done.
        """
        self._stop.set()

    def wait(self, timeout: float | None = None) -> Run | None:
        """Wait for a background fit; return its run (the last run if none is running).

        Raises
        ------
        Exception
            The error of a run that failed (e.g. a compile error).
        TimeoutError
            If ``timeout`` passed first.
        """
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"the fit did not end within {timeout} s")
        run = self._runs[-1] if self._runs else None
        if run is not None and run.error is not None and thread is not None:
            self._thread = None
            raise run.error
        self._thread = None
        return run

    def reset(self) -> None:
        """Start the current plan afresh: initial parameters and optimizer state.

        Clears the fitted parameters (back to their initial values), the optimizer's
        state, the ELBO trace and the iteration count. Keeps the plan (its groups,
        families and particles: whatever was built on the board stays), the fit
        settings, the compiled functions (no recompile) and the run history. To start
        from the plan of a new session too, call :meth:`clear_plan`.

        Raises
        ------
        SessionBusyError
            A fit is running.
        """
        with self._lock:
            if self._busy:
                raise SessionBusyError("a fit is running: stop it before resetting")
            fitted = self._fitted
            if fitted is None:
                return
            for step in fitted.steps.values():
                step.restore_initial()
            fitted.set_params(fitted.initial_params)
            fitted.elbo.clear()
            fitted.iteration = 0
        self._changed()

    def clear_plan(self, *, settings: bool = False) -> None:
        """Start over from the plan of a new session: every variable in the rest group.

        Removes every group but the rest group (groups built in Python with
        :meth:`add_custom_group` too), sets the rest group's family back to mean-field
        and the particles to their default, and forgets what the old plan built: the
        next fit builds, initialises and seeds afresh, so it gives the numbers a new
        :class:`Session` gives with the same seed, even if the plan was already the
        clean one. The run history is kept. Group ids start again from ``"g1"``.

        Call it where a notebook needs a known plan, whatever the reader did on the
        board before; the board follows (:meth:`on_change`). :meth:`reset` is the
        lighter step: fresh parameters for the plan as it is.

        Parameters
        ----------
        settings : bool
            Also put the fit settings back to their defaults (``FitSettings()``):
            optimizer, learning rate, MC samples, seed, convergence check.

        Raises
        ------
        SessionBusyError
            A fit is running.
        """
        with self._lock:
            if self._busy:
                raise SessionBusyError("a fit is running: stop it before clearing the plan")
            self._plan = Plan(model_variables(self.model))
            self._custom_groups.clear()
            self._drop_fitted()
            if settings:
                self._settings = FitSettings()
        self._changed()

    # ------------------------------------------------------------------ progress
    def subscribe(self, callback: Callable[[Progress], None]) -> Callable[[], None]:
        """Call ``callback(progress)`` during fits: at most ~4 times a second, plus once at the end.

        The callback runs on the fitting thread (the worker for :meth:`start`), so it must
        be quick and thread-safe; exceptions it raises are logged and ignored.

        Returns
        -------
        callable
            Call it to unsubscribe.
        """
        self._subscribers.append(callback)
        return lambda: self._remove(self._subscribers, callback)

    def _emit(self, progress: Progress) -> None:
        for cb in list(self._subscribers):
            try:
                cb(progress)
            except Exception:
                logger.exception("vibench: a progress subscriber raised")

    # ------------------------------------------------------------------ draws
    def _sampler_for(self, fitted: _Fitted) -> Sampler:
        with self._sampler_lock:
            if fitted.sampler is None:
                with self.model:
                    fitted.sampler = Sampler(fitted.approx, self._sample_compile_kwargs)
                self.sample_compile_count += 1
            return fitted.sampler

    def draws(
        self, draws: int = 300, seed: int | None = None, *, deterministics: bool = False
    ) -> dict[str, np.ndarray]:
        """Constrained draws of the free variables from q, for live plots.

        Much cheaper than :meth:`sample` (no DataTree, no ``log p``/``log q``, no
        k-hat); the function is compiled once per plan (and per value of
        ``deterministics``), on the first call. Safe to call from the fitting thread
        between steps.

        Parameters
        ----------
        draws : int
            Number of draws.
        seed : int, optional
            Seed of the draws.
        deterministics : bool
            Also return the model's Deterministics that :meth:`shown_variables` can
            show (all but those with more than 10,000 elements, such as one value per
            data row), computed from the same draws, and what it derives (an LKJ
            prior's ``<name>_stds`` / ``<name>_corr`` when the model has no such
            Deterministics).

        Returns
        -------
        dict of str to numpy.ndarray
            ``{name: array of shape (draws, *shape)}`` for each free variable (and
            Deterministic).
        """
        draws = _positive_int(draws, "draws")
        with self._lock:
            self.build()
            fitted = self._fitted
        with self._sampler_lock:
            slot = "det_draw_fn" if deterministics else "draw_fn"
            fn = getattr(fitted, slot, None)
            if fn is None:
                # the Deterministics the plots can show (not one over every data row)
                shown = [v.name for v in self.shown_variables(True) if v.kind == "deterministic"]
                with self.model:
                    fn = DrawFunction(
                        fitted.approx,
                        self._sample_compile_kwargs,
                        deterministics=shown if deterministics else False,
                    )
                setattr(fitted, slot, fn)
                self.sample_compile_count += 1
        values = fn(draws, seed)
        if deterministics:
            self._add_derived(values)
        return values

    def shown_variables(self, deterministics: bool = False) -> list[VariableView]:
        """What the plots show of the model, in its own words (cached per choice).

        A free variable that exists only to parametrize a Deterministic is shown
        through that Deterministic: the GP's ``f`` for ``f_rotated_``, an
        ``LKJCholeskyCov``'s ``<name>_stds`` and ``<name>_corr`` (derived from the
        packed factor when the model has no such Deterministics) for its packed
        ``<name>``. The rule: a free variable whose name ends with ``_`` (PyMC's mark
        of helper variables) or that is an LKJ packed factor is hidden, and the
        Deterministics computed from it take its place. See
        :mod:`vibench.session._views`.

        Parameters
        ----------
        deterministics : bool
            Also show the model's other Deterministics (after the free variables).

        Returns
        -------
        list of VariableView
            ``.name``, ``.shape``, ``.kind`` (``"free"``, ``"deterministic"``,
            ``"derived"``), ``.labels`` (element labels from the model's ``coords``,
            ``z_a[county_07]``), ``.elements``, ``.replaces`` and ``.values(draws)``.
        """
        key = bool(deterministics)
        if key not in self._shown_cache:
            self._shown_cache[key] = model_views(self.model, self.variables, deterministics=key)
        return list(self._shown_cache[key])

    def _add_derived(self, values: dict[str, np.ndarray]) -> None:
        """Add what :meth:`shown_variables` derives (not in the model) to ``values``."""
        for view in self.shown_variables(True):
            if view.kind == "derived" and view.name not in values:
                got = view.values(values)
                if got is not None:
                    values[view.name] = got

    def sample(
        self, draws: int = 1000, seed: int | None = None, *, deterministics: bool = True
    ) -> xr.DataTree:
        """Draw from the approximation (constrained space) into a DataTree.

        Parameters
        ----------
        draws : int
            Number of draws.
        seed : int, optional
            Seed of the draws.
        deterministics : bool
            Include the model's Deterministics, computed from the same draws (and
            what :meth:`shown_variables` derives, such as an LKJ prior's ``<name>_stds``
            and ``<name>_corr``); ``False`` keeps the free variables only. The same
            compiled function serves both.

        Returns
        -------
        xarray.DataTree
            ``posterior``: every free variable and deterministic with dims
            ``(chain=1, draw, ...)``, readable by ArviZ 1.x. ``vi``: ``elbo`` over
            ``iteration`` (since the plan was built or reset), ``log_p`` and ``log_q`` of
            each draw, and attributes ``plan`` and ``settings`` (JSON strings) and
            ``khat``.
        """
        draws = _positive_int(draws, "draws")
        with self._lock:
            self.build()
            fitted = self._fitted
            sampler = self._sampler_for(fitted)
        values, logp, logq = sampler(draws, seed)
        if deterministics:
            self._add_derived(values)
        else:
            dets = {d.name for d in self.model.deterministics}
            values = {k: v for k, v in values.items() if k not in dets}
        dims = {k: list(v) for k, v in self.model.named_vars_to_dims.items() if k in values}
        coords = {k: np.asarray(v) for k, v in (self.model.coords or {}).items()}
        tree = arviz_base.from_dict(
            {"posterior": {k: v[None, ...] for k, v in values.items()}},
            dims=dims,
            coords=coords,
        )
        khat = psis_khat(logp, logq)
        vi = xr.Dataset(
            {
                "elbo": ("iteration", np.concatenate(fitted.elbo) if fitted.elbo else np.empty(0)),
                "log_p": (("chain", "draw"), logp[None, :]),
                "log_q": (("chain", "draw"), logq[None, :]),
            },
            coords={"chain": [0], "draw": np.arange(draws)},
            attrs={
                "plan": json.dumps(self._plan.to_dict()),
                "settings": json.dumps(self._settings.to_dict()),
                "khat": khat.khat,
                "khat_reading": khat.reading,
            },
        )
        tree["vi"] = xr.DataTree(vi)
        return tree

    def affordable_draws(self, draws: int) -> int:
        """How many of ``draws`` draws to take so that one array stays small.

        A draw holds every element of the model's free variables, and drawing with
        log p and log q keeps several arrays of that size at once: 1,000 draws of a
        100,000-element vector took 3.6 GB at the peak of a workbench fit. This caps
        ``draws x elements`` at :data:`DRAW_ELEMENTS` (but never below 100 draws, what
        PSIS k-hat needs for a reading); small models get ``draws`` unchanged.
        """
        draws = _positive_int(draws, "draws")
        size = max(1, sum(v.size for v in self.variables))
        return min(draws, max(_MIN_DRAWS, DRAW_ELEMENTS // size))

    def khat(self, draws: int | None = None, seed: int | None = None) -> Khat:
        """PSIS k-hat of the approximation as it is now (log p - log q on draws from q).

        ``draws`` defaults to ``affordable_draws(1000)``.

        Returns
        -------
        Khat
            ``.khat`` and ``.reading``: < 0.5 good, 0.5-0.7 usable, > 0.7 do not trust.
        """
        draws = self.affordable_draws(1000) if draws is None else _positive_int(draws, "draws")
        with self._lock:
            self.build()
            sampler = self._sampler_for(self._fitted)
        _, logp, logq = sampler(draws, seed)
        return psis_khat(logp, logq)

    def _khat_for_run(self, run: Run, draws: int | None = None) -> Khat:
        """k-hat of a past run: its saved parameters are swapped in for the computation."""
        draws = self.affordable_draws(1000) if draws is None else draws
        with self._lock:
            if self._busy:
                raise SessionBusyError("wait for the running fit before computing k-hat")
            fitted = self._fitted
            if fitted is None or fitted.approx is not run.approximation:
                # an older plan: build a sampler for its approximation
                holder = _Fitted.__new__(_Fitted)
                holder.approx, holder.sampler = run.approximation, None
                current = holder.params()
                target = holder
            else:
                target = fitted
                current = fitted.params()
            sampler = self._sampler_for(target)
            target.set_params(run._params)
            try:
                _, logp, logq = sampler(draws, 0)
            finally:
                target.set_params(current)
        return psis_khat(logp, logq)

    # ------------------------------------------------------------------ reference
    def reference(
        self,
        draws: int = DEFAULT_DRAWS,
        *,
        tune: int = DEFAULT_TUNE,
        chains: int = DEFAULT_CHAINS,
        seed: int = 0,
        background: bool = False,
        process: bool = True,
        on_progress: Callable[[ReferenceProgress], None] | None = None,
    ) -> xr.DataTree | Future:
        """NUTS draws of the model (``pm.sample``), cached per model, for overlays.

        A posterior given with :meth:`set_reference` is returned instead, whatever the
        arguments (as a finished Future when ``background`` is true).

        Parameters
        ----------
        draws, tune, chains, seed
            Passed to :func:`pymc.sample` (chains run one after another, one core).
            The defaults (2 x (500 tuning + 500 kept) draws) suit the dashed densities of
            the marginals.
        background : bool
            If true, return a :class:`~vibench.session.ReferenceJob` at once: a
            :class:`concurrent.futures.Future` of the DataTree with ``.progress``
            (draws done, divergences, time left), ``.subscribe(callback)`` and a
            ``.cancel()`` that stops the sampler.
        process : bool
            Sample in a separate process (default): Cancel terminates it at once and
            the sampler does not compete with this kernel for the GIL. A model that
            cannot be pickled (cloudpickle) is sampled in a thread instead, as with
            ``process=False``; there Cancel ends the sampler at its next draw.
        on_progress : callable, optional
            ``on_progress(progress)`` with a :class:`~vibench.session.ReferenceProgress`
            a few times a second, from a worker thread (see ``ReferenceJob.subscribe``).

        Returns
        -------
        xarray.DataTree or ReferenceJob
            The ``pm.sample`` result (``posterior`` group among others), or the job.

        Raises
        ------
        ValueError
            ``draws`` or ``chains`` is not a positive int, or ``tune`` is negative.
        concurrent.futures.CancelledError
            Waiting (``background=False``) for a job that was cancelled. An interrupt
            (``KeyboardInterrupt``) while waiting cancels the job.

        Examples
        --------
        >>> job = session.reference(background=True)  # doctest: +SKIP
        >>> job.progress.text  # doctest: +SKIP
        '640/2000 draws, 0 divergences, chain 1/2 (tuning), about 40 s left'
        >>> job.cancel()  # doctest: +SKIP
        True
        """
        draws = _positive_int(draws, "draws")
        chains = _positive_int(chains, "chains")
        if isinstance(tune, bool) or not isinstance(tune, int | np.integer) or tune < 0:
            raise ValueError(f"tune must be an int >= 0, got {tune!r}")
        given = self._given_reference
        if given is not None:
            if on_progress is not None:
                on_progress(ReferenceProgress(state="finished", mode="given"))
            return done_job(given) if background else given
        job = reference_job(self.model, draws, int(tune), chains, int(seed), process=process)
        if on_progress is not None:
            job.subscribe(on_progress)
        if background:
            return job
        try:
            return job.result()
        except KeyboardInterrupt:
            job.cancel()
            raise

    def set_reference(self, posterior: Any) -> None:
        """Use a posterior you already have as the reference (instead of NUTS draws).

        Overlays use it exactly as a NUTS reference; :meth:`reference` returns it.

        Parameters
        ----------
        posterior : xarray.DataTree, arviz.InferenceData, xarray.Dataset or None
            Draws with a ``posterior`` group (a Dataset is the posterior itself) holding
            every continuous free variable of the model with dims
            ``(chain, draw, *shape)``. ``None`` goes back to NUTS draws.

        Raises
        ------
        TypeError
            ``posterior`` is not one of these types.
        ValueError
            No posterior group, or a free variable missing or of the wrong shape.
        """
        tree = None if posterior is None else check_reference(posterior, self.variables)
        self._given_reference = tree
        self._changed()

    @property
    def reference_given(self) -> bool:
        """Whether the reference is a posterior given with :meth:`set_reference`."""
        return self._given_reference is not None

    @property
    def given_reference(self) -> xr.DataTree | None:
        """The posterior given with :meth:`set_reference` (a DataTree), else ``None``."""
        return self._given_reference

    def cancel_reference(self) -> int:
        """Cancel the model's NUTS reference jobs that are still sampling.

        Returns
        -------
        int
            How many were cancelled.
        """
        return sum(bool(job.cancel()) for job in running_jobs(self.model))

    # ------------------------------------------------------------------ export
    def to_dict(self) -> dict[str, Any]:
        """The plan and fit settings as a JSON-ready dict (a preset file)."""
        return {
            "vibench": _FORMAT_VERSION,
            "model": {
                "name": models.demo_name(self.model),
                "variables": [{"name": v.name, "shape": list(v.shape)} for v in self.variables],
            },
            "plan": self._plan.to_dict(),
            "settings": self._settings.to_dict(),
        }

    @classmethod
    def from_dict(
        cls,
        model: pm.Model | str | None,
        data: Any,
        **kwargs: Any,
    ) -> Session:
        """A session on ``model`` with the plan and settings of ``data`` (:meth:`to_dict`).

        With ``model=None`` the demo model the preset names is used (else the default
        demo model).

        ``data`` is treated as untrusted (e.g. a preset downloaded from the internet): it
        is only read as JSON values, never evaluated or unpickled. Sizes are checked
        before contents (JSON text of at most ``MAX_PRESET_BYTES``, no more groups or
        variables than the model can have, see ``Plan.from_dict``), settings are
        checked against their ranges (``FitSettings``), and messages quote at most a
        few names.

        Raises
        ------
        PlanError
            Malformed input, or a preset made for different variables, too large, too
            deeply nested, or with out-of-range settings.
        """
        if isinstance(data, str | bytes):
            if len(data) > MAX_PRESET_BYTES:
                raise PlanError(
                    f"preset is too large ({len(data):,} characters; at most {MAX_PRESET_BYTES:,})"
                )
            try:
                data = json.loads(data)
            except RecursionError:
                raise PlanError("preset is nested too deeply to be a vibench preset") from None
            except ValueError as err:
                raise PlanError(f"preset is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise PlanError(f"a preset must be a JSON object, got {type(data).__name__}")
        extra = set(data) - {"vibench", "model", "plan", "settings"}
        if extra:
            raise PlanError(f"preset has unknown keys {listing(sorted(map(str, extra)))}")
        version = data.get("vibench", _FORMAT_VERSION)
        if version != _FORMAT_VERSION:
            raise PlanError(f"preset format {short_repr(version)} is not supported (expected 1)")
        if "plan" not in data:
            raise PlanError("preset has no 'plan'")
        described = data.get("model")
        if model is None and isinstance(described, dict) and described.get("name") is not None:
            name = described["name"]
            if not isinstance(name, str) or name not in models.MODELS:
                raise PlanError(
                    f"preset names an unknown demo model {short_repr(name)}; known: "
                    f"{sorted(models.MODELS)}"
                )
            model = name
        session = cls(model, **kwargs)
        if described is not None:
            _check_model_matches(session.variables, described)
        plan = Plan.from_dict(session.variables, data["plan"])
        settings = session._settings
        if "settings" in data:
            try:
                settings = FitSettings.from_dict(data["settings"])
            except (TypeError, ValueError) as err:
                raise PlanError(f"preset settings: {err}") from None
        session._plan = plan
        session._settings = settings
        return session

    def to_code(self, *, model_code: str | None = None, fit: bool = True) -> str:
        """Runnable PyMC + vibench code that rebuilds this plan's approximation and fit.

        Parameters
        ----------
        model_code : str, optional
            An expression that builds the model, for models that are not vibench demos
            (a demo model is rebuilt by name). Without it, the code expects a variable
            ``model`` to exist.
        fit : bool
            Whether the code also runs the fit with the current settings.

        Returns
        -------
        str
            Executing it leaves ``approx``: an approximation with the same groups and
            families.

        Notes
        -----
        A group built in Python (:meth:`add_custom_group`) cannot be written out: the
        code expects it in a variable ``custom_group_<id>`` (and, when given, its fit
        arguments in ``more_obj_params`` and ``more_replacements``), as a comment at
        its top says.
        """
        return plan_to_code(
            self._plan.to_dict(),
            self._settings,
            demo=models.demo_name(self.model),
            model_code=model_code,
            fit=fit,
            custom={
                gid: {
                    "more_obj_params": bool(c.more_obj_params),
                    "more_replacements": bool(c.more_replacements),
                }
                for gid, c in self._custom_groups.items()
            },
        )

    def __repr__(self) -> str:
        groups = ", ".join(f"{g.id}:{g.family}{g.variables}" for g in self.groups)
        return f"Session({groups}; runs={len(self._runs)}, running={self.running})"


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _check_model_matches(variables: list[VariableInfo], described: Any) -> None:
    if not isinstance(described, dict):
        raise PlanError("preset 'model' must be a JSON object")
    listed = described.get("variables")
    if listed is None:
        return
    if isinstance(listed, list) and len(listed) > len(variables) + LISTING_SLACK:
        raise PlanError(
            f"the preset was made for a model with {len(listed):,} variables, but this "
            f"model has {len(variables)} free variables"
        )
    if not isinstance(listed, list) or not all(
        isinstance(v, dict) and isinstance(v.get("name"), str) for v in listed
    ):
        raise PlanError("preset 'model.variables' must be a list of {name, shape} objects")
    have = {v.name: list(v.shape) for v in variables}
    want = {}
    for v in listed:
        shape = v.get("shape")
        if not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in shape
        ):
            raise PlanError(
                f"preset variable {short_repr(v['name'])} has a bad shape {short_repr(shape)}"
            )
        want[v["name"]] = shape
    if set(want) != set(have):
        missing, unknown = sorted(set(have) - set(want)), sorted(set(want) - set(have))
        raise PlanError(
            f"the preset was made for variables {listing(sorted(want))}, but this model has "
            f"{listing(sorted(have))}"
            + (f"; not in the preset: {listing(missing)}" if missing else "")
            + (f"; not in this model: {listing(unknown)}" if unknown else "")
        )
    for name, shape in want.items():
        if have[name] != shape:
            raise PlanError(
                f"variable {name!r} has shape {tuple(have[name])} in this model but "
                f"{short_repr(tuple(shape))} in the preset"
            )


def _describe_bad_params(approx: Any, model: pm.Model, extra_params: Sequence[Any] = ()) -> str:
    """Name the variables whose variational parameters are not finite.

    ``extra_params`` are the fit's ``more_obj_params`` (e.g. an amortized group's
    encoder weights), named when they went bad.
    """
    value_to_rv = {model.rvs_to_values[rv].name: rv.name for rv in model.free_RVs}
    if getattr(approx, "all_histograms", False):
        return _describe_bad_particles(approx, value_to_rv)
    found: dict[str, list[str]] = {}
    for group in approx.groups:
        if isinstance(group, BatchedGroup):
            _bad_batched_params(group, value_to_rv, found)
            continue
        ordering = list(group.ordering.values())
        names = [value_to_rv.get(o[0], o[0]) for o in ordering]
        index_to_var = np.empty(group.ddim, dtype=object)
        for (_, slc, _, _), name in zip(ordering, names, strict=True):
            index_to_var[slc] = name
        for pname, value in _flat_params(group.shared_params):
            bad = ~np.isfinite(value)
            if not bad.any():
                continue
            d = group.ddim
            where = np.flatnonzero(bad.reshape(-1))
            if value.ndim == 1 and value.size == d:
                vars_ = index_to_var[where]
            elif value.ndim == 1 and value.size == d * (d + 1) // 2:
                vars_ = index_to_var[np.tril_indices(d)[0][where]]
            else:
                vars_ = np.asarray(names, dtype=object)
            for v in dict.fromkeys(vars_.tolist()):
                found.setdefault(v, [])
                if pname not in found[v]:
                    found[v].append(pname)
    bad_extra = [
        str(getattr(p, "name", None) or f"#{i}")
        for i, p in enumerate(extra_params)
        if hasattr(p, "get_value") and not np.isfinite(np.asarray(p.get_value())).all()
    ]
    if found:
        which = ", ".join(f"{v!r} ({', '.join(ps)})" for v, ps in found.items())
        more = f" (and the extra parameters {', '.join(bad_extra)})" if bad_extra else ""
        return f"variable {which} went bad: its variational parameters are not finite{more}."
    if bad_extra:
        return (
            f"the extra parameters {', '.join(bad_extra)} (more_obj_params, e.g. an "
            "encoder's weights) went bad: they are not finite."
        )
    huge = _huge_params(approx, value_to_rv)
    if huge:
        return f"the variational parameters of {', '.join(huge)} exploded (|value| > 1e8)."
    return (
        "the variational parameters were still finite, so a draw from q landed where the "
        "model's log density is not finite."
    )


def _bad_batched_params(group: Any, value_to_rv: dict[str, str], found: dict) -> None:
    """Row-wise groups: which rows went bad (amortized groups own no parameters)."""
    names = [value_to_rv.get(n, n) for n in group.ordering]
    for pname, value in _flat_params(group.shared_params):
        if value.ndim == 0 or np.isfinite(value).all():
            continue
        rows = np.flatnonzero(~np.isfinite(value.reshape(value.shape[0], -1)).all(axis=1))
        shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if rows.size > 5 else "")
        what = f"{pname} of row{'s' if rows.size > 1 else ''} {shown}"
        for v in names:
            found.setdefault(v, [])
            if what not in found[v]:
                found[v].append(what)


def _describe_bad_particles(approx: Any, value_to_rv: dict[str, str]) -> str:
    """The divergence of a particle (SVGD) plan, in words: particles have no parameters."""
    why = "a particle moved where the model's log density is not finite."
    bad: list[str] = []
    for group in approx.groups:
        histogram = np.asarray(group.histogram.get_value())
        for name, (_, slc, _, _) in group.ordering.items():
            if not np.isfinite(histogram[:, slc]).all():
                bad.append(value_to_rv.get(name, name))
    if bad:
        return f"{why[:-1]} (the particles of {', '.join(map(repr, bad))} are not finite)."
    return why


def _huge_params(approx: Any, value_to_rv: dict[str, str], limit: float = 1e8) -> list[str]:
    """Variables with enormous (still finite) parameters, in group order."""
    out: list[str] = []
    for group in approx.groups:
        names = [value_to_rv.get(o[0], o[0]) for o in group.ordering.values()]
        if isinstance(group, BatchedGroup):
            for _, value in _flat_params(group.shared_params):
                if np.max(np.abs(value), initial=0.0) > limit:
                    out += [n for n in names if n not in out]
            continue
        slices = [o[1] for o in group.ordering.values()]
        for _, value in _flat_params(group.shared_params):
            if value.ndim == 1 and value.size == group.ddim:
                for name, slc in zip(names, slices, strict=True):
                    if np.max(np.abs(value[slc]), initial=0.0) > limit and name not in out:
                        out.append(name)
            elif np.max(np.abs(value), initial=0.0) > limit:
                out += [n for n in names if n not in out]
    return out


def _flat_params(params: Any, prefix: str = "") -> list[tuple[str, np.ndarray]]:
    out: list[tuple[str, np.ndarray]] = []
    if params is None:
        return out
    if isinstance(params, dict):
        for k, v in params.items():
            out += _flat_params(v, f"{prefix}{k}." if isinstance(v, dict) else f"{prefix}{k}")
        return out
    if isinstance(params, list | tuple):
        for i, v in enumerate(params):
            out += _flat_params(v, f"{prefix}{i}.")
        return out
    if hasattr(params, "get_value"):
        out.append((prefix.rstrip("."), np.asarray(params.get_value())))
    return out


@dataclasses.dataclass(frozen=True)
class _CustomGroup:
    """A group built in Python and what its fit needs (``Session.add_custom_group``)."""

    group: Any
    more_obj_params: tuple[Any, ...]
    more_replacements: dict[Any, Any]


def _check_custom_group(
    group: Any, model: pm.Model, more_obj_params: Any, more_replacements: Any
) -> _CustomGroup:
    """Check a group built in Python and its fit arguments (``add_custom_group``)."""
    if not isinstance(group, opvi.Group):
        raise TypeError(
            "add_custom_group takes a group object, e.g. vibench.Group([z], params=..., "
            f"local=True); got {type(group).__name__}"
        )
    if group.group is None:
        raise PlanError(
            "a rest group (Group(None, ...)) cannot be added: the session's rest group takes "
            "the variables in no other group; set its family with set_family('rest', ...)"
        )
    if group.model is not model:
        raise PlanError("the group was built on another model than the session's")
    if not group.has_logq:
        raise PlanError(
            "an empirical (particle) group built in Python cannot be added; use the "
            "'empirical' family of the plan instead"
        )
    if isinstance(more_obj_params, str) or not isinstance(more_obj_params, Sequence):
        raise TypeError("more_obj_params must be a list of shared variables")
    for p in more_obj_params:
        if not hasattr(p, "get_value"):
            raise TypeError(
                f"more_obj_params must hold shared variables (parameters to train), got {p!r}"
            )
    if more_replacements is None:
        more_replacements = {}
    if not isinstance(more_replacements, dict):
        raise TypeError(
            f"more_replacements must be a dict, got {type(more_replacements).__name__}"
        )
    return _CustomGroup(group, tuple(more_obj_params), dict(more_replacements))


def _custom_family(group: Any) -> str:
    """The family of a group built in Python, as the plan names families."""
    if isinstance(group, BatchedGroup):
        return str(group.family)
    if isinstance(group, NormalizingFlowGroup):
        return str(group.formula)
    return str(getattr(group, "short_name", None) or type(group).__name__)


def _custom_label(group: Any) -> str:
    """Words for a group built in Python: ``"amortized mean-field"``, ``"row-wise flow ..."``."""
    family = _custom_family(group)
    words = {"mean_field": "mean-field", "full_rank": "full-rank"}.get(family)
    if words is None:
        flow = isinstance(group, BatchedGroup | NormalizingFlowGroup)
        words = f"flow {family}" if flow else family
    if isinstance(group, BatchedGroup):
        return ("amortized " if group.local else "row-wise ") + words
    return words


def _custom_update_kwargs(customs: list[_CustomGroup]) -> dict[str, Any]:
    """``more_obj_params`` / ``more_replacements`` of the groups built in Python, merged."""
    params: list[Any] = []
    replacements: dict[Any, Any] = {}
    for c in customs:
        params += [p for p in c.more_obj_params if all(p is not q for q in params)]
        for k, v in c.more_replacements.items():
            if k in replacements and replacements[k] is not v:
                raise PlanError(
                    f"two groups built in Python replace {k} by different values "
                    "(more_replacements); give the replacement once"
                )
            replacements[k] = v
    out: dict[str, Any] = {}
    if params:
        out["more_obj_params"] = params
    if replacements:
        out["more_replacements"] = replacements
    return out
