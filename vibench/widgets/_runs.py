"""The table of runs, as escaped HTML."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from vibench.widgets._labels import plan_label

__all__ = ["run_rows", "runs_table_html"]


def _final_smoothed(elbo: np.ndarray, window: int = 100) -> float:
    y = np.asarray(elbo, dtype=float)
    y = y[np.isfinite(y)]
    if y.size == 0:
        return math.nan
    return float(np.mean(y[-window:]))


def run_rows(runs: Sequence[Any], khats: dict[int, float | None]) -> list[dict[str, Any]]:
    """One plain dict per run: number, plan, status, final smoothed ELBO, k-hat, time."""
    rows = []
    for i, r in enumerate(runs, start=1):
        settings = getattr(r, "settings", None)
        window = int(getattr(settings, "window", 100) or 100)
        rows.append(
            {
                "run": i,
                "plan": plan_label(r.plan),
                "status": str(r.status),
                "elbo": _final_smoothed(r.elbo, window),
                "khat": khats.get(id(r)),
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
    """An HTML table of :func:`run_rows` output (all text escaped)."""
    if not rows:
        return "<p class='vb-empty-runs'>No runs yet: press Fit.</p>"
    best = max((r["elbo"] for r in rows if math.isfinite(r["elbo"])), default=None)
    head = (
        "<tr><th>#</th><th>plan</th><th>status</th><th>final ELBO (smoothed)</th>"
        "<th>k-hat</th><th>time (s)</th><th>iterations</th></tr>"
    )
    body = []
    for r in reversed(rows):
        mark = " ★" if best is not None and r["elbo"] == best else ""
        body.append(
            "<tr>"
            f"<td class='vb-num'>{r['run']}</td>"
            f"<td>{html.escape(r['plan'])}</td>"
            f"<td>{html.escape(r['status'])}</td>"
            f"<td class='vb-num'>{_num(r['elbo'], '.2f')}{mark}</td>"
            f"<td class='vb-num'>{_num(r['khat'], '.2f')}</td>"
            f"<td class='vb-num'>{_num(r['seconds'], '.2f')}</td>"
            f"<td class='vb-num'>{r['iterations']:,}</td>"
            "</tr>"
        )
    return f"<table class='vb-runs-table'>{head}{''.join(body)}</table>"
