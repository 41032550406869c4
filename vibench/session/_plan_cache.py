"""Plans built before, kept so that going back to one starts at full speed.

A plan edit used to throw away everything the old plan had built: its approximation,
its compiled step functions (after the tiers had settled on the fastest backend) and
its draw functions. Clicking back to mean-field a minute later then compiled all of it
again. :class:`PlanCache` keeps the last few plans' builds instead, least recently used
first out, bounded by a number of plans and by the bytes their arrays hold.

What a cached build gives back is *rewound*: initial parameters, optimizer state and
random streams as they were when it was built, so a fit after going back gives the
numbers the first fit of that plan gave with the same seed. Step functions still
building their backends when their plan was dropped are stopped and forgotten (a
dropped plan builds nothing in the background); they are compiled again on return.

What cannot be bounded here: PyTensor keeps every C module it loaded, and Numba keeps
the machine code of every function it compiled, for the life of the process (neither
can unload code). Evicting a plan frees its Python graphs, functions and arrays; the
machine code of a new plan's Numba step (about 3 MB for eight schools) stays.
``benchmarks/plan_memory.py`` measures both.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Protocol

import numpy as np

__all__ = ["MAX_BYTES", "MAX_PLANS", "PlanCache"]

#: Plans kept besides the current one.
MAX_PLANS = 6
#: Most bytes of parameter and optimizer-state arrays the kept plans may hold together.
MAX_BYTES = 256 * 2**20


class _Step(Protocol):
    settled: threading.Event

    def close(self) -> None: ...

    def restore_initial(self) -> None: ...

    def snapshot(self) -> list[Any]: ...


class Built(Protocol):
    """What a plan has built (the session's record of it), as the cache uses it."""

    approx: Any
    plan_key: tuple
    steps: dict[tuple, _Step]
    initial_params: list[np.ndarray]
    #: ``approx.rng.get_state()`` right after building (``None``: nothing to restore).
    initial_rng: Any
    elbo: list[np.ndarray]
    iteration: int

    def set_params(self, values: list[np.ndarray]) -> None: ...


def _nbytes(built: Built) -> int:
    """Bytes of the arrays a kept build holds (parameters, and per step its state twice)."""
    total = sum(np.asarray(v).nbytes for v in built.initial_params) * 2
    for step in built.steps.values():
        total += 2 * sum(np.asarray(v).nbytes for v in step.snapshot() if hasattr(v, "nbytes"))
    return total


def park(built: Built) -> None:
    """Make a dropped plan's build ready to keep: stop what it still compiles.

    A step whose tiers have settled is kept (its fast function is the point of
    keeping it); one still building is closed and forgotten, so nothing of a plan no
    longer wanted compiles in the background.
    """
    for key, step in list(built.steps.items()):
        if not step.settled.is_set():
            step.close()
            del built.steps[key]


def rewind(built: Built) -> None:
    """Put a kept build back to how it was built: parameters, optimizer, random streams."""
    for step in built.steps.values():
        step.restore_initial()
    built.set_params(built.initial_params)
    built.elbo.clear()
    built.iteration = 0
    if built.initial_rng is not None:
        built.approx.rng.set_state(built.initial_rng)


class PlanCache:
    """The last few plans' builds, by plan and seed, least recently used out first.

    Parameters
    ----------
    max_plans : int
        Most builds kept (``0`` keeps none: every plan edit rebuilds, as before).
    max_bytes : int
        Most bytes of parameter and optimizer arrays kept in all.

    Notes
    -----
    The session calls :meth:`keep` when a plan edit drops a build and :meth:`take`
    before building, with the same key (the plan's, with the seed it was built with). Builds of plans with groups made
    in Python (:meth:`Session.add_custom_group`) are never kept: their key cannot tell
    two such groups apart. Thread-safe.
    """

    def __init__(self, max_plans: int = MAX_PLANS, max_bytes: int = MAX_BYTES) -> None:
        if max_plans < 0 or max_bytes < 0:
            raise ValueError("max_plans and max_bytes must be >= 0")
        self.max_plans = max_plans
        self.max_bytes = max_bytes
        self._kept: OrderedDict[tuple, tuple[Built, int]] = OrderedDict()
        self._lock = threading.Lock()
        #: Builds given back by :meth:`take` (for benchmarks and tests).
        self.hits = 0

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def nbytes(self) -> int:
        """Bytes of arrays held by the kept builds (as counted when each was kept)."""
        return sum(size for _, size in self._kept.values())

    def keep(self, key: tuple, built: Built) -> None:
        """A plan edit dropped ``built``: stop its compiles and keep it under ``key``."""
        park(built)
        if self.max_plans == 0:
            return
        size = _nbytes(built)
        with self._lock:
            self._kept.pop(key, None)
            if size > self.max_bytes:
                return
            self._kept[key] = (built, size)
            while len(self._kept) > self.max_plans or self.nbytes > self.max_bytes:
                self._kept.popitem(last=False)

    def take(self, key: tuple) -> Built | None:
        """The build kept under ``key``, rewound to its initial state, or ``None``."""
        with self._lock:
            entry = self._kept.pop(key, None)
            if entry is None:
                return None
            built, _ = entry
            self.hits += 1
        rewind(built)
        return built

    def clear(self) -> None:
        """Forget every kept build."""
        with self._lock:
            self._kept.clear()
