"""Axis limits that do not jump on every frame of a live plot."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["StableLimits"]


@dataclass
class StableLimits:
    """Limits of one axis that move only when the data leave them or shrink a lot.

    Parameters
    ----------
    pad : float
        Fraction of the data range added on each side when the limits are reset.
    shrink : float
        The limits are reset when the data span less than this fraction of them.

    Examples
    --------
    >>> lim = StableLimits()
    >>> lim.update(0.0, 10.0)
    (-0.5, 10.5)
    >>> lim.update(1.0, 9.0)  # inside and not much smaller: unchanged
    (-0.5, 10.5)
    """

    pad: float = 0.05
    shrink: float = 0.4
    lo: float | None = None
    hi: float | None = None

    def update(self, lo: float, hi: float) -> tuple[float, float]:
        """Take the data range ``[lo, hi]`` of a new frame; return the limits to draw.

        The limits stay as they are while the data fit inside them and span at least
        ``shrink`` of their width; otherwise they are reset to the padded data range.
        Non-finite input keeps the current limits (or ``(0, 1)`` before any data).
        """
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return self.limits
        if hi < lo:
            lo, hi = hi, lo
        if hi - lo <= 0:
            half = max(abs(lo) * 0.05, 1e-9)
            lo, hi = lo - half, hi + half
        if self.lo is not None and self.hi is not None:
            width = self.hi - self.lo
            inside = self.lo <= lo and hi <= self.hi
            if inside and (hi - lo) >= self.shrink * width:
                return self.limits
        p = (hi - lo) * self.pad
        self.lo, self.hi = lo - p, hi + p
        return self.limits

    @property
    def limits(self) -> tuple[float, float]:
        """The current limits, ``(0.0, 1.0)`` before any data."""
        if self.lo is None or self.hi is None:
            return (0.0, 1.0)
        return (self.lo, self.hi)

    def reset(self) -> None:
        """Forget the limits (the next frame sets them afresh)."""
        self.lo = self.hi = None
