"""Measure flow groups against mean-field: ELBO on banana/funnel, and step throughput.

Run with ``.venv/bin/python benchmarks/flows_vs_mean_field.py`` (or ``make benchmark``) (about two minutes on 2 cores;
``VIBENCH_SMOKE=1`` shrinks it). Prints one table; absolute speeds drift between
machines, ratios much less.
"""

from __future__ import annotations

import os
import time

import pymc as pm

from vibench import Approximation, Group
from vibench.engine import estimate_elbo

SMOKE = os.environ.get("VIBENCH_SMOKE") == "1"
STEPS = 200 if SMOKE else 2000
DRAWS = 2000 if SMOKE else 20000
FAST = {"mode": "FAST_COMPILE"}
FAMILIES = ["mf", "scale-loc", "scale-planar*4-loc", "scale-planar*8-loc", "scale-radial*4-loc"]


def banana() -> pm.Model:
    """x1 ~ N(0, 1), x2 ~ N(x1^2 - 1, 0.3): normalized, log Z = 0."""
    with pm.Model() as model:
        x1 = pm.Normal("x1", 0.0, 1.0)
        pm.Normal("x2", x1**2 - 1.0, 0.3)
    return model


def funnel() -> pm.Model:
    """Neal's funnel in 3-D, v ~ N(0, 1.5), x ~ N(0, exp(v / 2)): log Z = 0."""
    with pm.Model() as model:
        v = pm.Normal("v", 0.0, 1.5)
        pm.Normal("x", 0.0, pm.math.exp(v / 2), shape=2)
    return model


def fitted_elbo(make_model, family: str) -> tuple[float, float]:
    with make_model():
        approx = Approximation([Group(None, vfam=family, random_seed=1)], random_seed=2)
        pm.variational.KLqp(approx).fit(
            STEPS,
            progressbar=False,
            obj_optimizer=pm.variational.adam(learning_rate=0.03),
            obj_n_mc=8,
            compile_kwargs=FAST,
        )
    return estimate_elbo(approx, DRAWS, random_seed=0)


def steps_per_second(make_model, family: str, compile_kwargs: dict | None) -> float:
    with make_model():
        approx = Approximation([Group(None, vfam=family, random_seed=1)], random_seed=2)
        step = pm.variational.KLqp(approx).objective.step_function(
            score=True,
            obj_optimizer=pm.variational.adam(learning_rate=0.01),
            compile_kwargs=compile_kwargs,
        )
    step()  # the JIT happens on the first call
    n = 500 if SMOKE else 5000
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            step()
        best = max(best, n / (time.perf_counter() - start))
    return best


def main() -> None:
    print(f"ELBO after {STEPS} Adam steps (lr 0.03, 8 draws per step), {DRAWS} draws each")
    print(f"{'target':8} {'family':22} {'ELBO':>9} {'+-':>6}")
    for name, make_model in (("banana", banana), ("funnel", funnel)):
        for family in FAMILIES:
            elbo, err = fitted_elbo(make_model, family)
            print(f"{name:8} {family:22} {elbo:9.3f} {err:6.3f}", flush=True)
    print()
    print("step throughput on the banana (obj_n_mc=1, best of 3 x 5000 steps)")
    for label, kwargs in (("numba (default)", None), ("FAST_COMPILE", FAST)):
        mf = steps_per_second(banana, "mf", kwargs)
        flow = steps_per_second(banana, "scale-planar*4-loc", kwargs)
        print(
            f"{label:16} mf {mf:8.0f} steps/s   scale-planar*4-loc {flow:8.0f} steps/s   "
            f"ratio {flow / mf:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
