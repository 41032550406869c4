"""Initial values of a flow chain: close to the mean-field start of PyMC 6."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vibench.engine.flows import Flow, LocFlow


def initial_chain_values(
    classes: Sequence[type[Flow]],
    d: int,
    start: np.ndarray,
    rng: np.random.Generator,
    jitter: float,
) -> list[dict[str, np.ndarray]]:
    """Raw parameter values for a fresh chain, one dict per flow.

    Every flow starts near the identity (scale 1, planar/radial with a tiny effect,
    reflections that leave N(0, I) unchanged), and the *last* ``loc`` is placed so that
    the centre of the chain's output is ``start``: a fresh chain is close to
    N(start, I). Chains without ``loc`` stay centred near 0.
    """
    values = [cls.init_values(d, rng, jitter) for cls in classes]
    locs = [k for k, cls in enumerate(classes) if issubclass(cls, LocFlow)]
    last_loc = locs[-1] if locs else None
    target = np.asarray(start, dtype=float)
    if last_loc is not None:
        for k in range(len(classes) - 1, last_loc, -1):
            target = classes[k].init_pull(values[k], target)
    center = np.zeros(d)
    for k, cls in enumerate(classes):
        if k == last_loc:
            values[k] = {**values[k], "loc": target - center}
        values[k] = cls.init_recenter(values[k], center)
        center = cls.init_push(values[k], center)
    return values
