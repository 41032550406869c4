"""Small checks of untrusted values, shared by the plan and the fit settings."""

from __future__ import annotations

import reprlib
from typing import Any

import numpy as np

__all__ = ["int_in_range", "short_repr"]

#: Short reprs of untrusted values for messages: a deeply nested or huge value prints as
#: a few characters (plain ``repr`` of a 10,000-deep list raises ``RecursionError``).
_SHORT = reprlib.Repr(maxlevel=3, maxlist=4, maxtuple=4, maxdict=4, maxstring=40, maxother=40)
_SHORT.maxlong = 40


def short_repr(value: Any) -> str:
    """``repr(value)`` cut short for a message (nested and long values abbreviated)."""
    return _SHORT.repr(value)


def int_in_range(value: Any, lo: int, hi: int) -> bool:
    """Whether ``value`` is an int (Python or NumPy, not a bool) with ``lo <= value <= hi``."""
    return (
        not isinstance(value, bool) and isinstance(value, int | np.integer) and lo <= value <= hi
    )
