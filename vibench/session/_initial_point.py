"""The model's initial-point function, compiled once per model while plans are built.

PyMC compiles a new initial-point function on every ``model.initial_point()`` call,
and building an approximation calls it (``Group.__init__``); with a ``Scan`` in the
graph (an ``ordered`` transform, an LKJ prior) one compile took 0.3-0.8 s of the
click-to-first-point time, on every new plan. :func:`cached_initial_point` lends the
model a memoizing ``_make_initial_point`` for the duration of a build only: the
compiled function takes the seed as an argument (so one function serves every seed)
and is kept per model, keyed by what decides it (the free variables and their initial
values), outside the build nothing about the model changes.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from typing import Any

__all__ = ["cached_initial_point"]

_FUNCTIONS: weakref.WeakKeyDictionary[Any, tuple[tuple, Any]] = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()


def _key(model: Any) -> tuple:
    return (
        tuple(id(rv) for rv in model.free_RVs),
        tuple((id(rv), id(v)) for rv, v in model.rvs_to_initial_values.items()),
    )


@contextlib.contextmanager
def cached_initial_point(model: Any) -> Iterator[None]:
    """Within the block, ``model.initial_point(seed)`` reuses one compiled function.

    Only the plain call (no overrides, no jitter, transformed values) is cached; any
    other call compiles as PyMC does. Builds are serialised by the caller's lock;
    the instance attribute is removed again on exit.
    """
    original = type(model)._make_initial_point

    def make(*, overrides: Any = None, jitter_rvs: Any = None, return_transformed: bool = True):
        if overrides or jitter_rvs or not return_transformed:
            return original(
                model,
                overrides=overrides,
                jitter_rvs=jitter_rvs,
                return_transformed=return_transformed,
            )
        key = _key(model)
        with _LOCK:
            hit = _FUNCTIONS.get(model)
            if hit is not None and hit[0] == key:
                return hit[1]
        fn = original(model, overrides=None, jitter_rvs=jitter_rvs, return_transformed=True)
        with _LOCK:
            _FUNCTIONS[model] = (key, fn)
        return fn

    with _LOCK:
        had = "_make_initial_point" in vars(model)
        if not had:
            model._make_initial_point = make
    try:
        yield
    finally:
        if not had:
            with _LOCK, contextlib.suppress(AttributeError):
                del model._make_initial_point
