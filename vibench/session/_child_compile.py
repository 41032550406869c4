"""Warm PyTensor's Numba kernel cache in a child process, off this process's GIL.

Numba compiles a PyTensor function on its first call, and its JIT (Python code and
LLVM) holds the GIL for seconds at a time. Done in a background thread of the kernel,
it starves the fitting thread: on a mixture model with an LKJ prior the live loop fell
from thousands of steps a second to about fifteen while Numba compiled. A child
process compiles and calls a copy of the same step graph instead; PyTensor keys its
on-disk Numba cache by the graph, so building the live function in this process then
only loads the compiled kernels (about a second instead of tens).

:class:`ChildWarmup` is started by the background build of a tiered step
(:class:`vibench.session.StepFunction`). Running this module is the child's side::

    python -m vibench.session._child_compile PAYLOAD_FILE
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
from typing import Any

import cloudpickle

__all__ = ["ChildWarmup"]

logger = logging.getLogger(__name__)

#: Seconds between two looks at the cancel event while the child works.
_POLL = 0.05


class ChildWarmup:
    """Compile and call a step graph under a mode in a child process, started at once.

    Parameters
    ----------
    loss, updates
        The step graph: the loss variable and the shared-variable updates.
    mode : str
        The PyTensor mode name (``"NUMBA"``).

    Notes
    -----
    :meth:`wait` answers whether the kernels are now in the on-disk cache. A graph
    that cannot be pickled, or a child that fails, answers ``False`` (the caller then
    warms in this process); so does a cancelled wait, which kills the child.
    """

    def __init__(self, loss: Any, updates: dict[Any, Any], mode: str) -> None:
        self._proc: subprocess.Popen | None = None
        self._path: str | None = None
        self._lock = threading.Lock()
        try:
            payload = cloudpickle.dumps((loss, updates, mode))
        except Exception:  # an op that cannot travel: the caller warms in-process
            logger.debug("vibench: the step graph cannot be pickled", exc_info=True)
            return
        fd, self._path = tempfile.mkstemp(prefix="vibench-warm-", suffix=".pkl")
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "vibench.session._child_compile", self._path],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError:
            logger.debug("vibench: could not start the warm-up child", exc_info=True)
            self._cleanup()

    def wait(self, cancel: threading.Event) -> bool:
        """Wait for the child; ``True`` when it compiled and ran the graph."""
        proc = self._proc
        if proc is None:
            return False
        try:
            while True:
                try:
                    _, err = proc.communicate(timeout=_POLL)
                    break
                except subprocess.TimeoutExpired:
                    if cancel.is_set():
                        return False
        finally:
            self.kill()
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-3:]
            logger.debug("vibench: Numba warm-up child failed: %s", " | ".join(tail))
            return False
        return True

    def kill(self) -> None:
        """End the child if it still runs, and remove its payload file (thread-safe)."""
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            self._cleanup()

    def _cleanup(self) -> None:
        if self._path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._path)
            self._path = None


def _main(path: str) -> None:
    """The child: load the graph, compile it, call it once (on its own copies)."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(5)  # the parent's fitting thread comes first on a small machine
    import warnings

    from pymc.pytensorf import compile as pm_compile

    with open(path, "rb") as f:
        loss, updates, mode = cloudpickle.load(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn = pm_compile([], loss, updates=updates, random_seed=False, mode=mode)
        fn()


if __name__ == "__main__":
    _main(sys.argv[1])
