"""Exceptions raised by the vibench engine.

Each error derives from the builtin (and, where one exists, the PyMC) exception that
code written for PyMC would already catch, so ``except KeyError`` around a PyMC
``Group(vfam=...)`` call keeps working when vibench's factory is used instead.
"""

from __future__ import annotations

from pymc.variational.opvi import GroupError, ParametrizationError

__all__ = [
    "AmortizedGroupError",
    "BatchedGroupError",
    "FlowFormulaError",
    "FlowParamsError",
    "GroupError",
    "ParametrizationError",
    "RowwiseGroupError",
    "UnbatchableFamilyError",
    "UnknownFamilyError",
    "UnsupportedGroupOptionError",
]


class _PlainMessageKeyError(KeyError):
    """A ``KeyError`` whose message prints as written (``KeyError`` quotes it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class FlowFormulaError(_PlainMessageKeyError, ValueError):
    """A flow formula (``"scale-hh*2-planar-loc"``) that cannot be parsed.

    The message names the offending token and lists the registered flow names. It is a
    ``ValueError`` and, like PyMC's own ``Group(vfam="unknown")``, a ``KeyError``.
    """


class UnknownFamilyError(FlowFormulaError):
    """A ``vfam`` that is neither a PyMC family name nor a valid flow formula."""


class FlowParamsError(ParametrizationError, _PlainMessageKeyError):
    """A ``params`` dict that matches no variational family or has the wrong shapes.

    A ``ValueError`` (through PyMC's ``ParametrizationError``) and a ``KeyError`` (what
    PyMC raises for an unknown key set).
    """


class UnsupportedGroupOptionError(NotImplementedError, TypeError, ValueError):
    """A group option a group class does not implement.

    PyMC 6 accepts ``local=True`` / ``rowwise=True`` and silently ignores them. vibench
    implements them through the :class:`vibench.Group` factory; a group class called
    directly (``NormalizingFlowGroup(..., local=True)``) refuses them with this error.
    """


class BatchedGroupError(GroupError, ValueError):
    """Misuse of an amortized (``local=True``) or row-wise (``rowwise=True``) group.

    Raised for ``local`` together with ``rowwise``, and for variables without a leading
    axis of rows. A ``TypeError`` (through PyMC's ``GroupError``) and a ``ValueError``.
    """


class AmortizedGroupError(BatchedGroupError):
    """Misuse of an amortized (``local=True``, AEVB) group.

    ``vfam`` instead of ``params`` (the encoder's outputs), no variable or more than one,
    or a minibatched model whose local variable carries no ``total_size``.
    """


class RowwiseGroupError(BatchedGroupError):
    """Misuse of a row-wise group: no variables, or variables with different row counts."""


class UnbatchableFamilyError(UnsupportedGroupOptionError, BatchedGroupError):
    """A family that cannot be amortized or made row-wise (``empirical``: particles)."""
