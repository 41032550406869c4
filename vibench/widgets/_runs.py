"""The table of runs, as escaped HTML."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from vibench.session import trace_label
from vibench.widgets._labels import KHAT_NOT_AVAILABLE, continued_from, khat_text, plan_label

__all__ = ["run_rows", "runs_table_html"]

_ELBO = "ELBO"


def _final_smoothed(elbo: np.ndarray, window: int = 100) -> float:
    y = np.asarray(elbo, dtype=float)
    y = y[np.isfinite(y)]
    if y.size == 0:
        return math.nan
    return float(np.mean(y[-window:]))


def run_rows(runs: Sequence[Any], khats: dict[int, Any]) -> list[dict[str, Any]]:
    """One plain dict per run: number, plan, status, final smoothed trace, k-hat, time.

    ``continues`` is the number of the earlier run a run continues (a Fit again without
    Reset), else ``None``.

    ``trace`` says what ``elbo`` holds: ``"ELBO"``, or for a particle (SVGD) run
    ``"mean log p of the particles"`` (not an ELBO, not comparable with one).
    ``khat`` is the k-hat as a float (``None`` when unknown, NaN when not available)
    and ``khat_text`` how the table shows it (``"n/a (particles)"`` for particle runs).
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
            }
        )
    return rows


def _num(x: float | None, fmt: str) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return format(x, fmt)


def runs_table_html(rows: list[dict[str, Any]]) -> str:
    """An HTML table of :func:`run_rows` output (all text escaped).

    The star marks the best final ELBO among ELBO runs only: a particle run's value (the
    mean log density of its particles) is labelled as such and never compared.
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
        f"<tr><th>#</th><th>plan</th><th>status</th><th>{value_head}</th>"
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
        body.append(
            "<tr>"
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
