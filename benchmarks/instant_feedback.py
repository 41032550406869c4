"""Instant feedback: first-point latency, re-plan latency, throughput and frame costs.

``python benchmarks/instant_feedback.py`` (or ``make benchmark ARGS=instant``) prints,
for each demo model and family (mean-field, full-rank, a flow stack):

- **cold**: seconds from pressing Fit on a new ``Workbench`` to the first ELBO point,
  in a fresh process whose PyTensor compile directory and vibench cache are empty
  (a fresh machine or Binder image that was never warmed);
- **warm**: the same in a fresh process with the machine's caches (after this
  script has fitted the same model and family once);
- **re-plan**: in a running workbench that has fitted the model with mean-field,
  change the plan (the family of every variable; for the mean-field row, move the
  first variable into a new full-rank group) and press Fit: seconds to the first point;
- **pm.fit it/s**: plain PyMC, ``pm.fit(..., progressbar=False)`` with its defaults
  (method ``advi`` / ``fullrank_advi``, or ``KLqp`` on a vibench flow approximation),
  steady iterations per second through PyMC's own loop (``inference.refine``) after
  a warm-up fit that compiled it, in a fresh process;
- **wb it/s** and **backend**: the workbench's session with plots off, after it has
  measured its backends and chosen one, steady iterations per second; ratio = wb /
  pm.fit (each the median of ``--repeats`` fits of about ``--seconds`` seconds);
- **live it/s**: the same through a ``Workbench`` with live plots on (the Fit
  button's path: worker thread, progress events, ELBO and marginal frames; fits of
  about three times ``--seconds``, so the first frame's axes redraw weighs as in a
  typical fit), and its ratio to plots off;
- **elbo ms / marg ms**: median kernel time of one live ELBO frame and one live
  marginals frame during those fits (``Workbench.frame_costs``; the first frame of a
  fit also draws the axes and costs several times more, which the frame budget's
  grace absorbs); **marg/s**: live marginal frames per second of fitting.

The first-point figures are the time from the click to the end of the first
optimisation step as the session records it (``run.first_step_seconds``, counted
from the start of ``Workbench.fit``). Nothing here asserts a speed: shared machines
are noisy, so read ratios and orders of magnitude.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

__all__ = ["main"]

MODELS = (
    "eight_schools",
    "correlated_regression",
    "funnel",
    "banana",
    "hierarchical_logistic",
)
FLOW = "scale-planar*2-loc"
FAMILIES = ("mean_field", "full_rank", FLOW)
SETTLE_SECONDS = 240.0


def _quiet() -> None:
    logging.getLogger("pymc").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*BLAS")


# --------------------------------------------------------------------------- probes
def _first_point(model: str, family: str) -> float:
    """In this process: a new Workbench, press Fit, seconds to the first point."""
    from vibench.widgets import Workbench

    wb = Workbench(model)
    wb.session.set_family("rest", family)
    wb.iterations.value = 10**7
    t_click = time.perf_counter()
    run = wb.fit()
    deadline = time.perf_counter() + 600
    while run.iterations == 0 and wb.session.running and time.perf_counter() < deadline:
        time.sleep(0.01)
    wb.stop()
    wb.wait()
    return run._t_begin + run.first_step_seconds - t_click


def _first_point_in_fresh_process(model: str, family: str, cold: bool) -> float:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="vibench-bench-") as tmp:
        if cold:
            env["PYTENSOR_FLAGS"] = f"base_compiledir={tmp}/pytensor"
            env["VIBENCH_CACHE_DIR"] = f"{tmp}/vibench"
        out = subprocess.run(
            [sys.executable, __file__, "--probe-first-point", model, family],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["first_point"])


# --------------------------------------------------------------------------- in-process
def _settled_session(model: str, family: str):
    from vibench.session import Session

    s = Session(model)
    s.set_family("rest", family)
    s.fit(20, seed=0)
    (step,) = s._fitted.steps.values()
    t0 = time.perf_counter()
    while not step.settled.is_set() and time.perf_counter() - t0 < SETTLE_SECONDS:
        s.fit(2_000)
    return s, step


def _session_fitter(model: str, family: str, seconds: float):
    """A settled session; returns (fit_once -> it/s, backend)."""
    s, step = _settled_session(model, family)
    n = max(int(step.rates.get(step.backend, 1_000) * seconds), 1_000)

    def once() -> float:
        run = s.fit(n)
        return run.iterations / run.seconds

    return once, step.backend


def _pmfit_fitter(model: str, family: str, seconds: float):
    """Plain ``pm.fit`` with its defaults, compiled by a warm-up fit; returns fit_once."""
    import pymc as pm

    import vibench
    from vibench import models

    m = models.get_model(model)
    if family == "mean_field":
        inference = pm.ADVI(model=m)
    elif family == "full_rank":
        inference = pm.FullRankADVI(model=m)
    else:
        with m:
            approx = vibench.Approximation([vibench.Group(None, vfam=family)])
        inference = pm.KLqp(approx)
    pm.fit(500, method=inference, model=m, progressbar=False)
    t0 = time.perf_counter()
    inference.refine(500, progressbar=False)
    n = max(int(500 / (time.perf_counter() - t0) * seconds), 1_000)

    def once() -> float:
        t0 = time.perf_counter()
        inference.refine(n, progressbar=False)
        return n / (time.perf_counter() - t0)

    return once


def _pmfit_rate_in_fresh_process(model: str, family: str, seconds: float, repeats: int) -> float:
    """Median steady it/s of plain ``pm.fit``, measured in a process of its own.

    In the benchmark's own process, after workbenches with threads and figures, the
    plain loop measured 2-20x slower or faster from run to run; a fresh process gives
    the figure a user of plain PyMC sees.
    """
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--probe-pmfit",
            model,
            family,
            str(seconds),
            str(repeats),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["pmfit"])


def _live_rate(model: str, family: str, seconds: float, repeats: int):
    """Workbench with live plots: it/s, ELBO and marginals frame ms, marginal frames/s."""
    from vibench.widgets import Workbench

    wb = Workbench(model)
    wb.session.set_family("rest", family)
    wb.iterations.value = 20
    wb.fit()
    wb.wait()
    (step,) = wb.session._fitted.steps.values()
    t0 = time.perf_counter()
    wb.iterations.value = 2_000
    while not step.settled.is_set() and time.perf_counter() - t0 < SETTLE_SECONDS:
        wb.fit()
        wb.wait()
    wb._starter.join(60)  # the live draws are compiled
    wb.iterations.value = max(int(step.rates.get(step.backend, 1_000) * seconds), 1_000)
    rates, elbo_ms, marg_ms, marg_fps = [], [], [], []
    for _ in range(repeats):
        run = wb.fit()
        wb.wait()
        rates.append(run.iterations / run.seconds)
        marg_fps.append(wb.frames["marginals"] / run.seconds)
        elbo_ms += [1000 * c for c in wb.frame_costs["elbo"]]
        marg_ms += [1000 * c for c in wb.frame_costs["marginals"]]
    wb.close()

    def typical(costs: list[float]) -> float:
        return statistics.median(costs) if costs else float("nan")

    return (
        statistics.median(rates),
        typical(elbo_ms),
        typical(marg_ms),
        statistics.median(marg_fps),
    )


def _replan(model: str, family: str) -> float:
    from vibench.widgets import Workbench

    wb = Workbench(model, live_plots=True)
    wb.iterations.value = 300
    wb.fit()
    wb.wait()
    if family == "mean_field":
        first = wb.session.variables[0].name
        wb.session.add_group("full_rank", [first])
    else:
        wb.session.set_family("rest", family)
    wb.iterations.value = 10**7
    t_click = time.perf_counter()
    run = wb.fit()
    while run.iterations == 0 and wb.session.running:
        time.sleep(0.01)
    wb.stop()
    wb.wait()
    # let the background builds of the new plan end: a compile thread still running
    # would steal the interpreter from the throughput measurements that follow
    for step in wb.session._fitted.steps.values():
        step.close()
        step.built.wait(600)
    wb.close()
    return run._t_begin + run.first_step_seconds - t_click


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Print the table; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="length of each timed fit (live: three times)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-cold", action="store_true", help="skip the empty-cache runs")
    parser.add_argument("--probe-first-point", nargs=2, metavar=("MODEL", "FAMILY"))
    parser.add_argument("--probe-pmfit", nargs=4, metavar=("MODEL", "FAMILY", "S", "R"))
    args = parser.parse_args(argv)
    _quiet()
    if args.probe_pmfit:
        model, family, seconds, repeats = args.probe_pmfit
        once = _pmfit_fitter(model, family, float(seconds))
        rate = statistics.median(once() for _ in range(int(repeats)))
        print(json.dumps({"pmfit": rate}), flush=True)
        return 0
    if args.probe_first_point:
        value = _first_point(*args.probe_first_point)
        print(json.dumps({"first_point": value}), flush=True)
        return 0
    header = (
        f"{'model':<22} {'family':<19} {'cold s':>6} {'warm s':>6} {'replan s':>8} "
        f"{'pm.fit it/s':>11} {'wb it/s':>8} {'ratio':>5} {'backend':>7} "
        f"{'live it/s':>9} {'live/wb':>7} {'elbo ms':>7} {'marg ms':>7} {'marg/s':>6}"
    )
    print(header)
    print("-" * len(header), flush=True)
    ratios, live_ratios = [], []
    for model in args.models:
        for family in args.families:
            cold = (
                float("nan")
                if args.no_cold
                else _first_point_in_fresh_process(model, family, cold=True)
            )
            wb_once, backend = _session_fitter(model, family, args.seconds)
            warm = _first_point_in_fresh_process(model, family, cold=False)
            replan = _replan(model, family)
            plain = _pmfit_rate_in_fresh_process(model, family, args.seconds, args.repeats)
            wb_rate = statistics.median(wb_once() for _ in range(args.repeats))
            live, elbo_ms, marg_ms, marg_fps = _live_rate(
                model, family, 3 * args.seconds, args.repeats
            )
            ratios.append(wb_rate / plain)
            live_ratios.append(live / wb_rate)
            print(
                f"{model:<22} {family:<19} {cold:>6.2f} {warm:>6.2f} {replan:>8.2f} "
                f"{plain:>11,.0f} {wb_rate:>8,.0f} {wb_rate / plain:>5.2f} {backend:>7} "
                f"{live:>9,.0f} {live / wb_rate:>7.2f} {elbo_ms:>7.1f} {marg_ms:>7.1f}"
                f" {marg_fps:>6.1f}",
                flush=True,
            )
    print(
        f"\nwb/pm.fit ratio: median {statistics.median(ratios):.2f}, min {min(ratios):.2f}; "
        f"live plots keep {statistics.median(live_ratios):.0%} of plots-off speed "
        f"(min {min(live_ratios):.0%})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
