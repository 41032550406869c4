"""The session: the workbench's state and actions in plain Python (no widgets).

A :class:`Session` holds a plan (which variable sits in which group, each group's
family), builds the approximation, fits it in chunks (blocking or in a worker
thread), records :class:`Run` objects, draws samples into an ``xarray.DataTree`` and
computes diagnostics.
"""

from __future__ import annotations

from vibench.session._diagnostics import NOT_AVAILABLE, Khat, khat_reading
from vibench.session._errors import PlanError, SessionBusyError
from vibench.session._families import trace_label
from vibench.session._plan import REST, GroupSpec, VariableInfo
from vibench.session._reference import ReferenceJob, ReferenceProgress
from vibench.session._run import STATUSES, FitSettings, Progress, Run
from vibench.session._runner import StepFunction
from vibench.session._session import Session

__all__ = [
    "NOT_AVAILABLE",
    "REST",
    "STATUSES",
    "FitSettings",
    "GroupSpec",
    "Khat",
    "PlanError",
    "Progress",
    "ReferenceJob",
    "ReferenceProgress",
    "Run",
    "Session",
    "SessionBusyError",
    "StepFunction",
    "VariableInfo",
    "khat_reading",
    "trace_label",
]
