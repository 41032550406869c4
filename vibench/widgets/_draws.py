"""Read draws out of what ``Session.sample`` / ``Session.reference`` return."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["posterior_draws"]


def posterior_draws(tree: Any, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Draws per variable with chains merged: ``{name: array of shape (draws, *shape)}``.

    Parameters
    ----------
    tree : xarray.DataTree or mapping
        Something with a ``posterior`` group whose variables have dims
        ``(chain, draw, ...)`` (a DataTree from ``Session.sample`` or ``pm.sample``), or
        a plain ``{name: (chain, draw, ...) array}`` mapping under ``"posterior"``.
    names : list of str, optional
        Variables to read (default: all).
    """
    post = tree["posterior"]
    keys = list(
        getattr(post, "data_vars", None) or (post.keys() if isinstance(post, Mapping) else [])
    )
    out: dict[str, np.ndarray] = {}
    for name in keys:
        if names is not None and name not in names:
            continue
        arr = np.asarray(post[name].values if hasattr(post[name], "values") else post[name])
        if arr.ndim < 2:
            continue
        out[str(name)] = arr.reshape(arr.shape[0] * arr.shape[1], *arr.shape[2:])
    return out
