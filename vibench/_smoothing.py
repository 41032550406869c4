"""The one smoothing of an ELBO trace: the status line, progress events and the plot.

Pure NumPy, so that both ``vibench.session`` (the status and progress events) and
``vibench.plots`` (the smoothed line) use it without importing each other: the value
the status line calls "smoothed" is the value the plot draws at the same iteration.

The smoothed value at iteration ``i`` is the median of the finite values in a trailing
window. A median, unlike a mean, does not jump by a box the width of the window when
one noisy draw gives a wild ELBO. The window grows with the trace: at iteration ``i``
it spans at most a quarter of the iterations so far (``ceil((i + 1) / GROWTH)``),
until it reaches ``window``. A window that covered the whole trace at the start (a
"partial" window) would lag the steep first descent by half the iterations so far,
then suddenly stop lagging more when it fills: a visible kink at ``i == window``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GROWTH", "smoothed_at", "trailing_median", "window_at"]

#: At iteration ``i`` the window spans at most ``ceil((i + 1) / GROWTH)`` iterations.
GROWTH = 4


def window_at(i: np.ndarray | int, window: int) -> np.ndarray:
    """Width of the smoothing window ending at index ``i`` (0-based) of a trace.

    Examples
    --------
    >>> window_at(np.array([0, 3, 4, 399, 400, 5000]), 100).tolist()
    [1, 1, 2, 100, 100, 100]
    """
    i = np.asarray(i, dtype=np.int64)
    window = max(int(window), 1)
    return np.clip(-(-(i + 1) // GROWTH), 1, window)


def trailing_median(y: np.ndarray, window: int, at: np.ndarray | None = None) -> np.ndarray:
    """The smoothed trace: trailing median of ``y`` at the indices ``at`` (default all).

    The window at index ``i`` is :func:`window_at` ``(i, window)`` wide. Non-finite
    values are ignored; a window with none gives NaN.

    Parameters
    ----------
    y : numpy.ndarray
        One value per iteration.
    window : int
        Width of the window once the trace is long enough.
    at : numpy.ndarray, optional
        Indices to evaluate (a plot thins a long trace); default every index.

    Returns
    -------
    numpy.ndarray
        One value per index of ``at``.

    Examples
    --------
    >>> trailing_median(np.array([1.0, 9.0, 2.0, 3.0, 8.0, 4.0, 5.0, 6.0]), window=3).tolist()
    [1.0, 9.0, 2.0, 3.0, 5.5, 6.0, 4.5, 5.5]
    """
    y = np.asarray(y, dtype=float)
    idx = np.arange(y.size) if at is None else np.asarray(at, dtype=np.int64)
    window = max(int(window), 1)
    if idx.size == 0:
        return np.empty(0)
    if y.size == 0:
        return np.full(idx.size, np.nan)
    widths = window_at(idx, window)
    span = int(widths.max())
    # one row per requested index: the widest window ending there, the values outside
    # this index's own window masked (only the requested windows are gathered: a long
    # trace is not copied whole every frame)
    offsets = np.arange(1 - span, 1)
    cols = idx[:, None] + offsets
    rows = y[np.clip(cols, 0, y.size - 1)]
    outside = (cols < 0) | (offsets[None, :] <= -widths[:, None]) | ~np.isfinite(rows)
    rows[outside] = np.nan
    out = np.full(idx.size, np.nan)
    nan = np.isnan(rows)
    full = ~nan.any(axis=1)
    if full.any():
        out[full] = np.median(rows[full], axis=1)
    part = ~full & ~nan.all(axis=1)
    if part.any():
        out[part] = np.nanmedian(rows[part], axis=1)
    return out


def smoothed_at(y: np.ndarray, end: int, window: int) -> float:
    """The smoothed value after the first ``end`` values of ``y`` (NaN when ``end == 0``).

    What the status line and the progress events report at iteration ``end``: the same
    number the plot's smoothed line has there (:func:`trailing_median` at ``end - 1``).

    Examples
    --------
    >>> smoothed_at(np.array([1.0, 9.0, 2.0, 3.0, 8.0, 4.0]), 6, window=3)
    6.0
    """
    end = min(int(end), np.asarray(y).size)
    if end <= 0:
        return float("nan")
    w = int(window_at(end - 1, window))
    part = np.asarray(y[end - w : end], dtype=float)
    part = part[np.isfinite(part)]
    return float(np.median(part)) if part.size else float("nan")
