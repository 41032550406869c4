"""How often a live plot may redraw without slowing the fit down."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["FrameBudget"]


@dataclass
class FrameBudget:
    """Allow a frame only when drawing has used at most ``fraction`` of the time.

    Frames are drawn on the fitting thread between chunks, so every millisecond spent
    drawing is a millisecond not fitting: keeping the drawing time (including the
    expected cost of the next frame, taken from the last one) under ``fraction`` of the
    elapsed time keeps the fit at ``1 - fraction`` of its plain speed or better.

    Parameters
    ----------
    fraction : float
        Share of wall time frames may take.
    min_interval : float
        Seconds between two frames at least.
    cost : float
        Expected cost of the first frame, in seconds.
    grace : float
        Seconds of drawing allowed on top of ``fraction`` (once per run): the first
        frame of a run usually redraws the plot's background (~10 frames' worth) and
        without a grace the next frames would wait for the fit to pay it back. The fit
        keeps ``1 - fraction`` of its speed, less ``grace`` seconds in all.

    Examples
    --------
    >>> b = FrameBudget(fraction=0.1, min_interval=0.0, cost=0.0)
    >>> b.start(now=0.0)
    >>> b.due(now=1.0)
    True
    >>> b.spend(0.5, now=1.0)
    >>> b.due(now=2.0)  # 0.5 s spent + 0.5 s expected is more than 10 % of 2 s
    False
    >>> b.due(now=10.0)
    True
    """

    fraction: float = 0.05
    min_interval: float = 0.25
    t0: float = field(default=0.0)
    spent: float = 0.0
    last: float = float("-inf")
    #: Expected cost of the next frame, from the last ones (kept across runs).
    cost: float = 0.01
    grace: float = 0.0

    def __post_init__(self) -> None:
        self._initial_cost = self.cost

    def start(self, now: float | None = None) -> None:
        """Begin a run: nothing spent yet, and a cost estimate no higher than at first.

        (One slow frame, say on a busy machine, must not starve every later run.)
        """
        self.t0 = time.perf_counter() if now is None else now
        self.spent = 0.0
        self.last = float("-inf")
        self.cost = min(self.cost, self._initial_cost)

    def due(self, now: float | None = None) -> bool:
        """Whether a frame may be drawn now."""
        now = time.perf_counter() if now is None else now
        if now - self.last < self.min_interval:
            return False
        return self.spent + self.cost <= self.fraction * (now - self.t0) + self.grace

    def spend(self, seconds: float, now: float | None = None) -> None:
        """Record a frame that took ``seconds``."""
        self.spent += seconds
        # the expected cost of the next frame follows the typical frame: an occasional
        # expensive one (a background redraw) is paid for through ``spent`` and must
        # not hold every later cheap frame back for seconds
        self.cost = 0.5 * self.cost + 0.5 * min(seconds, 3.0 * self.cost)
        self.last = time.perf_counter() if now is None else now
