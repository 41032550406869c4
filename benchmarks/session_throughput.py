"""Session throughput vs plain PyMC: ``python benchmarks/session_throughput.py``.

For each demo model and family, side by side in one process and on the default
compile mode:

- **pm.fit**: ``pm.fit(n, method=inference, progressbar=False, obj_optimizer=adam)``
  once as a warm-up (compiles), then PyMC's own loop over the *same* compiled step
  (``inference.refine(n, progressbar=False)``, the loop ``pm.fit`` runs), timed.
- **Session**: ``Session.fit(n)`` once as a warm-up (compiles), then ``Session.fit(n)``
  again (same plan and settings: no compile), timed by wall clock around the call.

Compile time is excluded from both. Each pair is measured ``--repeats`` times,
alternating, and the best time of each is kept (shared machines are noisy). The ratio
is Session it/s over pm.fit it/s (>= 0.95 is the target).
"""

from __future__ import annotations

import argparse
import logging
import time

import pymc as pm
from pymc.variational.updates import adam

from vibench import models
from vibench.session import Session

__all__ = ["main"]

FAMILIES = {"mean_field": "advi", "full_rank": "fullrank_advi"}
LEARNING_RATE = 0.01


def _measure(model_name: str, family: str, n: int, repeats: int) -> tuple[float, float]:
    """Best seconds for ``n`` iterations: (pm.fit's loop, Session.fit), interleaved."""
    model = models.get_model(model_name)
    method = {"advi": pm.ADVI, "fullrank_advi": pm.FullRankADVI}[FAMILIES[family]]
    inference = method(model=model, random_seed=1)
    pm.fit(
        n,
        method=inference,
        model=model,
        progressbar=False,
        obj_optimizer=adam(learning_rate=LEARNING_RATE),
    )  # warm-up: compiles the step function

    session = Session(model_name)
    session.set_family("rest", family)
    session.fit(n, optimizer="adam", learning_rate=LEARNING_RATE, seed=1)  # warm-up

    plain, ours = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        inference.refine(n, progressbar=False)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        session.fit(n)
        ours.append(time.perf_counter() - t0)
    assert session.compile_count == 1
    return min(plain), min(ours)


def main(argv: list[str] | None = None) -> int:
    """Print a table of iterations per second and the Session / pm.fit ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", "-n", type=int, default=5_000)
    parser.add_argument("--repeats", "-r", type=int, default=7)
    parser.add_argument("--models", nargs="*", default=list(models.MODELS))
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    args = parser.parse_args(argv)
    logging.getLogger("pymc").setLevel(logging.WARNING)
    n = args.iterations
    header = f"{'model':<24}{'family':<12}{'pm.fit it/s':>13}{'Session it/s':>14}{'ratio':>8}"
    print(f"iterations per timing: {n}, best of {args.repeats}, default compile mode")
    print(header)
    print("-" * len(header))
    ratios = []
    for model_name in args.models:
        for family in args.families:
            plain, ours = _measure(model_name, family, n, args.repeats)
            ratio = plain / ours
            ratios.append(ratio)
            print(
                f"{model_name:<24}{family:<12}{n / plain:>13,.0f}{n / ours:>14,.0f}{ratio:>8.3f}"
            )
    print("-" * len(header))
    print(f"lowest ratio: {min(ratios):.3f} (target >= 0.95)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
