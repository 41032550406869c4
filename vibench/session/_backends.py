"""Which compiled backend steps a plan fastest, measured once and remembered on disk.

A tiered step (see :class:`~vibench.session.StepFunction`) measures every backend it
builds on real optimisation steps and keeps the fastest. The choice is stored under
a fingerprint of the model's structure, the plan and the compiled settings, so that
the next fit of the same plan (in this process or a later one) builds only the
winner. The file is a small JSON object; a missing, unreadable or corrupt file is
the same as an empty one, and the memory only ever changes speed, never results.

The file lives in ``$VIBENCH_CACHE_DIR`` or else ``$XDG_CACHE_HOME/vibench`` (default
``~/.cache/vibench``), named ``backends.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytensor

from vibench.session._initial_point import cached_initial_point
from vibench.session._runner import BACKEND_MODES

__all__ = [
    "AUTO",
    "BACKENDS",
    "BackendMemory",
    "available_backends",
    "fingerprint",
    "point_shapes",
]

logger = logging.getLogger(__name__)

#: Let vibench measure the backends and remember the fastest.
AUTO = "auto"
#: What ``Session(backend=...)`` accepts.
BACKENDS = (AUTO, *BACKEND_MODES)
#: Order in which unmeasured backends are built (the usual winner first).
_ORDER = ("c", "numba")
_MAX_ENTRIES = 500
#: Bumped when the way backends are measured changes (2: ten trial chunks, no
#: process-wide compiler switch during the first tier).
_MEASURE_VERSION = 2


def available_backends() -> list[str]:
    """The backends this machine can build: ``"c"`` needs a C++ compiler."""
    out = []
    for name in _ORDER:
        if name == "c" and not pytensor.config.cxx:
            continue
        out.append(name)
    return out


def fingerprint(model: Any, plan: dict[str, Any], compile_key: tuple) -> str:
    """A stable hash of what decides a step function's speed.

    The model's free and observed variables (name, distribution, shape), the plan
    (groups and families) and the compiled settings (optimizer, learning rate, MC
    draws), plus the PyTensor version.
    """

    point = point_shapes(model)

    def describe(rv: Any) -> list[Any]:
        value = model.rvs_to_values.get(rv)
        shape: Any = None
        if value is not None and value.name in point:
            shape = list(point[value.name])
        elif hasattr(value, "get_value"):
            shape = list(value.get_value(borrow=True).shape)
        elif hasattr(value, "data"):
            shape = list(value.data.shape)
        return [rv.name, type(rv.owner.op).__name__, shape]

    payload = {
        "free": [describe(rv) for rv in model.free_RVs],
        "observed": [describe(rv) for rv in model.observed_RVs],
        "plan": plan,
        "settings": [repr(k) for k in compile_key],
        "pytensor": pytensor.__version__,
        # how choices are measured: a new way of measuring forgets the old choices
        "measure": _MEASURE_VERSION,
    }
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


#: Shapes of each model's initial point, by value-variable name (computing the point
#: compiles and runs a function: about a third of a second on a mixture model, paid
#: on every plan's first fit before this cache).
_POINT_SHAPES: weakref.WeakKeyDictionary[Any, tuple[int, dict[str, tuple]]] = (
    weakref.WeakKeyDictionary()
)
_POINT_LOCK = threading.Lock()


def point_shapes(model: Any) -> dict[str, tuple]:
    """Shapes of the model's initial point by value-variable name (computed once)."""
    with _POINT_LOCK:
        cached = _POINT_SHAPES.get(model)
        if cached is not None and cached[0] == len(model.free_RVs):
            return cached[1]
    with cached_initial_point(model):
        shapes = {k: tuple(np.shape(v)) for k, v in model.initial_point().items()}
    with _POINT_LOCK:
        _POINT_SHAPES[model] = (len(model.free_RVs), shapes)
    return shapes


def _default_path() -> Path:
    root = os.environ.get("VIBENCH_CACHE_DIR")
    if root:
        return Path(root) / "backends.json"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "vibench" / "backends.json"


class BackendMemory:
    """The remembered backend choices (a JSON file), safe to share between threads.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        The JSON file (default: see the module docstring).
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else _default_path()
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def lookup(self, key: str) -> str | None:
        """The backend remembered for ``key`` if this machine can build it, else ``None``."""
        with self._lock:
            entry = self._read().get(key)
        if not isinstance(entry, dict):
            return None
        backend = entry.get("backend")
        return backend if backend in available_backends() else None

    def remember(self, key: str, backend: str, rates: dict[str, float]) -> None:
        """Store the choice for ``key`` (and the measured iterations per second)."""
        entry = {"backend": backend, "rates": {k: round(float(v), 1) for k, v in rates.items()}}
        with self._lock:
            data = self._read()
            data.pop(key, None)
            data[key] = entry
            while len(data) > _MAX_ENTRIES:  # oldest first: dicts keep insertion order
                data.pop(next(iter(data)))
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
                with os.fdopen(fd, "w") as f:
                    json.dump(data, f, indent=1)
                os.replace(tmp, self.path)
            except OSError:
                logger.debug("vibench: could not save backend choices", exc_info=True)
