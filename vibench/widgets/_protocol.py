"""What the widgets need from a session: a small protocol, so tests can use a fake.

:class:`vibench.Session` satisfies it; the widget layer never touches PyTensor and
only calls what is listed here (plus optional extras looked up with ``getattr``:
``settings``, ``configure``, ``draws`` (with ``deterministics=True``: the model's
Deterministics too), ``shown_variables`` (what the marginals show, in the model's
words: ``vibench.Session.shown_variables``), ``reference``, ``model``, ``remove_run(run)``
(forget a run: the Runs table's *remove*; without it a removed run is only hidden),
for empirical
(particle) plans ``particles`` / ``set_particles``, and ``fits_discrete``: true when
the session can fit a model with discrete free variables; ``vibench.Session`` cannot,
so without it the workbench disables Fit for such a model and says why).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "GroupLike",
    "ProgressLike",
    "ReferenceJobLike",
    "ReferenceProgressLike",
    "RunLike",
    "SessionProtocol",
    "VariableLike",
]


class VariableLike(Protocol):
    """A free variable: ``name``, ``shape``, ``size``, ``discrete``."""

    name: str
    shape: tuple[int, ...]
    size: int
    discrete: bool


class GroupLike(Protocol):
    """A group: ``id`` (``"rest"`` for the rest group), ``variables``, ``family``."""

    id: str
    variables: list[str]
    family: str


class ProgressLike(Protocol):
    """A progress event, delivered on the fitting thread."""

    iteration: int
    total: int
    elbo: float
    smoothed_elbo: float
    its_per_second: float
    status: str
    message: str

    @property
    def done(self) -> bool:
        """Whether this is the last event of a run."""


class RunLike(Protocol):
    """One fit: its plan, ELBO trace, timing and how it ended."""

    plan: dict[str, Any]
    status: str
    message: str
    seconds: float
    start_iteration: int

    @property
    def elbo(self) -> Any:
        """ELBO per iteration (a NumPy array)."""

    @property
    def iterations(self) -> int:
        """Iterations done."""

    @property
    def khat(self) -> float | None:
        """PSIS k-hat of the run (may be computed on first use)."""


@runtime_checkable
class SessionProtocol(Protocol):
    """The session API the workbench drives (see ``DESIGN.md``, "Session")."""

    @property
    def variables(self) -> Sequence[VariableLike]:
        """The model's free variables."""

    @property
    def groups(self) -> Sequence[GroupLike]:
        """The groups, the rest group last."""

    @property
    def runs(self) -> Sequence[RunLike]:
        """Every run, oldest first."""

    @property
    def running(self) -> bool:
        """Whether a fit is going on."""

    def add_group(self, family: str = ..., variables: Sequence[str] = ...) -> str:
        """Add a group; return its id."""

    def move(self, variable: str, group_id: str) -> None:
        """Move a variable into a group."""

    def set_family(self, group_id: str, family: str) -> None:
        """Set a group's family (a PyMC name or a flow formula)."""

    def remove_group(self, group_id: str) -> None:
        """Remove a group; its variables go back to rest."""

    def start(self, n: int | None = None, **settings: Any) -> RunLike:
        """Fit in a worker thread; return the run at once."""

    def stop(self) -> None:
        """Ask the running fit to stop."""

    def wait(self, timeout: float | None = None) -> RunLike | None:
        """Wait for the background fit."""

    def reset(self) -> None:
        """Initial parameters again (no recompile)."""

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        """Progress callbacks (on the fitting thread); returns an unsubscribe function."""

    def on_change(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        """Plan/settings change callbacks; returns an unsubscribe function."""

    def sample(self, draws: int = 1000, seed: int | None = None) -> Any:
        """Draws from q as a DataTree with a ``posterior`` group."""

    def affordable_draws(self, draws: int) -> int:
        """At most ``draws``, fewer for a model so large that the draws would be huge."""

    def to_code(self) -> str:
        """Code that rebuilds the plan."""

    def to_dict(self) -> dict[str, Any]:
        """The plan and settings, JSON-ready."""


# ---------------------------------------------------------------- the NUTS reference
# Optional extras, looked up with ``getattr``: ``reference(background=True)`` returns a
# ``concurrent.futures.Future`` of a DataTree with a ``posterior`` group; when it is a
# ``ReferenceJobLike`` (``vibench.session.ReferenceJob``) the workbench shows its live
# progress and a Cancel button, and unticking the box cancels it. ``given_reference``
# (a DataTree or None) is a posterior given with ``set_reference`` (``reference_given``:
# whether there is one); setting it is reported through ``on_change``.
class ReferenceProgressLike(Protocol):
    """Where a NUTS reference is (``vibench.session.ReferenceProgress``)."""

    state: str
    done: int
    total: int
    divergences: int
    seconds_left: float | None

    @property
    def finished(self) -> bool:
        """Whether the job has ended."""

    @property
    def slow(self) -> bool:
        """Whether the estimated time left is long."""

    @property
    def text(self) -> str:
        """One line: ``"640/2000 draws, 0 divergences, chain 1/2, about 40 s left"``."""


class ReferenceJobLike(Protocol):
    """A NUTS reference being sampled: a Future with progress and a real Cancel."""

    @property
    def progress(self) -> ReferenceProgressLike:
        """The latest progress."""

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        """Progress callbacks (from a worker thread); returns an unsubscribe function."""

    def cancel(self) -> bool:
        """Stop the sampler; False if it had already finished."""

    def done(self) -> bool:
        """Whether it has ended (finished, failed or cancelled)."""

    def cancelled(self) -> bool:
        """Whether it was cancelled."""

    def result(self, timeout: float | None = None) -> Any:
        """The DataTree (raises if it failed or was cancelled)."""

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        """Call ``fn(job)`` when it ends."""
