"""PSIS k-hat: does the approximation cover the posterior?"""

from __future__ import annotations

import numpy as np
from arviz_stats.base import array_stats

__all__ = ["NOT_AVAILABLE", "Khat", "khat_reading", "psis_khat"]

#: The reading of a k-hat that cannot be computed because q has no density.
NOT_AVAILABLE = "not available for particle (empirical) approximations: they have no density log q"


def khat_reading(khat: float) -> str:
    """Words for a k-hat value: ``"good"``, ``"usable"`` or ``"do not trust"``.

    Thresholds (Yao et al. 2018): k < 0.5 good, 0.5 <= k <= 0.7 usable,
    k > 0.7 (or not finite) do not trust.
    """
    if not np.isfinite(khat) or khat > 0.7:
        return "do not trust"
    if khat >= 0.5:
        return "usable"
    return "good"


class Khat(float):
    """Pareto-smoothed importance sampling diagnostic of an approximation.

    A ``float`` (the k-hat value itself, so ``result < 0.7`` works) that also carries
    its reading.

    Attributes
    ----------
    khat : float
        Estimated Pareto shape of the importance weights ``p(z) / q(z)``, z ~ q.
    reading : str
        ``"good"`` (< 0.5), ``"usable"`` (0.5-0.7) or ``"do not trust"`` (> 0.7), or
        :data:`NOT_AVAILABLE` (the value is then NaN) for a particle approximation.
    draws : int
        Number of draws it was computed from.

    References
    ----------
    Yao, Vehtari, Simpson, Gelman (2018). Yes, but Did It Work?: Evaluating Variational
    Inference. ICML.
    """

    reading: str
    draws: int

    def __new__(cls, khat: float, reading: str | None = None, draws: int = 0) -> Khat:
        obj = super().__new__(cls, khat)
        obj.reading = khat_reading(float(khat)) if reading is None else reading
        obj.draws = int(draws)
        return obj

    @property
    def khat(self) -> float:
        """The k-hat value as a plain float."""
        return float(self)

    @property
    def available(self) -> bool:
        """Whether k-hat could be computed (false for particle approximations)."""
        return self.reading != NOT_AVAILABLE

    def __repr__(self) -> str:
        return f"Khat(khat={float(self)!r}, reading={self.reading!r}, draws={self.draws})"

    def __str__(self) -> str:
        if not self.available:
            return f"k-hat {self.reading}"
        return f"k-hat = {float(self):.2f} ({self.reading}; {self.draws} draws)"

    def __reduce__(self):
        return (Khat, (float(self), self.reading, self.draws))


#: Fewer draws than this give k-hat NaN (PSIS needs a tail of at least 5 draws).
MIN_DRAWS = 50


def psis_khat(logp: np.ndarray, logq: np.ndarray) -> Khat:
    """k-hat of the log importance ratios ``logp - logq`` (via ArviZ's PSIS).

    Non-finite ratios (a draw where ``log p = -inf``) give k-hat ``inf``; fewer than
    :data:`MIN_DRAWS` draws give NaN (read as "do not trust"). ``logq`` all NaN (what
    the sampler returns for a particle approximation, which has no density) gives NaN
    read as :data:`NOT_AVAILABLE`.
    """
    logq = np.asarray(logq, dtype=float)
    if logq.size and np.isnan(logq).all():
        return Khat(khat=float("nan"), reading=NOT_AVAILABLE, draws=int(logq.size))
    log_w = np.asarray(logp, dtype=float) - logq
    if log_w.size < MIN_DRAWS:
        k = float("nan")
    elif not np.isfinite(log_w).all():
        k = float("inf")
    else:
        _, k = array_stats.psislw(log_w - log_w.max())
        k = float(k)
    return Khat(khat=k, reading=khat_reading(k), draws=int(log_w.size))
