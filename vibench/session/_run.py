"""Plain records of fitting: the settings of a fit, a progress event and a run."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vibench.session._checks import int_in_range, short_repr
from vibench.session._optimizers import OPTIMIZERS

if TYPE_CHECKING:
    from vibench.session._diagnostics import Khat

__all__ = [
    "MAX_ITERATIONS",
    "MAX_OBJ_N_MC",
    "MAX_SEED",
    "STATUSES",
    "FitSettings",
    "Progress",
    "Run",
]

#: The most iterations one fit may ask for (the board's Iterations box has the same
#: maximum). Each iteration's ELBO is kept (8 bytes), and at the fastest steps seen here
#: (~5,000/s) 10**7 iterations take over half an hour: more is a typo, not a plan.
MAX_ITERATIONS = 10_000_000
#: The largest seed: seeds are 32-bit, as NumPy's legacy ``RandomState`` (which PyMC's
#: initialisation still uses) accepts no more.
MAX_SEED = 2**32 - 1
#: The most Monte Carlo draws per gradient step (the board's MC samples box maximum).
MAX_OBJ_N_MC = 1000

#: Short reprs of untrusted values for messages: nested or huge values (a preset's
#: ``"iterations": [[[...]]]``) print as a few characters, never recurse without end.


#: How a run can end (``"running"`` while it runs, ``"failed"`` on an exception).
STATUSES = ("running", "finished", "stopped", "converged", "diverged", "failed")


@dataclass(frozen=True)
class FitSettings:
    """The settings of one fit.

    Attributes
    ----------
    iterations : int
        Number of optimisation steps of a fit, 0 to :data:`MAX_ITERATIONS`.
    optimizer : str
        A PyMC optimizer from :mod:`pymc.variational.updates` (``"adam"``,
        ``"adagrad_window"``, ``"sgd"``, ``"rmsprop"``, ...).
    learning_rate : float
        The optimizer's learning rate.
    obj_n_mc : int
        Monte Carlo draws per step for the ELBO gradient, 1 to :data:`MAX_OBJ_N_MC`.
    seed : int or None
        Seed of the approximation's initialisation and of the step's random stream,
        0 to :data:`MAX_SEED` (32 bits). ``None`` continues the current stream.
    tolerance : float or None
        Tolerance of the convergence check; ``None`` turns it off (the default: a fit
        then runs all its iterations).
    window : int
        Window, in iterations, of the convergence check and of the smoothed ELBO
        (1 to :data:`MAX_ITERATIONS`).
    convergence : str
        What the check watches. ``"elbo"``: the run ends as ``"converged"`` when the mean
        ELBO over the last ``window`` iterations differs from the mean over the
        ``window`` before by less than ``tolerance * max(1, |mean|)``. ``"params"``:
        PyMC's :class:`~pymc.variational.callbacks.CheckParametersConvergence` (relative
        change of the variational parameters, infinity norm, every ``window``
        iterations).
    temperature : float
        Temperature of the Stein gradient for empirical (particle) plans, fitted by
        SVGD: the model's log density is divided by it, so a temperature above 1 spreads
        the particles wider, below 1 draws them together (PyMC's ``KSD(temperature=)``,
        default 1, which targets the posterior itself). Other plans ignore it.

    Raises
    ------
    ValueError
        A setting of the wrong type or out of its range (checked when the settings are
        made, so a refused value never becomes a session's setting).

    Notes
    -----
    ``optimizer``, ``learning_rate``, ``obj_n_mc`` and ``temperature`` are compiled into
    the step function: changing one compiles a new step function (once; switching back
    reuses the earlier one). ``iterations``, ``seed``, ``tolerance`` and ``window``
    never cause a compile. Empirical plans ignore ``obj_n_mc`` (SVGD uses every
    particle at each step). The number of particles belongs to the plan (it sizes the
    approximation), not to the settings.
    """

    iterations: int = 10_000
    optimizer: str = "adam"
    learning_rate: float = 0.01
    obj_n_mc: int = 1
    seed: int | None = None
    tolerance: float | None = None
    window: int = 100
    convergence: str = "elbo"
    temperature: float = 1.0

    def __post_init__(self) -> None:
        def bad(msg: str) -> ValueError:
            return ValueError(f"bad fit setting: {msg}")

        short = short_repr
        if not isinstance(self.iterations, int | np.integer) or isinstance(self.iterations, bool):
            raise bad(f"iterations must be an int, got {short(self.iterations)}")
        if not 0 <= self.iterations <= MAX_ITERATIONS:
            raise bad(
                f"iterations must be from 0 to {MAX_ITERATIONS:,}, got {short(self.iterations)}"
            )
        if not isinstance(self.optimizer, str) or self.optimizer not in OPTIMIZERS:
            raise bad(
                f"unknown optimizer {short(self.optimizer)}; choose one of {sorted(OPTIMIZERS)}"
            )
        lr = self.learning_rate
        if (
            isinstance(lr, bool)
            or not isinstance(lr, int | float | np.floating | np.integer)
            or not math.isfinite(lr)
            or lr <= 0
        ):
            raise bad(f"learning_rate must be a positive number, got {short(lr)}")
        n_mc = self.obj_n_mc
        if not int_in_range(n_mc, 1, MAX_OBJ_N_MC):
            raise bad(f"obj_n_mc must be an int from 1 to {MAX_OBJ_N_MC}, got {short(n_mc)}")
        seed = self.seed
        if seed is not None and not int_in_range(seed, 0, MAX_SEED):
            raise bad(
                f"seed must be None or an int from 0 to 2**32 - 1 = {MAX_SEED:,}, "
                f"got {short(seed)}"
            )
        tol = self.tolerance
        if tol is not None and (
            isinstance(tol, bool)
            or not isinstance(tol, int | float | np.floating)
            or not math.isfinite(tol)
            or tol <= 0
        ):
            raise bad(f"tolerance must be None or a positive number, got {short(tol)}")
        if not isinstance(self.convergence, str) or self.convergence not in ("elbo", "params"):
            raise bad(f"convergence must be 'elbo' or 'params', got {short(self.convergence)}")
        w = self.window
        if not int_in_range(w, 1, MAX_ITERATIONS):
            raise bad(f"window must be an int from 1 to {MAX_ITERATIONS:,}, got {short(w)}")
        temp = self.temperature
        if (
            isinstance(temp, bool)
            or not isinstance(temp, int | float | np.floating | np.integer)
            or not math.isfinite(temp)
            or temp <= 0
        ):
            raise bad(f"temperature must be a positive number, got {short(temp)}")
        # normalise numpy scalars to plain Python for JSON
        object.__setattr__(self, "iterations", int(self.iterations))
        object.__setattr__(self, "learning_rate", float(lr))
        object.__setattr__(self, "obj_n_mc", int(n_mc))
        object.__setattr__(self, "window", int(w))
        object.__setattr__(self, "temperature", float(temp))
        if seed is not None:
            object.__setattr__(self, "seed", int(seed))
        if tol is not None:
            object.__setattr__(self, "tolerance", float(tol))

    def compile_key(self) -> tuple[str, float, int, float]:
        """The settings a step function is compiled with."""
        return (self.optimizer, self.learning_rate, self.obj_n_mc, self.temperature)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> FitSettings:
        """Rebuild from untrusted :meth:`to_dict` output (``ValueError`` if malformed)."""
        if not isinstance(data, dict):
            raise ValueError(f"fit settings must be a JSON object, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        extra = set(data) - known
        if extra:
            names = sorted(map(str, extra))
            more = f" ... and {len(names) - 5} more" if len(names) > 5 else ""
            raise ValueError(
                f"unknown fit settings {[short_repr(n) for n in names[:5]]}{more}; "
                f"known: {sorted(known)}"
            )
        return cls(**data)


@dataclass(frozen=True)
class Progress:
    """A progress event sent to subscribers while a run goes on, and once when it ends.

    Attributes
    ----------
    iteration : int
        Iterations done in this run.
    total : int
        Iterations asked for.
    elbo : float
        ELBO of the latest iteration (NaN before the first).
    smoothed_elbo : float
        Smoothed ELBO: the trailing median the plot draws (``vibench._smoothing``).
    its_per_second : float
        Recent throughput.
    status : str
        ``"running"`` or how the run ended (see :data:`STATUSES`).
    message : str
        A one-line human-readable status.
    """

    iteration: int
    total: int
    elbo: float
    smoothed_elbo: float
    its_per_second: float
    status: str
    message: str = ""

    @property
    def done(self) -> bool:
        """Whether this is the final event of a run."""
        return self.status != "running"


@dataclass(eq=False)
class Run:
    """One fit: its plan, settings, ELBO trace, timing and how it ended.

    Attributes
    ----------
    plan : dict
        The plan (``Session.to_dict()["plan"]`` form) the run fitted.
    settings : FitSettings
        The settings of the run.
    elbo : numpy.ndarray
        ELBO per iteration of this run (higher is better).
    iterations : int
        Iterations done.
    seconds : float
        Wall time of the fitting loop (compile time excluded, see ``compile_seconds``).
    compile_seconds : float
        Time spent compiling a step function for this run (0 when one was reused).
    status : str
        ``"running"``, ``"finished"``, ``"stopped"``, ``"converged"``, ``"diverged"``
        or ``"failed"``.
    message : str
        Why it ended, in words (for a diverged run: which variable went bad).
    start_iteration : int
        Iterations fitted with this plan before this run (since the last reset).
    approximation : vibench.Approximation
        The approximation the run fitted (shared by runs of the same plan, so it holds
        the *latest* parameters).
    error : BaseException or None
        The exception of a ``"failed"`` run.
    backends : list of (int, str)
        Which compiled step function ran from which iteration (counted like
        ``start_iteration``): ``"fast_compile"`` first on a tiered step, then the
        backends it switched to (``"c"``, ``"numba"``). The last entry is the backend
        the run ended on.
    first_step_seconds : float
        Seconds from the start of the run (build and compile included) to its first
        finished iteration.
    """

    plan: dict[str, Any]
    settings: FitSettings
    approximation: Any = None
    start_iteration: int = 0
    status: str = "running"
    message: str = ""
    seconds: float = 0.0
    compile_seconds: float = 0.0
    error: BaseException | None = None
    backends: list[tuple[int, str]] = field(default_factory=list)
    first_step_seconds: float = math.nan
    _elbo: list[np.ndarray] = field(default_factory=list, repr=False)
    _params: dict[str, np.ndarray] | None = field(default=None, repr=False)
    _khat: Khat | None = field(default=None, repr=False)
    _khat_fn: Any = field(default=None, repr=False)
    _live: np.ndarray | None = field(default=None, repr=False)
    _live_done: int = field(default=0, repr=False)
    _t_begin: float = field(default=math.nan, repr=False)

    @property
    def elbo(self) -> np.ndarray:
        """ELBO per iteration of this run (a copy; grows while the run goes on)."""
        live = self._live
        if live is not None:
            return -live[: self._live_done]
        if not self._elbo:
            return np.empty(0)
        return np.concatenate(self._elbo)

    @property
    def iterations(self) -> int:
        """Iterations done in this run (so far, while it runs)."""
        if self._live is not None:
            return self._live_done
        return int(sum(len(a) for a in self._elbo))

    @property
    def khat(self) -> Khat | None:
        """PSIS k-hat of the approximation as this run left it (computed on first use).

        A :class:`~vibench.session.Khat`: a float with ``.reading`` ("good", "usable",
        "do not trust"). ``None`` for a run that failed before fitting anything.
        """
        if self._khat is None and self._khat_fn is not None and self._params is not None:
            self._khat = self._khat_fn(self)
        return self._khat

    def __repr__(self) -> str:
        return (
            f"Run(status={self.status!r}, iterations={self.iterations}, "
            f"seconds={self.seconds:.3g}, elbo={self.elbo[-1] if self.iterations else None})"
        )
