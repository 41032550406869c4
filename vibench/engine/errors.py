"""Exceptions raised by the vibench engine.

Each error derives from the builtin (and, where one exists, the PyMC) exception that
code written for PyMC would already catch, so ``except KeyError`` around a PyMC
``Group(vfam=...)`` call keeps working when vibench's factory is used instead.
"""

from __future__ import annotations

from pymc.variational.opvi import GroupError, ParametrizationError

__all__ = [
    "FlowFormulaError",
    "FlowParamsError",
    "GroupError",
    "ParametrizationError",
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
    """A group option vibench does not implement yet (``local=True``, ``rowwise=True``).

    PyMC 6 accepts these keywords and silently ignores them; vibench refuses them.
    """
