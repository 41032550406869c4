"""The table of runs, as escaped HTML, and the widget that shows it with a control per run."""

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

__all__ = ["RunsTable", "run_rows", "runs_table_html"]

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


def _overlay_box(n: int, overlay: bool | None) -> str:
    """The *overlay in the marginals* box of run ``n`` (disabled without kept draws)."""
    if overlay is None:
        state = " disabled"
        title = f"Nothing to overlay: run {n} is the current q, or its draws were not kept"
    else:
        state = " checked" if overlay else ""
        title = f"Overlay run {n}'s marginals (in its ELBO-plot colour) on the current q"
    return (
        f"<input type='checkbox' class='vb-run-overlay' data-run='{n}'{state}"
        f" aria-label='overlay run {n} in the marginals' title='{html.escape(title)}'/>"
    )


def runs_table_html(rows: list[dict[str, Any]], *, controls: bool = False) -> str:
    """An HTML table of :func:`run_rows` output (all text escaped).

    The star marks the best final ELBO among ELBO runs only: a particle run's value (the
    mean log density of its particles) is labelled as such and never compared.

    With ``controls`` each row starts with a *show* checkbox
    (``input.vb-run-show[data-run=n]``, checked when the run is shown in the ELBO plot
    and the marginals), an *overlay* checkbox (``input.vb-run-overlay``: its marginals
    drawn over the current ones) and a *remove* button (``button.vb-run-remove``, a
    cross): :class:`RunsTable` sends their clicks to Python.
    """
    if not rows:
        return "<p class='vb-empty-runs'>No runs yet: press Fit.</p>"
    elbo_rows = [r for r in rows if r.get("trace", _ELBO) == _ELBO]
    best = max((r["elbo"] for r in elbo_rows if math.isfinite(r["elbo"])), default=None)
    mixed = bool(elbo_rows) and len(elbo_rows) != len(rows)
    value_head = "final ELBO / mean log p (smoothed)" if mixed else "final ELBO (smoothed)"
    if not elbo_rows:
        value_head = "final mean log p of the particles (smoothed)"
    head = (
        (
            "<tr><th title='show in the plots · overlay in the marginals · remove'>show</th>"
            if controls
            else "<tr>"
        )
        + f"<th>#</th><th>plan</th><th>status</th><th>{value_head}</th>"
        "<th>k-hat</th><th>time (s)</th><th>iterations</th></tr>"
    )
    body = []
    for r in reversed(rows):
        trace = r.get("trace", _ELBO)
        value = _num(r["elbo"], ".2f")
        if trace == _ELBO:
            mark = " ★" if best is not None and r["elbo"] == best else ""
            cell = f"<td class='vb-num'>{value}{mark}</td>"
        else:
            title = html.escape(f"{trace}: not an ELBO, not comparable with one", quote=True)
            kind = " <span class='vb-trace-kind'>mean log p</span>" if mixed else ""
            cell = f"<td class='vb-num vb-particle-value' title='{title}'>{value}{kind}</td>"
        khat = r.get("khat_text")
        if khat is None:
            khat = _num(r["khat"], ".2f")
        cont = r.get("continues")
        number = str(r["run"])
        if cont is not None:
            number += f" <span class='vb-continues'>(continues #{cont})</span>"
        show = ""
        if controls:
            n = int(r["run"])
            checked = " checked" if r.get("shown", True) else ""
            show = (
                f"<td class='vb-run-controls'><input type='checkbox' class='vb-run-show'"
                f" data-run='{n}'{checked} aria-label='show run {n} in the plots'"
                f" title='Show run {n} in the ELBO plot and the marginals'/>"
                f"{_overlay_box(n, r.get('overlay'))}"
                f"<button type='button' class='vb-run-remove' data-run='{n}'"
                f" title='Remove run {n} from the table and the plots'"
                f" aria-label='remove run {n}'>✕</button></td>"
            )
        row_class = "" if r.get("shown", True) else " class='vb-run-hidden'"
        body.append(
            f"<tr{row_class}>"
            f"{show}"
            f"<td class='vb-num'>{number}</td>"
            f"<td>{html.escape(r['plan'])}</td>"
            f"<td>{html.escape(r['status'])}</td>"
            f"{cell}"
            f"<td class='vb-num'>{html.escape(khat)}</td>"
            f"<td class='vb-num'>{_num(r['seconds'], '.2f')}</td>"
            f"<td class='vb-num'>{r['iterations']:,}</td>"
            "</tr>"
        )
    return f"<table class='vb-runs-table'>{head}{''.join(body)}</table>"


class RunsTable(anywidget.AnyWidget):
    """The Runs tab's table: :func:`runs_table_html` with a show box and a remove button.

    ``value`` is the table's HTML (escaped by :func:`runs_table_html`). A click on a
    row's *show* box, *overlay* box or *remove* button is sent to Python as ``{"kind":
    "show", "run": n, "shown": bool}``, ``{"kind": "overlay", "run": n, "shown": bool}``
    or ``{"kind": "remove", "run": n}`` (``n`` the run's number in the table, from 1) and handed to :attr:`on_action`; the focus stays on the control
    pressed when the table is redrawn.

    Examples
    --------
    >>> t = RunsTable(value=runs_table_html([]))
    >>> "No runs yet" in t.value
    True
    """

    _esm = _STATIC / "runs.js"

    value = traitlets.Unicode("", help="The table as HTML (escaped text).").tag(sync=True)

    def __init__(self, on_action: Callable[[dict[str, Any]], None] | None = None, **kw: Any):
        super().__init__(**kw)
        #: Called with each message of the front end (``kind``, ``run``, ``shown``).
        self.on_action = on_action
        self.on_msg(self._on_front_end)

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
