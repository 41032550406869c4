"""The board: variable chips in group columns, with family pickers and flow editors."""

from __future__ import annotations

import logging
import os
import threading
import weakref
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from vibench.session._families import canonical_family, is_flow_family
from vibench.widgets._bundle import bundle_css, bundle_js
from vibench.widgets._labels import family_label, flow_names, transform_hint
from vibench.widgets._messages import (
    BoardAction,
    ColumnView,
    FamilyOption,
    FlowStep,
    GroupState,
    PlanView,
    VariableState,
)
from vibench.widgets._preset import BOARD_CONTROLS

__all__ = ["DEFAULT_FLOW", "FAMILIES", "Board"]

STATIC = Path(__file__).parent / "static"
#: The board's front-end parts (ES modules and stylesheets), one file per part.
PARTS = STATIC / "board"
#: The formula a group gets when "Normalizing flow" is picked.
DEFAULT_FLOW = "scale-planar*2-loc"

#: The family picker's entries; ``"flow"`` opens the flow-stack editor.
FAMILIES: list[FamilyOption] = [
    {"value": "mean_field", "label": "Mean-field", "title": "independent Gaussians"},
    {"value": "full_rank", "label": "Full-rank", "title": "one correlated Gaussian"},
    {"value": "empirical", "label": "Empirical", "title": "a cloud of particles"},
    {
        "value": "flow",
        "label": "Normalizing flow",
        "title": "N(0, I) pushed through flows",
        "formula": DEFAULT_FLOW,
    },
]
_log = logging.getLogger(__name__)
_ERRORS = (ValueError, KeyError, TypeError, RuntimeError)
_DISCRETE_NOTE = "discrete: variational inference here fits continuous variables only"


def _message(err: BaseException) -> str:
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return text or type(err).__name__


class Board(anywidget.AnyWidget):
    """Drag-and-drop view of a session's plan; every edit goes through the session.

    Parameters
    ----------
    session : SessionProtocol
        The session whose groups the board shows and edits.

    Notes
    -----
    The JavaScript side sends :data:`~vibench.widgets._messages.BoardAction` messages;
    :meth:`apply` carries them out on the session and refreshes the traits. An edit the
    session refuses leaves the plan unchanged and shows the reason inline. Edits made
    while a fit runs are queued and applied when it ends (:meth:`apply_pending`).
    """

    # One self-contained module and one stylesheet, assembled from the part files when
    # this module is imported (see vibench/widgets/_bundle.py for why and how); with
    # ANYWIDGET_HMR=1 they are re-assembled, and every live board reloaded, when a part
    # file changes (_watch_parts).
    _esm = bundle_js(PARTS / "board.js")
    _css = bundle_css(PARTS / "index.css")

    variables = traitlets.List(
        traitlets.Dict(), help="Chips: name, shape, size, discrete, transform, note."
    ).tag(sync=True)
    groups = traitlets.List(
        traitlets.Dict(), help="Group columns (rest last): id, family, variables."
    ).tag(sync=True)
    group_details = traitlets.Dict(
        help=(
            "Per group id: rowwise (bool), rows (first-axis length shared by its "
            "variables, or None), rowwise_why (why it cannot be made row-wise, '' if it "
            "can), custom (built in Python: read-only) and label (how a custom group is "
            "described)."
        )
    ).tag(sync=True)
    families = traitlets.List(traitlets.Dict(), help="Entries of each group's family picker.").tag(
        sync=True
    )
    flow_names = traitlets.List(
        traitlets.Unicode(), help="Flows the flow-stack editor offers, in palette order."
    ).tag(sync=True)
    errors = traitlets.Dict(
        help="Inline messages per group id: why the last edit of that group was refused."
    ).tag(sync=True)
    notice = traitlets.Unicode(
        "", help="A board-wide message (a refused move, edits queued during a fit)."
    ).tag(sync=True)
    notice_level = traitlets.Enum(
        ["info", "error"], "error", help="How the notice is shown: 'info' or 'error'."
    ).tag(sync=True)
    running = traitlets.Bool(False, help="Whether a fit is running (edits are queued).").tag(
        sync=True
    )
    hidden = traitlets.List(
        traitlets.Unicode(),
        help="Board controls not shown: 'families', 'flow_editor', 'groups' (also refused).",
    ).tag(sync=True)
    locked = traitlets.List(
        traitlets.Unicode(),
        help="Board controls shown disabled: 'families', 'flow_editor', 'groups' (refused).",
    ).tag(sync=True)
    revision = traitlets.Int(
        0, help="Bumped after every action, so the view redraws even when nothing changed."
    ).tag(sync=True)
    queued = traitlets.List(
        traitlets.Dict(),
        help="Edits queued while a fit runs, in order (plan_view shows where they land).",
    ).tag(sync=True)
    plan_view = traitlets.Dict(
        help=(
            "What the board draws, the one serialised view of the plan: 'groups' (the "
            "session's groups with their group_details, each flow group's parsed "
            "'flow_steps', and what the queued edits change: 'pending_family', "
            "'removing', 'pending_variables'; rest last) and 'added' (groups queued "
            "during a fit, not created yet). Computed in Python from the session and "
            "the queue; the front end never replays edits."
        )
    ).tag(sync=True)
    width = traitlets.Int(
        0,
        help=(
            "The board's width in CSS px when the cell is narrow (under 1000 px), measured "
            "by the front end; 0 when wide (or not known): the workbench draws its plots as "
            "wide as the cell, so their text stays readable."
        ),
    ).tag(sync=True)

    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._session = session
        self._lock = threading.RLock()
        self._pending: list[BoardAction] = []
        self.families = [dict(f) for f in FAMILIES]
        self.flow_names = flow_names(session)
        self.on_msg(self._on_msg)
        self.refresh()
        _LIVE.add(self)

    @traitlets.validate("hidden", "locked")
    def _check_controls(self, proposal: Any) -> list[str]:
        """Only the board's own controls ('families', 'flow_editor', 'groups')."""
        bad = [n for n in proposal["value"] if n not in BOARD_CONTROLS]
        if bad:
            raise traitlets.TraitError(
                f"unknown board controls {bad}; valid: {', '.join(BOARD_CONTROLS)}"
            )
        return list(proposal["value"])

    @traitlets.validate("groups")
    def _check_groups(self, proposal: Any) -> list[dict]:
        """Exactly one group has id ``"rest"`` and it comes last."""
        groups = proposal["value"]
        ids = [g.get("id") for g in groups]
        if ids.count("rest") != 1 or ids[-1] != "rest":
            raise traitlets.TraitError(f"groups must end with the one 'rest' group, got {ids}")
        return groups

    # ------------------------------------------------------------------ state
    @property
    def session(self) -> Any:
        """The session the board edits."""
        return self._session

    @property
    def pending(self) -> list[BoardAction]:
        """Edits waiting for the running fit to end."""
        return list(self._pending)

    def refresh(self) -> None:
        """Read the session's variables and groups into the synced traits."""
        s = self._session
        variables: list[VariableState] = [
            {
                "name": v.name,
                "shape": [int(d) for d in v.shape],
                "size": int(v.size),
                "discrete": bool(v.discrete),
                "transform": transform_hint(s, v.name),
                "note": _DISCRETE_NOTE if v.discrete else "",
                "dims": _dims(s, v.name, len(v.shape)),
                "rows": int(v.shape[0]) if len(v.shape) else None,
            }
            for v in s.variables
        ]
        groups: list[GroupState] = [
            {"id": g.id, "family": g.family, "variables": list(g.variables)} for g in s.groups
        ]
        shapes = {v.name: tuple(v.shape) for v in s.variables}
        details = {g.id: _group_detail(g, shapes) for g in s.groups}
        with self.hold_sync():
            self.variables = variables
            self.group_details = details
            self.groups = groups
            self.running = bool(s.running)
            self.plan_view = _plan_view(groups, details, self._pending)
            known = {g["id"] for g in groups}
            if any(k not in known for k in self.errors):
                self.errors = {k: v for k, v in self.errors.items() if k in known}

    # ------------------------------------------------------------------ actions
    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and "kind" in content:
            self.apply(content)  # type: ignore[arg-type]

    def apply(self, action: BoardAction) -> bool:
        """Carry out one board action on the session.

        Parameters
        ----------
        action : BoardAction
            ``{"kind": "move", "variable", "group"}``,
            ``{"kind": "new_group", "variable" (or None), "family"}``,
            ``{"kind": "set_family", "group", "family"}``,
            ``{"kind": "set_rowwise", "group", "rowwise"}`` or
            ``{"kind": "remove_group", "group"}``. A group built in Python (``custom``)
            refuses every edit from the board.

        Returns
        -------
        bool
            Whether the session accepted the edit (a queued edit counts as not yet).
        """
        refusal = self._refusal(action) or self._custom_refusal(action)
        if refusal:
            self.notice_level = "error"
            self.notice = refusal
            self.revision += 1
            return False
        with self._lock:
            if self._session.running:
                self._pending.append(action)
                with self.hold_sync():
                    self.queued = [dict(a) for a in self._pending]
                    self.plan_view = _plan_view(self.groups, self.group_details, self._pending)
                self.notice_level = "info"
                self.notice = (
                    f"A fit is running: {self._describe(action)} will be applied when it ends "
                    f"({len(self._pending)} queued)."
                )
                return False
            ok = self._apply_now(action)
        self.refresh()
        self.revision += 1
        return ok

    def apply_pending(self) -> None:
        """Apply the edits queued while a fit ran (call when it has ended)."""
        # one message to the view: the queued edits leave the board as the plan changes
        with self.hold_sync(), self._lock:
            pending, self._pending = self._pending, []
            if pending:
                self.notice = ""
            for action in pending:
                self._apply_now(action)
            self.queued = []
            self.refresh()

    def _refusal(self, action: Any) -> str:
        """Why a hidden or locked control refuses ``action`` ("" if it does not)."""
        off = set(self.hidden) | set(self.locked)
        if not off or not isinstance(action, dict):
            return ""
        kind = action.get("kind")
        if kind in ("move", "new_group", "remove_group") and "groups" in off:
            return "The groups are fixed for this exercise: variables cannot be moved."
        if kind == "set_rowwise" and "families" in off:
            return "The families are fixed for this exercise (row-wise too)."
        if kind == "set_family":
            if "families" in off:
                return "The families are fixed for this exercise."
            if "flow_editor" in off:
                current = next(
                    (g.family for g in self._session.groups if g.id == action.get("group")),
                    None,
                )
                if current is not None and _is_flow(current):
                    return "The flow stacks are fixed for this exercise."
        return ""

    def _custom_refusal(self, action: Any) -> str:
        """Why an edit touching a group built in Python is refused ("" if it is not)."""
        if not isinstance(action, dict):
            return ""
        custom = {g.id: g for g in self._session.groups if getattr(g, "custom", False)}
        if not custom:
            return ""
        target = custom.get(action.get("group"))  # type: ignore[arg-type]
        held = next((g for g in custom.values() if action.get("variable") in g.variables), None)
        g = target or (held if action.get("kind") in ("move", "new_group") else None)
        if g is None:
            return ""
        label = getattr(g, "label", "") or g.family
        return (
            f"Group {g.id} ({label}) was built in Python: the board cannot change it. "
            f"Remove it from Python with session.remove_group({g.id!r})."
        )

    def _describe(self, action: BoardAction) -> str:
        kind = action.get("kind")
        if kind == "move":
            return f"moving {action.get('variable')} to {action.get('group')}"
        if kind == "new_group":
            v = action.get("variable")
            return f"a new group for {v}" if v else "a new group"
        if kind == "set_family":
            return f"{family_label(str(action.get('family')))} for {action.get('group')}"
        if kind == "set_rowwise":
            state = "on" if action.get("rowwise") else "off"
            return f"row-wise {state} for {action.get('group')}"
        return f"removing group {action.get('group')}"

    def _apply_now(self, action: BoardAction) -> bool:
        s = self._session
        kind = action.get("kind") if isinstance(action, dict) else None
        group = action.get("group") if isinstance(action, dict) else None
        try:
            if kind == "move":
                s.move(_text(action, "variable"), _text(action, "group"))
            elif kind == "new_group":
                variable = action.get("variable")
                family = _text(action, "family")
                if variable is None:
                    s.add_group(family)
                else:
                    s.add_group(family, [_text(action, "variable")])
            elif kind == "set_family":
                s.set_family(_text(action, "group"), _text(action, "family"))
            elif kind == "set_rowwise":
                rowwise = action.get("rowwise")
                if not isinstance(rowwise, bool):
                    raise TypeError("board action 'set_rowwise' needs a boolean 'rowwise'")
                s.set_rowwise(_text(action, "group"), rowwise)
            elif kind == "remove_group":
                s.remove_group(_text(action, "group"))
            else:
                raise ValueError(f"unknown board action {kind!r}")
        except _ERRORS as err:
            msg = _message(err)
            if kind in ("set_family", "set_rowwise") and isinstance(group, str):
                self.errors = {**self.errors, group: msg}
            else:
                self.notice_level = "error"
                self.notice = msg
            return False
        if isinstance(group, str) and group in self.errors:
            self.errors = {k: v for k, v in self.errors.items() if k != group}
        self.notice = ""
        return True


def _dims(session: Any, name: str, ndim: int) -> list[str | None]:
    """The model's dimension names of ``name`` (None where unnamed); [] when it has none.

    Read from ``session.model.named_vars_to_dims`` when the session has a PyMC model;
    a session without one (or a variable without dims) gives ``[]``.
    """
    table = getattr(getattr(session, "model", None), "named_vars_to_dims", None)
    if not isinstance(table, dict):
        return []
    dims = table.get(name)
    if not dims or len(dims) != ndim:
        return []
    out = [d if isinstance(d, str) and d else None for d in dims]
    return out if any(out) else []


def _group_detail(g: Any, shapes: dict[str, tuple[int, ...]]) -> dict[str, Any]:
    """A column's extras: whether it is (or may be made) row-wise and why not, custom."""
    rowwise = bool(getattr(g, "rowwise", False))
    custom = bool(getattr(g, "custom", False))
    rows = {shapes[n][0] if shapes.get(n) else None for n in g.variables}
    why = ""
    if g.id == "rest":
        why = "The rest group cannot be row-wise: put the variables in a group of their own."
    elif custom:
        why = "Built in Python: change it there."
    elif g.family == "empirical":
        why = "Empirical (particle) groups cannot be row-wise."
    elif not g.variables:
        why = "Drop variables with a batch dimension (a first axis of rows) here first."
    elif None in rows:
        scalars = [n for n in g.variables if not shapes.get(n)]
        why = f"Row-wise needs a batch dimension (a first axis); {', '.join(scalars)} has none."
    elif len(rows) > 1:
        why = "Row-wise needs the same number of rows (first-axis length) in every variable."
    return {
        "rowwise": rowwise,
        "rows": rows.pop() if len(rows) == 1 and None not in rows else None,
        "rowwise_ok": rowwise or not why,
        "rowwise_why": why,
        "custom": custom,
        "label": str(getattr(g, "label", "") or ""),
    }


def _is_flow(family: str) -> bool:
    return family not in {f["value"] for f in FAMILIES if f["value"] != "flow"}


def _text(action: Any, key: str) -> str:
    value = action.get(key)
    if not isinstance(value, str):
        raise TypeError(f"board action {action.get('kind')!r} needs a string {key!r}")
    return value


def _flow_steps(family: str) -> list[FlowStep]:
    """A flow family's steps, ``[{"name", "count"}]``, as the session's parser reads it.

    The session makes a formula canonical with the engine's parser
    (``canonical_family``: ``parse_formula`` then ``format_formula``), which writes each
    run of one flow as one token, ``name`` or ``name*N``, so the steps are read off the
    canonical tokens. ``[]`` for a PyMC family or a formula the parser refuses (a bad
    formula queued during a fit, checked when the fit ends).
    """
    try:
        canonical = canonical_family(family)
    except _ERRORS:
        return []
    if not is_flow_family(canonical):
        return []
    steps: list[FlowStep] = []
    for token in canonical.split("-"):
        name, _, count = token.partition("*")
        steps.append({"name": name, "count": int(count) if count else 1})
    return steps


def _column(group: GroupState, detail: dict[str, Any]) -> ColumnView:
    return {
        **detail,  # type: ignore[typeddict-item]
        "id": group["id"],
        "family": group["family"],
        "variables": list(group["variables"]),
        "pending_family": False,
        "removing": False,
        "pending_variables": [],
    }


def _plan_view(
    groups: list[GroupState], details: dict[str, Any], pending: list[BoardAction]
) -> PlanView:
    """The plan as it will be once the edits queued during a fit are applied.

    The board shows that, with the queued parts marked pending, so an edit made during
    a fit never looks rejected. The queue's own owner (the board) works it out, once,
    from the session's groups; the front end only draws the result.
    """
    cols = [_column(g, details.get(g["id"], {})) for g in groups]
    by_id = {c["id"]: c for c in cols}
    added: list[dict[str, Any]] = []

    def take(name: str) -> None:
        for c in [*cols, *added]:
            if name in c["variables"]:
                c["variables"].remove(name)
            if name in c["pending_variables"]:
                c["pending_variables"].remove(name)

    for a in pending:
        kind, target = a.get("kind"), by_id.get(str(a.get("group")))
        variable = a.get("variable")
        if kind == "move" and isinstance(variable, str) and target is not None:
            take(variable)
            target["variables"].append(variable)
            target["pending_variables"].append(variable)
        elif kind == "new_group":
            names = [variable] if isinstance(variable, str) else []
            for n in names:
                take(n)
            added.append(
                {"family": str(a.get("family")), "variables": names, "pending_variables": names}
            )
        elif kind == "set_family" and target is not None:
            target["family"] = str(a.get("family"))
            target["pending_family"] = True
        elif kind == "set_rowwise" and target is not None:
            target["rowwise"] = a.get("rowwise") is True
            target["pending_family"] = True
        elif kind == "remove_group" and target is not None:
            target["removing"] = True
    for c in cols:
        custom = bool(c.get("custom"))
        c["flow"] = not custom and _is_flow(c["family"])
        c["flow_steps"] = _flow_steps(c["family"]) if c["flow"] else []
    return {"groups": cols, "added": added}  # type: ignore[typeddict-item]


# ---------------------------------------------------------------- live reload
#: Every board made in this process, so a part file's change reaches the open views.
_LIVE: weakref.WeakSet[Board] = weakref.WeakSet()


def reload_parts() -> None:
    """Assemble the module and the stylesheet again and send them to every live board.

    What ``ANYWIDGET_HMR=1`` does on each change of a part file; callable by hand too.
    """
    esm, css = bundle_js(PARTS / "board.js"), bundle_css(PARTS / "index.css")
    Board._esm, Board._css = esm, css
    for board in list(_LIVE):
        with board.hold_sync():
            board._esm = esm  # the anywidget front end re-renders the view on _esm
            board._css = css


def _part_times() -> dict[str, float]:
    return {p.name: p.stat().st_mtime for p in PARTS.iterdir() if p.suffix in (".js", ".css")}


def _watch_parts(
    interval: float = 0.5, stop: threading.Event | None = None
) -> threading.Thread | None:
    """With ``ANYWIDGET_HMR=1`` (anywidget's live-reload switch), follow the part files.

    A daemon thread looks at the parts' modification times every ``interval`` seconds
    and calls :func:`reload_parts` after a change (no ``watchfiles`` needed). Only for
    a development install: never when the package sits in site-packages. ``stop``
    ends the thread (tests); by default it runs as long as the kernel.
    """
    if os.environ.get("ANYWIDGET_HMR") != "1" or "site-packages" in PARTS.parts:
        return None

    ended = stop or threading.Event()

    def watch() -> None:
        seen = _part_times()
        while not ended.wait(interval):
            now = _part_times()
            if now == seen:
                continue
            seen = now
            try:
                reload_parts()
            except Exception as err:  # a half-saved part: keep the last good module
                _log.warning("vibench board: live reload skipped: %s", err)

    thread = threading.Thread(target=watch, name="vibench-board-hmr", daemon=True)
    thread.start()
    return thread


_watch_parts()
