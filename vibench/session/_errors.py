"""Errors raised by the session."""

from __future__ import annotations

__all__ = ["PlanError", "SessionBusyError"]


class PlanError(ValueError):
    """An edit, plan or preset that cannot be applied; the message says what and why."""


class SessionBusyError(RuntimeError):
    """The session is fitting; stop or wait for the fit before doing this."""
