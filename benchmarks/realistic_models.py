"""Realistic models: vibench against plain ``pm.fit`` in one process, interleaved.

``python benchmarks/realistic_models.py`` (or ``make benchmark ARGS=realistic``)
fits the models of :data:`vibench.models.REALISTIC_MODELS` (a mixture with an
``ordered`` mean and an LKJ prior, a latent GP, a radon-style model with 85 counties,
a ``pm.Data`` regression with Deterministics), written as users write them, and
prints per model and family:

- **first s**: seconds from pressing Fit on a new ``Workbench`` to the first ELBO
  point, in a fresh process with this machine's (warm) caches;
- **pm.fit it/s**: plain PyMC (``pm.ADVI`` / ``pm.FullRankADVI`` with PyMC's
  defaults), steady iterations per second through PyMC's own loop
  (``inference.refine``) after a warm-up fit that compiled it;
- **vb it/s**: ``Session.fit`` with plots off, after the session has measured its
  backends and chosen one (**backend**); **ratio** = vb / pm.fit. Both sides run in
  this one process, alternating, ``--repeats`` times each; the figures are medians;
- **live it/s**: the same through a ``Workbench`` with live plots on (the Fit button's
  path), and **live/pm** its ratio to plain ``pm.fit``;
- **to fast s**: seconds from the click until the session stepped on its final
  backend, in a session that had to measure the backends (no remembered choice).

Nothing asserts a speed (shared machines are noisy): read ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import instant_feedback as _instant  # the shared probes

__all__ = ["main"]

FAMILIES = ("mean_field", "full_rank")


def _to_fast_backend(model: str, family: str) -> tuple[float, str]:
    """Seconds from Fit until the session settled on its backend, with no memory."""
    import os

    from vibench.session import Session

    with tempfile.TemporaryDirectory(prefix="vibench-bench-") as tmp:
        old = os.environ.get("VIBENCH_CACHE_DIR")
        os.environ["VIBENCH_CACHE_DIR"] = tmp
        try:
            s = Session(model)
            s.set_family("rest", family)
            t0 = time.perf_counter()
            s.start(10**7, seed=0)
            step = None
            while s.running and time.perf_counter() - t0 < _instant.SETTLE_SECONDS:
                fitted = s._fitted
                if fitted is not None and fitted.steps:
                    (step,) = fitted.steps.values()
                    if step.settled.is_set():
                        break
                time.sleep(0.05)
            took = time.perf_counter() - t0
            s.stop()
            s.wait()
        finally:
            if old is None:
                os.environ.pop("VIBENCH_CACHE_DIR", None)
            else:
                os.environ["VIBENCH_CACHE_DIR"] = old
    backend = step.backend if step is not None else "?"
    return took, backend


def main(argv: list[str] | None = None) -> int:
    """Print the table; return 0."""
    from vibench.models import REALISTIC_MODELS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(REALISTIC_MODELS))
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each timed fit")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-live", action="store_true", help="skip the Workbench rows")
    args = parser.parse_args(argv)
    _instant._quiet()
    header = (
        f"{'model':<16} {'family':<11} {'first s':>7} {'to fast s':>9} {'pm.fit it/s':>11} "
        f"{'vb it/s':>8} {'ratio':>5} {'backend':>7} {'live it/s':>9} {'live/pm':>7}"
    )
    print(header)
    print("-" * len(header), flush=True)
    ratios, live_ratios = [], []
    for model in args.models:
        for family in args.families:
            to_fast, _ = _to_fast_backend(model, family)
            vb_once, backend = _instant._session_fitter(model, family, args.seconds)
            pm_once = _instant._pmfit_fitter(model, family, args.seconds)
            vb, pm = [], []
            for _ in range(args.repeats):  # interleaved, in this one process
                pm.append(pm_once())
                vb.append(vb_once())
            vb_rate, pm_rate = statistics.median(vb), statistics.median(pm)
            first = _instant._first_point_in_fresh_process(model, family, cold=False)
            live = float("nan")
            if not args.no_live:
                live = _instant._live_rate(model, family, args.seconds, args.repeats)[0]
                live_ratios.append(live / pm_rate)
            ratios.append(vb_rate / pm_rate)
            print(
                f"{model:<16} {family:<11} {first:>7.2f} {to_fast:>9.1f} {pm_rate:>11,.0f} "
                f"{vb_rate:>8,.0f} {vb_rate / pm_rate:>5.2f} {backend:>7} {live:>9,.0f} "
                f"{live / pm_rate:>7.2f}",
                flush=True,
            )
    summary = f"\nvb/pm.fit ratio: median {statistics.median(ratios):.2f}, min {min(ratios):.2f}"
    if live_ratios:
        summary += f"; live/pm.fit: median {statistics.median(live_ratios):.2f}, "
        summary += f"min {min(live_ratios):.2f}"
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
