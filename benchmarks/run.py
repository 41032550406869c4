"""Run vibench's benchmarks (``make benchmark``), each in a fresh process.

``python benchmarks/run.py`` runs them all; ``python benchmarks/run.py session flows``
runs the named ones. Each prints its own table of figures; none asserts a speed.

- ``session``: Session.fit vs plain ``pm.fit`` iterations per second, per demo model
  and family (``session_throughput.py``).
- ``workbench``: the same with the workbench's live plots on (``workbench_throughput.py``).
- ``flows``: ELBO of mean-field vs flow stacks on banana and funnel targets, and the
  step throughput of a flow group vs mean-field (``flows_vs_mean_field.py``).
- ``instant``: click-to-first-point latency (empty and warm caches), re-plan latency,
  steady throughput vs plain ``pm.fit`` with the backend chosen, and live frame
  costs, per demo model and family (``instant_feedback.py``).
- ``realistic``: models written as users write them (mixture with LKJ, latent GP,
  radon, ``pm.Data``): first point, time to the fast backend, and Session / Workbench
  it/s against plain ``pm.fit`` in one process, interleaved (``realistic_models.py``).
- ``memory``: resident memory while one Session cycles plans (``plan_memory.py``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["BENCHMARKS", "main"]

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "session": "session_throughput.py",
    "workbench": "workbench_throughput.py",
    "flows": "flows_vs_mean_field.py",
    "instant": "instant_feedback.py",
    "realistic": "realistic_models.py",
    "memory": "plan_memory.py",
}


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (all by default); return the worst exit status."""
    names = list(argv if argv is not None else sys.argv[1:]) or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}")
        return 2
    worst = 0
    for name in names:
        print(f"\n=== {name} ({BENCHMARKS[name]}) ===", flush=True)
        result = subprocess.run([sys.executable, str(HERE / BENCHMARKS[name])], check=False)
        worst = max(worst, result.returncode)
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
