"""Warm PyTensor's on-disk compile cache for the demo models.

``python -m vibench.warm`` fits every demo model with the families a class starts
with (mean-field and full-rank for the whole model) until the session has built,
measured and chosen its fastest backend (C or Numba), and draws a few samples. The
compiled kernels land in PyTensor's on-disk cache and the backend choices in
vibench's (``~/.cache/vibench/backends.json``), so nobody waits for a compiler in
class. ``make lab`` runs it once per environment and Binder's ``postBuild`` runs it
at build time; it is safe to run again (a warm cache makes it quick) and never
changes anything but the caches.
"""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["main", "warm"]

FAMILIES = ("mean_field", "full_rank")


def warm(
    model_names: list[str] | None = None,
    families: tuple[str, ...] = FAMILIES,
    timeout: float = 300.0,
) -> None:
    """Fit each model and family until its backend is chosen, and draw a few samples.

    Parameters
    ----------
    model_names : list of str, optional
        Demo model names (see :data:`vibench.models.MODELS`); all of them by default.
    families : tuple of str
        Families given to the whole model (the rest group).
    timeout : float
        Seconds per model and family after which fitting stops even if the backend
        choice is not made yet (the caches are warm by then anyway).
    """
    from vibench import models
    from vibench.session import Session

    for name in model_names or list(models.MODELS):
        for family in families:
            t0 = time.perf_counter()
            session = Session(name)
            session.set_family("rest", family)
            session.fit(2, seed=0)
            (step,) = session._fitted.steps.values()
            while not step.settled.is_set() and time.perf_counter() - t0 < timeout:
                session.fit(2_000)  # steps until every backend is built and measured
            session.draws(10, seed=0)
            session.sample(draws=10, seed=0)
            rates = ", ".join(f"{k} {v:,.0f} it/s" for k, v in step.rates.items())
            print(
                f"vibench.warm: {name:<24} {family:<10} {time.perf_counter() - t0:6.1f} s"
                f"  backend {step.backend} ({rates})",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m vibench.warm", description=__doc__.split("\n")[0]
    )
    parser.add_argument("models", nargs="*", help="demo model names (default: all)")
    args = parser.parse_args(argv)
    from vibench.models import MODELS

    unknown = [name for name in args.models if name not in MODELS]
    if unknown:
        parser.error(f"unknown demo model(s) {unknown}; choose from {sorted(MODELS)}")
    warm(args.models or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
