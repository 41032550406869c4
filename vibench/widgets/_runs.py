"""The table of runs (as plain data, or escaped HTML for static views) and its widget."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from vibench._smoothing import smoothed_at
from vibench.session import trace_label
from vibench.widgets._labels import KHAT_NOT_AVAILABLE, continued_from, khat_text, plan_label

__all__ = ["RunsTable", "run_rows", "runs_table_html", "runs_table_parts"]

_STATIC = Path(__file__).parent / "static"

_ELBO = "ELBO"


def _final_smoothed(elbo: np.ndarray, window: int = 100) -> float:
    """The last value of the plot's smoothed line (the status line's "smoothed" value)."""
    y = np.asarray(elbo, dtype=float)
    y = y[np.isfinite(y)]
    return smoothed_at(y, y.size, window)


def run_rows(
    runs: Sequence[Any],
    khats: dict[int, Any],
    *,
    hidden: Sequence[int] = (),
    pending: Sequence[int] = (),
    overlaid: Sequence[int] = (),
    overlayable: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """One plain dict per run: number, plan, status, final smoothed trace, k-hat, time.

    ``continues`` is the number of the earlier run a run continues (a Fit again without
    Reset), else ``None``.

    ``trace`` says what ``elbo`` holds: ``"ELBO"``, or for a particle (SVGD) run
    ``"mean log p of the particles"`` (not an ELBO, not comparable with one).
    ``khat`` is the k-hat as a float (``None`` when unknown, NaN when not available)
    and ``khat_text`` how the table shows it (``"n/a (particles)"`` for particle runs,
    ``"computing…"`` for a run in ``pending``). ``shown`` is false for the runs in
    ``hidden`` (``id(run)``: left out of the ELBO plot and the marginals); ``overlay``
    is true for the runs in ``overlaid`` (drawn over the marginals) and ``None`` for the
    runs not in ``overlayable`` (no draws kept: nothing to overlay; all when ``None``).
    """
    rows = []
    continues = continued_from(runs)
    for i, r in enumerate(runs, start=1):
        settings = getattr(r, "settings", None)
        window = int(getattr(settings, "window", 100) or 100)
        trace = trace_label(r.plan)
        k = khats.get(id(r))
        if trace != _ELBO and (k is None or not getattr(k, "available", True)):
            text = KHAT_NOT_AVAILABLE  # particles have no density: never a number
        elif k is None and id(r) in pending:
            text = "computing…"
        else:
            text = khat_text(k)
        rows.append(
            {
                "run": i,
                "continues": continues[i - 1],
                "plan": plan_label(r.plan),
                "status": str(r.status),
                "trace": trace,
                "elbo": _final_smoothed(r.elbo, window),
                "khat": None if k is None else float(getattr(k, "khat", k)),
                "khat_text": text,
                "seconds": float(r.seconds),
                "iterations": int(r.iterations),
                "shown": id(r) not in hidden,
                "overlay": (
                    None
                    if overlayable is not None and id(r) not in overlayable
                    else id(r) in overlaid
                ),
            }
        )
    return rows


def _num(x: float | None, fmt: str) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return format(x, fmt)


def _overlay_title(n: int, overlay: bool | None) -> str:
    if overlay is None:
        return f"Nothing to overlay: run {n} is the current q, or its draws were not kept"
    return f"Overlay run {n}'s marginals (in its ELBO-plot colour) on the current q"


def runs_table_parts(rows: list[dict[str, Any]], *, controls: bool = False) -> dict[str, Any]:
    """The table of :func:`run_rows` output as plain data: what every cell says.

    One source for both renderings: :func:`runs_table_html` (Python, escaped HTML, for
    static snapshots) and the board's ``runs.js``, which builds the DOM from this with
    ``textContent`` (names from a model are never parsed as HTML).

    Returns ``{"empty": text or None, "head": [{"text", "title"}], "rows": [{"hidden",
    "controls", "cells"}]}``; ``controls`` is ``{"run", "shown", "overlay",
    "overlay_title"}`` or ``None``; each cell is ``{"text", "cls", "title", "tag",
    "tag_cls"}`` (``tag``: a small labelled span after the text, or ``None``).

    The star marks the best final ELBO among ELBO runs only: a particle run's value (the
    mean log density of its particles) is labelled as such and never compared.
    """
    if not rows:
        return {"empty": "No runs yet: press Fit.", "head": [], "rows": []}
    elbo_rows = [r for r in rows if r.get("trace", _ELBO) == _ELBO]
    best = max((r["elbo"] for r in elbo_rows if math.isfinite(r["elbo"])), default=None)
    mixed = bool(elbo_rows) and len(elbo_rows) != len(rows)
    value_head = "final ELBO / mean log p (smoothed)" if mixed else "final ELBO (smoothed)"
    if not elbo_rows:
        value_head = "final mean log p of the particles (smoothed)"
    head = [{"text": "show", "title": "show in the plots · overlay in the marginals · remove"}]
    head = head if controls else []
    head += [
        {"text": t, "title": None}
        for t in ("#", "plan", "status", value_head, "k-hat", "time (s)", "iterations")
    ]

    def cell(text: str, cls: str | None = None, **more: Any) -> dict[str, Any]:
        return {"text": text, "cls": cls, "title": None, "tag": None, "tag_cls": None, **more}

    out = []
    for r in reversed(rows):
        trace = r.get("trace", _ELBO)
        value = _num(r["elbo"], ".2f")
        if trace == _ELBO:
            mark = " ★" if best is not None and r["elbo"] == best else ""
            value_cell = cell(value + mark, "vb-num")
        else:
            value_cell = cell(
                value,
                "vb-num vb-particle-value",
                title=f"{trace}: not an ELBO, not comparable with one",
                tag="mean log p" if mixed else None,
                tag_cls="vb-trace-kind" if mixed else None,
            )
        khat = r.get("khat_text")
        if khat is None:
            khat = _num(r["khat"], ".2f")
        cont = r.get("continues")
        n = int(r["run"])
        out.append(
            {
                "hidden": not r.get("shown", True),
                "controls": {
                    "run": n,
                    "shown": bool(r.get("shown", True)),
                    "overlay": r.get("overlay"),
                    "overlay_title": _overlay_title(n, r.get("overlay")),
                }
                if controls
                else None,
                "cells": [
                    cell(
                        str(r["run"]),
                        "vb-num",
                        tag=None if cont is None else f"(continues #{cont})",
                        tag_cls=None if cont is None else "vb-continues",
                    ),
                    cell(str(r["plan"])),
                    cell(str(r["status"])),
                    value_cell,
                    cell(str(khat), "vb-num"),
                    cell(_num(r["seconds"], ".2f"), "vb-num"),
                    cell(f"{r['iterations']:,}", "vb-num"),
                ],
            }
        )
    return {"empty": None, "head": head, "rows": out}


def _attr(name: str, value: str | None) -> str:
    return "" if value is None else f" {name}='{html.escape(value, quote=True)}'"


def _controls_html(c: dict[str, Any]) -> str:
    n = c["run"]
    checked = " checked" if c["shown"] else ""
    overlay = c["overlay"]
    state = " disabled" if overlay is None else (" checked" if overlay else "")
    return (
        f"<td class='vb-run-controls'><input type='checkbox' class='vb-run-show'"
        f" data-run='{n}'{checked} aria-label='show run {n} in the plots'"
        f" title='Show run {n} in the ELBO plot and the marginals'/>"
        f"<input type='checkbox' class='vb-run-overlay' data-run='{n}'{state}"
        f" aria-label='overlay run {n} in the marginals'{_attr('title', c['overlay_title'])}/>"
        f"<button type='button' class='vb-run-remove' data-run='{n}'"
        f" title='Remove run {n} from the table and the plots'"
        f" aria-label='remove run {n}'>✕</button></td>"
    )


def _cell_html(c: dict[str, Any]) -> str:
    text = html.escape(c["text"])
    if c["tag"] is not None:
        text += f" <span class='{c['tag_cls']}'>{html.escape(c['tag'])}</span>"
    return f"<td{_attr('class', c['cls'])}{_attr('title', c['title'])}>{text}</td>"


def runs_table_html(rows: list[dict[str, Any]], *, controls: bool = False) -> str:
    """An HTML table of :func:`run_rows` output (all text escaped), for static views.

    The same cells as :func:`runs_table_parts`. With ``controls`` each row starts with a
    *show* checkbox (``input.vb-run-show[data-run=n]``, checked when the run is shown in
    the ELBO plot and the marginals), an *overlay* checkbox (``input.vb-run-overlay``:
    its marginals drawn over the current ones) and a *remove* button
    (``button.vb-run-remove``, a cross): :class:`RunsTable` sends their clicks to Python.
    """
    parts = runs_table_parts(rows, controls=controls)
    if parts["empty"] is not None:
        return f"<p class='vb-empty-runs'>{html.escape(parts['empty'])}</p>"
    head = "".join(
        f"<th{_attr('title', h['title'])}>{html.escape(h['text'])}</th>" for h in parts["head"]
    )
    body = []
    for row in parts["rows"]:
        row_class = " class='vb-run-hidden'" if row["hidden"] else ""
        show = _controls_html(row["controls"]) if row["controls"] is not None else ""
        cells = "".join(_cell_html(c) for c in row["cells"])
        body.append(f"<tr{row_class}>{show}{cells}</tr>")
    return f"<table class='vb-runs-table'><tr>{head}</tr>{''.join(body)}</table>"


class RunsTable(anywidget.AnyWidget):
    """The Runs tab's table, with a show box, an overlay box and a remove button per run.

    :meth:`set_rows` takes :func:`run_rows` output. ``table`` (synced) holds
    :func:`runs_table_parts`, from which ``runs.js`` builds the DOM with text nodes only;
    ``value`` (not synced) is the same table as escaped HTML, for static snapshots. A
    click on a row's *show* box, *overlay* box or *remove* button is sent to Python as
    ``{"kind": "show", "run": n, "shown": bool}``, ``{"kind": "overlay", "run": n,
    "shown": bool}`` or ``{"kind": "remove", "run": n}`` (``n`` the run's number in the
    table, from 1) and handed to :attr:`on_action`; the focus stays on the control
    pressed when the table is redrawn.

    Examples
    --------
    >>> t = RunsTable()
    >>> t.set_rows([])
    >>> "No runs yet" in t.value, t.table["empty"]
    (True, 'No runs yet: press Fit.')
    """

    _esm = _STATIC / "runs.js"

    table = traitlets.Dict(
        {"empty": "No runs yet: press Fit.", "head": [], "rows": []},
        help="The table as plain data (runs_table_parts): text, never HTML.",
    ).tag(sync=True)
    value = traitlets.Unicode("", help="The same table as escaped HTML (not synced).")

    def __init__(self, on_action: Callable[[dict[str, Any]], None] | None = None, **kw: Any):
        super().__init__(**kw)
        #: Called with each message of the front end (``kind``, ``run``, ``shown``).
        self.on_action = on_action
        self.on_msg(self._on_front_end)

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        """Show :func:`run_rows` output (with the controls)."""
        self.value = runs_table_html(rows, controls=True)
        self.table = runs_table_parts(rows, controls=True)

    def _on_front_end(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("kind") not in (
            "show",
            "overlay",
            "remove",
        ):
            return
        run = content.get("run")
        if isinstance(run, bool) or not isinstance(run, int):
            return
        msg = {"kind": content["kind"], "run": run, "shown": bool(content.get("shown", True))}
        if self.on_action is not None:
            self.on_action(msg)
