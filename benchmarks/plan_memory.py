"""Memory kept per plan: RSS while one Session cycles plans, each fitted once.

``python benchmarks/plan_memory.py`` (or ``make benchmark ARGS=memory``) cycles
mean-field, full-rank and a flow stack on eight schools, a new learning rate each
time (so every plan compiles afresh: the worst case), fits 2,000 iterations, waits
for the background builds, and prints the process's resident memory after each.
The last line gives the growth per plan change after the third (what PyTensor's
compiled C modules, Numba's kernels and the runs' approximations keep).
"""

from __future__ import annotations

import argparse
import gc
import logging
import warnings

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Print RSS per plan change; return 0."""
    import psutil

    from vibench.session import Session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=20)
    parser.add_argument("--model", default="eight_schools")
    args = parser.parse_args(argv)
    logging.getLogger("pymc").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*BLAS")
    families = ["mean_field", "full_rank", "scale-planar*2-loc"]
    process = psutil.Process()
    s = Session(args.model)
    rss = []
    print(f"{'plan':>4} {'family':<20} {'RSS MB':>7}")
    for i in range(args.plans):
        s.set_family("rest", families[i % len(families)])
        s.configure(learning_rate=0.01 + 0.0001 * i)
        s.fit(2_000, seed=i)
        for step in s._fitted.steps.values():
            step.built.wait(300)
        gc.collect()
        rss.append(process.memory_info().rss / 2**20)
        print(f"{i + 1:>4} {families[i % len(families)]:<20} {rss[-1]:>7.0f}", flush=True)
    if len(rss) > 3:
        per = (rss[-1] - rss[2]) / (len(rss) - 3)
        print(
            f"\n{rss[2]:.0f} MB after the 3rd plan, {rss[-1]:.0f} MB after the {len(rss)}th: "
            f"{per:.1f} MB per plan change"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
