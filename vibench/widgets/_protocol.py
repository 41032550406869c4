"""What the widgets need from a session: a small protocol, so tests can use a fake.

:class:`vibench.Session` satisfies it; the widget layer never touches PyTensor and
only calls what is listed here (plus optional extras looked up with ``getattr``:
``settings``, ``configure``, ``draws`` (with ``deterministics=True``: the model's
Deterministics too), ``shown_variables`` (what the marginals show, in the model's
words: ``vibench.Session.shown_variables``), ``reference``, ``model``, for empirical
(particle) plans ``particles`` / ``set_particles``, and ``fits_discrete``: true when
the session can fit a model with discrete free variables; ``vibench.Session`` cannot,
so without it the workbench disables Fit for such a model and says why).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["GroupLike", "ProgressLike", "RunLike", "SessionProtocol", "VariableLike"]


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

    def to_code(self) -> str:
        """Code that rebuilds the plan."""

    def to_dict(self) -> dict[str, Any]:
        """The plan and settings, JSON-ready."""
