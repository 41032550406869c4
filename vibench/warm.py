"""Warm PyTensor's on-disk compile cache for the demo models.

``python -m vibench.warm`` fits every demo model for a couple of steps with the
families a class starts with (mean-field and full-rank for the whole model) and
draws a few samples, so the Numba kernels these need are compiled and cached
before anyone presses Fit. ``make lab`` runs it once per environment and Binder's
``postBuild`` runs it at build time; it is safe to run again (a warm cache makes it
quick) and never changes anything but the cache.
"""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["main", "warm"]

FAMILIES = ("mean_field", "full_rank")


def warm(model_names: list[str] | None = None, families: tuple[str, ...] = FAMILIES) -> None:
    """Compile and run a two-step fit and a small draw for each model and family.

    Parameters
    ----------
    model_names : list of str, optional
        Demo model names (see :data:`vibench.models.MODELS`); all of them by default.
    families : tuple of str
        Families given to the whole model (the rest group).
    """
    from vibench import models
    from vibench.session import Session

    for name in model_names or list(models.MODELS):
        for family in families:
            t0 = time.perf_counter()
            session = Session(name)
            session.set_family("rest", family)
            session.fit(2, seed=0)
            session.sample(draws=10, seed=0)
            print(f"vibench.warm: {name:<24} {family:<10} {time.perf_counter() - t0:6.1f} s")


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
