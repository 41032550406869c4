"""PyMC's optimizers by name (from :mod:`pymc.variational.updates`)."""

from __future__ import annotations

from pymc.variational import updates

__all__ = ["OPTIMIZERS", "make_optimizer"]

OPTIMIZERS = {
    "sgd": updates.sgd,
    "momentum": updates.momentum,
    "nesterov_momentum": updates.nesterov_momentum,
    "adagrad": updates.adagrad,
    "adagrad_window": updates.adagrad_window,
    "rmsprop": updates.rmsprop,
    "adadelta": updates.adadelta,
    "adam": updates.adam,
    "adamax": updates.adamax,
}


def make_optimizer(name: str, learning_rate: float):
    """PyMC optimizer ``name`` with ``learning_rate``, ready for ``obj_optimizer=``."""
    return OPTIMIZERS[name](learning_rate=learning_rate)
